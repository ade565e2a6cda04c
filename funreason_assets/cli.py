"""Command line: run the whole pipeline on the offline default.

`python -m funreason_assets.cli run` materializes every asset for every shard into the Dagster
instance at `$DAGSTER_HOME` (so the runs show in the UI), one run per shard, then the export
run. Shard runs execute concurrently, one per worker process (`--workers`, the number of cores
by default), each with the in-process executor; `--workers 1` runs them one after another in
this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

if __name__ == "__main__" and sys.argv[1:2] == ["lineage"]:
    # A lookup reads one row of the export's lineage index; importing Dagster alone takes
    # longer than that, so `lineage` is answered before the other commands' imports.
    from funreason_assets.lineage import main as lineage_main

    raise SystemExit(lineage_main(sys.argv[2:]))

import dagster as dg

from funreason_assets.lib.llm.budget import RUN_GROUP_TAG
from funreason_assets.lib.packs import PackConfigError
from funreason_assets.lib.paths import SettingsError
from funreason_assets.preload import preload

logger = logging.getLogger("funreason_assets")

# Who runs a CLI run: a later start marks the run failed if this process is gone.
PID_TAG = "funreason/pid"
HOST_TAG = "funreason/host"
# Forked workers inherit the loaded code location; elsewhere (macOS, Windows) they spawn.
_FORK = sys.platform == "linux"
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


@dataclass(frozen=True)
class _PlannedRun:
    """One run of the command: a shard of `generate_dataset`, or the export run."""

    name: str
    job_name: str
    partition: str | None
    selection: tuple[dg.AssetKey, ...] | None
    run_id: str


def _execute(
    job: dg.JobDefinition, planned: _PlannedRun, instance: dg.DagsterInstance, group: str
) -> dict[str, object]:
    """Execute one planned run in this process; its summary entry, with the cause on failure."""
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=planned.partition,
        instance=instance,
        asset_selection=list(planned.selection) if planned.selection is not None else None,
        raise_on_error=False,
        run_id=planned.run_id,
        tags={
            PID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
            RUN_GROUP_TAG: group,
        },
    )
    failed_checks, warnings = _check_summary(result)
    return {
        "run": planned.name,
        "success": result.success,
        "seconds": round(time.perf_counter() - started, 2),
        "seconds_per_asset": _step_seconds(instance, result.run_id),
        "checks_evaluated": len(result.get_asset_check_evaluations()),
        "warnings": warnings,
        "failed_checks": failed_checks,
        "run_id": result.run_id,
        "cause": None if result.success else _failure_cause(result),
    }


def _record(runs: list[dict[str, object]], entry: dict[str, object]) -> None:
    """Add a finished run to the summary; raise if it failed or an ERROR check failed."""
    cause = entry.pop("cause", None)
    runs.append(entry)
    logger.info("%s: %s", entry["run"], entry)
    name, run_id = entry["run"], entry["run_id"]
    if not entry["success"]:
        raise PipelineError(f"pipeline run {name} ({run_id}) failed at {cause}")
    if entry["failed_checks"]:
        failed = ", ".join(entry["failed_checks"])  # type: ignore[arg-type]
        raise PipelineError(f"pipeline run {name} ({run_id}): checks failed: {failed}")


# What a worker process keeps across the shard runs it executes: the code location (inherited
# from the command where processes fork, loaded once where they spawn) and its own instance.
_worker_state: dict[str, object] = {}


def _worker_execute(
    instance_ref: dg.InstanceRef, planned: _PlannedRun, group: str
) -> dict[str, object]:
    """Execute one shard run in a worker process (the pool's task; must stay importable)."""
    if "definitions" not in _worker_state:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        from funreason_assets.definitions import defs

        _worker_state["definitions"] = defs()
    if "instance" not in _worker_state:
        # Never the command's own instance object: a forked copy would share its connections.
        _worker_state["instance"] = dg.DagsterInstance.from_ref(instance_ref)
    instance = _worker_state["instance"]
    definitions = _worker_state["definitions"]
    assert isinstance(instance, dg.DagsterInstance)
    assert isinstance(definitions, dg.Definitions)
    return _execute(definitions.resolve_job_def(planned.job_name), planned, instance, group)


def _shared_assets_done(
    instance: dg.DagsterInstance, run_id: str, keys: set[dg.AssetKey]
) -> bool:
    """Whether the run's steps of these assets succeeded (blocking checks included), or it ended."""
    run = instance.get_run_by_id(run_id)
    if run is not None and run.is_finished:
        return True
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
    ).records
    done = {record.event_log_entry.step_key for record in records}
    return {key.to_python_identifier() for key in keys} <= done


def _run_shards_concurrently(
    instance: dg.DagsterInstance,
    definitions: dg.Definitions,
    shard_runs: list[_PlannedRun],
    shared: set[dg.AssetKey],
    workers: int,
    group: str,
) -> list[dict[str, object]]:
    """Run the shard runs in a pool of worker processes; their entries in plan order.

    The first shard run also materializes the unpartitioned assets every shard reads (the
    catalog and the graph); the other shard runs start once it has stored them. After a
    failure no further run starts; the runs in flight finish, then the first failure (in plan
    order) is raised.
    """
    ref = instance.get_ref()
    first, rest = shard_runs[0], shard_runs[1:]
    entries: dict[str, dict[str, object]] = {}
    _worker_state.clear()
    if _FORK:
        # Forked workers start at once with the code location already loaded; the pool forks
        # every worker before it starts its own thread.
        _worker_state["definitions"] = definitions
    context = multiprocessing.get_context("fork" if _FORK else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future, _PlannedRun] = {
            pool.submit(_worker_execute, ref, first, group): first
        }
        # The workers exist now. This process is idle until the export run, which imports
        # libraries the shard runs need little of (Great Expectations, datasketch): it loads
        # them while the workers run, not after them (nor before they start).
        preload(definitions)
        while shared and not _shared_assets_done(instance, first.run_id, shared):
            finished, _ = wait(list(futures), timeout=0.5)
            if finished:
                break
        failed = any(
            future.done() and _failed(_outcome(future, first)) for future in futures
        )
        if not failed:
            futures.update({pool.submit(_worker_execute, ref, run, group): run for run in rest})
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                if future.cancelled():
                    continue
                entry = _outcome(future, futures[future])
                entries[futures[future].name] = entry
                failed = failed or _failed(entry)
            if failed:
                for future in pending:
                    future.cancel()
    return [entries[run.name] for run in shard_runs if run.name in entries]


def _failed(entry: dict[str, object]) -> bool:
    return not entry["success"] or bool(entry["failed_checks"])


def _outcome(future: Future, planned: _PlannedRun) -> dict[str, object]:
    """The entry a worker returned, or a failed one when the worker process itself died."""
    try:
        return future.result()
    except Exception as exc:  # a worker killed mid-run breaks the pool
        return {
            "run": planned.name, "success": False, "seconds": None, "seconds_per_asset": {},
            "checks_evaluated": 0, "warnings": [], "failed_checks": [],
            "run_id": planned.run_id,
            "cause": f"its worker process: {type(exc).__name__}: {exc}",
        }


def run_pipeline(
    shards: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
    export: bool = True,
    workers: int = 1,
) -> dict[str, object]:
    """Materialize the pipeline: every shard, then curation, exports and the report.

    Args:
        shards: Partition keys to run (all shards when None).
        instance: The Dagster instance to record runs in (`DagsterInstance.get()` when None).
        definitions: The code location (loaded from `funreason_assets.definitions` when None).
            Where processes cannot fork, worker processes load the code location themselves,
            so passing definitions there requires `workers=1`.
        export: Also run `export_dataset` after the shards.
        workers: Shard runs executed at once, each in its own process; 1 runs them one after
            another in this process. The outputs are the same for every worker count.

    Returns:
        A summary: per run, status, wall seconds, seconds per asset, warnings.

    Raises:
        SettingsError: If the generation config is invalid (before any run).
        PackConfigError: If the pack config or a pack class is broken (before any run).
        PipelineError: If a run fails or a check with ERROR severity fails.
        ValueError: If `workers` is below 1, or definitions are passed with several workers.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if definitions is not None and workers > 1 and not _FORK:
        raise ValueError("worker processes load the code location themselves on this "
                         "platform: pass definitions only with workers=1")
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
    selected = job.asset_layer.selected_asset_keys
    shard_assets = tuple(
        sorted(key for key in selected if asset_graph.get(key).partitions_def is not None)
    )
    shard_runs = [
        _PlannedRun(shard, job.name, shard, None if index == 0 else shard_assets,
                    str(uuid.uuid4()))
        for index, shard in enumerate(keys)
    ]
    runs: list[dict[str, object]] = []
    summary: dict[str, object] = {"runs": runs}
    # One model budget for every run of this command (the shards and the exports).
    group = f"cli-{uuid.uuid4().hex[:12]}"
    workers = min(workers, len(shard_runs))
    if workers > 1 and instance.is_ephemeral:
        logger.warning("an ephemeral instance cannot be shared with worker processes: "
                       "running the shards one after another")
        workers = 1
    if workers > 1:
        shared = set(selected) - set(shard_assets)
        entries = _run_shards_concurrently(
            instance, definitions, shard_runs, shared, workers, group
        )
        for entry in entries:
            _record(runs, entry)
    else:
        for planned in shard_runs:
            _record(runs, _execute(job, planned, instance, group))
    if export:
        planned = _PlannedRun("export", "export_dataset", None, None, str(uuid.uuid4()))
        _record(runs, _execute(definitions.resolve_job_def(planned.job_name), planned,
                               instance, group))
    return summary


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m funreason_assets.cli`."""
    parser = argparse.ArgumentParser(prog="funreason_assets")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the whole pipeline (offline default)")
    run.add_argument("--shard", action="append", help="only these shard keys (repeatable)")
    run.add_argument("--no-export", action="store_true", help="skip curation and exports")
    run.add_argument(
        "--workers", type=_positive, default=os.cpu_count() or 1,
        help="shard runs at once, each in its own process (default: the number of cores; "
        "1 runs them one after another)",
    )
    lineage = commands.add_parser("lineage", help="print the story of one exported dialogue")
    lineage.add_argument("id", help="a dialogue id (dialogue-...) or a BFCL entry id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "run":
        try:
            summary = run_pipeline(args.shard, export=not args.no_export, workers=args.workers)
        except (SettingsError, PackConfigError, PipelineError) as exc:
            # The cause is the last line a user sees (no traceback to scroll through).
            sys.stderr.write(f"error: {exc}\n")
            return 1
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    elif args.command == "lineage":
        from funreason_assets.lineage import main as lineage_main

        return lineage_main([args.id])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
