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


def run_pipeline(
    shards: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
) -> dict[str, object]:
    """Materialize the pipeline: every asset on the first shard, the shard assets on the rest.

    Args:
        shards: Partition keys to run (all shards when None).
        instance: The Dagster instance to record runs in (`DagsterInstance.get()` when None).
        definitions: The code location (loaded from `funreason_assets.definitions` when None).

    Returns:
        A summary: per-run status and wall seconds, and failed checks if any.

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
    repository = definitions.get_repository_def()
    asset_graph = repository.asset_graph
    shard_assets = {
        key for key in asset_graph.get_all_asset_keys()
        if asset_graph.get(key).partitions_def is not None
    }
    summary: dict[str, object] = {"runs": []}
    for index, shard in enumerate(keys):
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=shard,
            instance=instance,
            asset_selection=None if index == 0 else sorted(shard_assets),
            raise_on_error=False,
        )
        failed_checks = [
            f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        ]
        warnings = [
            f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
        ]
        entry = {
            "shard": shard,
            "checks_evaluated": len(result.get_asset_check_evaluations()),
            "warnings": warnings,
            "success": result.success,
            "seconds": round(time.perf_counter() - started, 2),
            "failed_checks": failed_checks,
            "run_id": result.run_id,
        }
        summary["runs"].append(entry)  # type: ignore[union-attr]
        logger.info("shard %s: %s", shard, entry)
        if not result.success or failed_checks:
            raise RuntimeError(f"pipeline run for {shard} failed: {json.dumps(entry)}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m funreason_assets.cli`."""
    parser = argparse.ArgumentParser(prog="funreason_assets")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the whole pipeline (offline default)")
    run.add_argument("--shard", action="append", help="only these shard keys (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "run":
        summary = run_pipeline(args.shard)
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
