"""Command line: run the whole pipeline on the offline default.

`python -m funreason_assets.cli run` materializes every asset for every shard into the Dagster
instance at `$DAGSTER_HOME` (so the runs show in the UI), using the in-process executor.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

import dagster as dg

logger = logging.getLogger("funreason_assets")


def _check_summary(result: dg.ExecuteInProcessResult) -> tuple[list[str], list[str]]:
    failed, warned = [], []
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        (warned if evaluation.severity == dg.AssetCheckSeverity.WARN else failed).append(name)
    return failed, warned


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    return {
        stat.step_key: round((stat.end_time or 0) - (stat.start_time or 0), 2)
        for stat in instance.get_run_step_stats(run_id)
    }


def run_pipeline(
    shards: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
    export: bool = True,
) -> dict[str, object]:
    """Materialize the pipeline: every shard, then curation, exports and the report.

    Args:
        shards: Partition keys to run (all shards when None).
        instance: The Dagster instance to record runs in (`DagsterInstance.get()` when None).
        definitions: The code location (loaded from `funreason_assets.definitions` when None).
        export: Also run `export_dataset` after the shards.

    Returns:
        A summary: per run, status, wall seconds, seconds per asset, warnings.

    Raises:
        RuntimeError: If a run fails or a check with ERROR severity fails.
    """
    if definitions is None:
        from funreason_assets.definitions import defs

        definitions = defs()
    instance = instance or dg.DagsterInstance.get()
    job = definitions.resolve_job_def("generate_dataset")
    partitions = job.partitions_def
    assert partitions is not None
    keys = list(shards) if shards else list(partitions.get_partition_keys())
    asset_graph = definitions.get_repository_def().asset_graph
    shard_assets = sorted(
        key for key in job.asset_layer.selected_asset_keys
        if asset_graph.get(key).partitions_def is not None
    )
    runs: list[dict[str, object]] = []
    summary: dict[str, object] = {"runs": runs}
    plan: list[tuple[str, dg.JobDefinition, str | None, list[dg.AssetKey] | None]] = [
        (shard, job, shard, None if index == 0 else shard_assets)
        for index, shard in enumerate(keys)
    ]
    if export:
        plan.append(("export", definitions.resolve_job_def("export_dataset"), None, None))
    for name, run_job, partition, selection in plan:
        started = time.perf_counter()
        result = run_job.execute_in_process(
            partition_key=partition,
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
        )
        failed_checks, warnings = _check_summary(result)
        entry = {
            "run": name,
            "success": result.success,
            "seconds": round(time.perf_counter() - started, 2),
            "seconds_per_asset": _step_seconds(instance, result.run_id),
            "checks_evaluated": len(result.get_asset_check_evaluations()),
            "warnings": warnings,
            "failed_checks": failed_checks,
            "run_id": result.run_id,
        }
        runs.append(entry)
        logger.info("%s: %s", name, entry)
        if not result.success or failed_checks:
            raise RuntimeError(f"pipeline run {name} failed: {json.dumps(entry)}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m funreason_assets.cli`."""
    parser = argparse.ArgumentParser(prog="funreason_assets")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the whole pipeline (offline default)")
    run.add_argument("--shard", action="append", help="only these shard keys (repeatable)")
    run.add_argument("--no-export", action="store_true", help="skip curation and exports")
    lineage = commands.add_parser("lineage", help="print the story of one exported dialogue")
    lineage.add_argument("id", help="a dialogue id (dialogue-...) or a BFCL entry id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "run":
        summary = run_pipeline(args.shard, export=not args.no_export)
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    elif args.command == "lineage":
        from funreason_assets.lineage import LineageError, dialogue_story

        try:
            sys.stdout.write(dialogue_story(args.id) + "\n")
        except LineageError as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
