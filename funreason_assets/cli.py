"""Command line: run the whole pipeline on the offline default.

`python -m funreason_assets.cli run` materializes every asset for every shard into the Dagster
instance at `$DAGSTER_HOME` (so the runs show in the UI), using the in-process executor.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Sequence

import dagster as dg

from funreason_assets.lib.llm.budget import RUN_GROUP_TAG
from funreason_assets.lib.packs import PackConfigError
from funreason_assets.lib.paths import SettingsError

logger = logging.getLogger("funreason_assets")

# Who runs a CLI run: a later start marks the run failed if this process is gone.
PID_TAG = "funreason/pid"
HOST_TAG = "funreason/host"
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED
]


class PipelineError(RuntimeError):
    """A pipeline run failed; the message names the run, the step and the error's cause."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def _run_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The pid of the process that executes a run: our tag, else its RUN_START event's."""
    tagged = run.tags.get(PID_TAG)
    if tagged is not None:
        return int(tagged) if tagged.isdigit() else None
    started = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
    ).records
    event = started[0].event_log_entry.dagster_event if started else None
    return event.pid if event is not None else None


def fail_dead_runs(instance: dg.DagsterInstance, job_names: Iterable[str]) -> list[str]:
    """Mark failed the unfinished runs of these jobs whose process is gone; returns their ids.

    An in-process run killed with its process (kill -9, a closed terminal, a power cut) stays
    STARTED forever: no daemon watches the CLI. A run counts as dead when the process named by
    its pid tag (or its RUN_START event) no longer exists on this host; a run of another host,
    or without a known pid, is left alone.
    """
    names, host, dead = set(job_names), socket.gethostname(), []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED)):
        if run.job_name not in names or run.tags.get(HOST_TAG, host) != host:
            continue
        pid = _run_pid(instance, run)
        if pid is None or pid == os.getpid() or _process_alive(pid):
            continue
        message = f"its process (pid {pid}) is gone; marked failed when the CLI started again"
        instance.report_run_failed(run, message=message)
        logger.warning("run %s of %s: %s", run.run_id, run.job_name, message)
        dead.append(run.run_id)
    return dead


def check_configs(definitions: dg.Definitions | None = None) -> None:
    """Load the generation config and the environment packs before any run writes anything.

    Args:
        definitions: The code location whose pack resource to check (the default pack
            config when None). The generation config is read before the definitions are
            built, since building them reads it.

    Raises:
        SettingsError: The generation config is invalid (the message names file and field).
        PackConfigError: The pack config, or a pack class, is broken (file, field and class).
    """
    from funreason_assets.defs.config import generation_settings
    from funreason_assets.defs.environments.resources import EnvironmentPacksResource

    generation_settings()
    packs = (
        definitions.resources.get("environment_packs") if definitions is not None
        else EnvironmentPacksResource()
    )
    if isinstance(packs, EnvironmentPacksResource):
        packs.registry()


def _failure_cause(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step and the innermost cause of its error, in one line."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            text = (error.message if error is not None else "").strip().splitlines()
            return f"step {event.step_key}: {text[-1] if text else 'failed'}"
    # Failures before any step (a resource's setup, e.g. the models preflight) carry their
    # error on an engine or run-failure event.
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is None:
            continue
        while error.cause is not None:
            error = error.cause
        text = error.message.strip()
        if text:
            return f"setup: {' '.join(text.split())}"
    return "the run failed before any step (see the run's logs in the UI)"


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
        SettingsError: If the generation config is invalid (before any run).
        PackConfigError: If the pack config or a pack class is broken (before any run).
        PipelineError: If a run fails or a check with ERROR severity fails.
    """
    check_configs(definitions)
    if definitions is None:
        from funreason_assets.definitions import defs

        definitions = defs()
    instance = instance or dg.DagsterInstance.get()
    fail_dead_runs(
        instance, [job.name for job in definitions.get_repository_def().get_all_jobs()]
    )
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
    # One model budget for every run of this command (the shards and the exports).
    group = f"cli-{uuid.uuid4().hex[:12]}"
    for name, run_job, partition, selection in plan:
        started = time.perf_counter()
        result = run_job.execute_in_process(
            partition_key=partition,
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
            tags={
                PID_TAG: str(os.getpid()),
                HOST_TAG: socket.gethostname(),
                RUN_GROUP_TAG: group,
            },
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
        if not result.success:
            raise PipelineError(
                f"pipeline run {name} ({result.run_id}) failed at {_failure_cause(result)}"
            )
        if failed_checks:
            raise PipelineError(
                f"pipeline run {name} ({result.run_id}): checks failed: {', '.join(failed_checks)}"
            )
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
        try:
            summary = run_pipeline(args.shard, export=not args.no_export)
        except (SettingsError, PackConfigError, PipelineError) as exc:
            # The cause is the last line a user sees (no traceback to scroll through).
            sys.stderr.write(f"error: {exc}\n")
            return 1
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
