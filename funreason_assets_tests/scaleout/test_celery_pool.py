"""The Celery run pool on one machine: a backfill over 4 workers, one of them killed mid-shard.

Redis, Postgres, a code server, 4 Celery workers (each in its own folder and DAGSTER_HOME) and
the Dagster daemon run as configured by `deploy/celery/`; two model roles call the local
OpenAI-compatible server at 0.5 s a call. The same project also runs in one process
(`cli run --workers 1`) against a second server, and the two exports must be byte-identical.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from funreason_assets.defs.partitions import shard_keys
from funreason_assets.testing.celery_pool import (
    SHARD_ASSETS,
    SHARED_ASSETS,
    graphql,
    launch_backfill,
    launch_run,
    missing_services,
    pool_instance_config,
    run_pool,
    scripted_model_project,
    wait_for_run,
)
from funreason_assets.testing.openai_server import run_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.skipif(
        bool(missing_services()),
        reason=f"the Celery pool needs {', '.join(missing_services())} (make test installs "
        "Debian's redis-server and postgresql)",
    ),
]

SHARDS = 16
SCENARIOS = 3
LATENCY = 0.5
CONCURRENCY = 2  # model calls in flight per run
SUCCESS = dg.DagsterRunStatus.SUCCESS
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED}


def project_env(project: Path) -> dict[str, str]:
    return {**os.environ, "FUNREASON_PROJECT_ROOT": str(project),
            "FUNREASON_OUTPUTS_ROOT": str(project / "outputs"), "FUNREASON_TEST_KEY": "k"}


def pool_config() -> dict:
    """The deployed instance settings, with run monitoring fast enough for a test."""
    launcher = pool_instance_config()["run_launcher"]
    launcher["config"].update(missed_pings=2, ping_timeout_seconds=1)
    return pool_instance_config(run_launcher=launcher,
                                run_monitoring={"poll_interval_seconds": 2})


def step_events(instance, run_id: str, step: str, kind: dg.DagsterEventType) -> bool:
    records = instance.get_records_for_run(run_id, of_type=kind)
    return any(r.event_log_entry.step_key == step for r in records.records)


def in_hard_queries(instance, run_id: str) -> bool:
    """The run has started `hard_queries` and not finished it."""
    return step_events(instance, run_id, "hard_queries", dg.DagsterEventType.STEP_START) and not (
        step_events(instance, run_id, "hard_queries", dg.DagsterEventType.STEP_SUCCESS))


def kill_a_worker_mid_shard(pool, instance, server, deadline: float) -> tuple[str, str, set]:
    """Kill -9 the worker of a shard run that is waiting on model calls in `hard_queries`.

    Returns the run, the worker's name and the request fingerprints the server saw by then.
    """
    passed = set()  # runs whose step ended before the wait did: another run is chosen
    while time.monotonic() < deadline:
        for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            if "dagster/partition" in run.tags and run.run_id not in passed and in_hard_queries(
                instance, run.run_id
            ):
                # Some of its calls are answered and cached before the kill: on a loaded
                # machine a fixed wait may end before the step's first answer, so the wait
                # is for answers (the server's log, every run's) and at least 4 latencies.
                seen = len(server.stats()["log"])
                waited = time.monotonic() + 30 * LATENCY
                time.sleep(4 * LATENCY)
                while len(server.stats()["log"]) < seen + 12 and time.monotonic() < waited:
                    time.sleep(LATENCY / 2)
                worker = pool.worker_of_task(run.tags["dagster-celery/task_id"])
                assert worker in pool.worker_names
                if not in_hard_queries(instance, run.run_id):
                    # The step ended while we waited: its retry would not run it again.
                    passed.add(run.run_id)
                    continue
                pool.kill(worker.split("@")[0])
                return run.run_id, worker, {e["fingerprint"] for e in server.stats()["log"]}
        time.sleep(0.2)
    raise AssertionError("no shard run reached hard_queries in time")


def wait_for_shards(instance, deadline: float) -> None:
    """Until every shard asset partition is stored and no run is left in flight."""
    while time.monotonic() < deadline:
        done = instance.get_materialized_partitions(dg.AssetKey("reasoning_chains"))
        runs = instance.get_runs()
        if len(done) == SHARDS and all(run.status in FINISHED for run in runs):
            return
        time.sleep(1)
    raise AssertionError(f"shards not done in time: {sorted(done)}")


def export_files(outputs: Path) -> dict[str, bytes]:
    """The dataset files of the latest complete export (BFCL and training formats)."""
    exports = outputs / "exports"
    folder = exports / (exports / "LATEST").read_text(encoding="utf-8").strip()
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for part in ("bfcl", "sft") for path in sorted((folder / part).rglob("*"))
        if path.is_file()
    }


def model_calls(instance, asset: str, run_id: str) -> dict:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    [record] = [r for r in records if r.run_id == run_id]
    return record.asset_materialization.metadata["model_calls"].value


def test_a_backfill_on_four_workers_survives_a_killed_worker_and_matches_one_process(
    tmp_path,
):
    deadline = time.monotonic() + 600  # everything below, bounded (a loaded CI box included)
    with run_server(latency=LATENCY) as server, run_server() as reference_server:
        # The same project alone in one process, against a server of its own (no latency).
        reference_project = scripted_model_project(
            tmp_path / "reference", reference_server, SHARDS, SCENARIOS, CONCURRENCY)
        reference_env = project_env(reference_project)
        reference_env["DAGSTER_HOME"] = str(reference_project / "home")
        (reference_project / "home").mkdir()
        with (tmp_path / "reference.log").open("wb") as log:
            reference = subprocess.Popen(
                [sys.executable, "-m", "funreason_assets.cli", "run", "--workers", "1"],
                env=reference_env, cwd=reference_project, stdout=subprocess.DEVNULL,
                stderr=log, start_new_session=True,
            )
        try:
            project = scripted_model_project(
                tmp_path / "project", server, SHARDS, SCENARIOS, CONCURRENCY)
            with run_pool(tmp_path / "pool", project_env(project), 4, pool_config()) as pool:
                workspace = pool.workspace
                with pool.instance() as instance, graphql(instance, workspace) as execute:
                    shared = launch_run(execute, "generate_dataset", SHARED_ASSETS)
                    assert wait_for_run(instance, shared, 180).status == SUCCESS
                    backfill = launch_backfill(execute, SHARD_ASSETS, shard_keys(SHARDS))
                    pool.start_daemon(workspace)
                    victim, killed, at_kill = kill_a_worker_mid_shard(
                        pool, instance, server, deadline)
                    wait_for_shards(instance, deadline)
                    export = launch_run(execute, "export_dataset", None)
                    assert wait_for_run(instance, export, 180).status == SUCCESS

                    # Every shard asset partition materialized exactly once.
                    for asset in SHARD_ASSETS:
                        records = instance.fetch_materializations(
                            dg.AssetKey(asset), limit=1000).records
                        partitions = sorted(r.partition_key for r in records)
                        assert partitions == shard_keys(SHARDS), asset

                    # The killed run failed for its lost worker; its retry finished it.
                    shard_runs = [run for run in instance.get_runs()
                                  if run.tags.get("dagster/backfill") == backfill]
                    victim_run = instance.get_run_by_id(victim)
                    assert victim_run.status == dg.DagsterRunStatus.FAILURE
                    failure = instance.get_records_for_run(
                        victim, of_type=dg.DagsterEventType.RUN_FAILURE).records
                    assert killed in failure[0].event_log_entry.dagster_event.message
                    [retry] = [run for run in shard_runs
                               if run.tags.get("dagster/parent_run_id") == victim]
                    assert retry.status == dg.DagsterRunStatus.SUCCESS
                    assert retry.tags["dagster/partition"] == victim_run.tags["dagster/partition"]
                    assert len(shard_runs) == SHARDS + 1

                    # At least four workers ran shards (the Celery result names each one).
                    workers = {pool.worker_of_task(run.tags["dagster-celery/task_id"])
                               for run in shard_runs}
                    assert len(workers) >= 4 and workers <= set(pool.worker_names)
                    assert pool.worker_of_task(retry.tags["dagster-celery/task_id"]) != killed

                    # No answered model call was made again: only calls in flight when the
                    # worker died were repeated, and the retry read the others from the cache.
                    stats = server.stats()
                    assert stats["log_dropped"] == 0
                    repeated = [e["fingerprint"] for e in stats["log"] if e["attempt"] > 0]
                    assert set(repeated) <= at_kill and len(repeated) <= CONCURRENCY
                    retried_calls = model_calls(instance, "hard_queries", retry.run_id)
                    assert retried_calls["cached"] > 0
                    assert stats["unique_fingerprints"] == stats["total"] - len(repeated)
            assert reference.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, (
                (tmp_path / "reference.log").read_text(errors="replace")[-3000:])
        finally:
            if reference.poll() is None:
                os.killpg(reference.pid, 9)
                reference.wait(timeout=30)

    pooled = export_files(project / "outputs")
    alone = export_files(reference_project / "outputs")
    assert sorted(pooled) == sorted(alone) and len(pooled) >= 6
    assert {name for name in pooled if pooled[name] != alone[name]} == set()
    manifest = json.loads((reference_project / "outputs" / "exports").joinpath(
        (reference_project / "outputs" / "exports" / "LATEST").read_text().strip(),
        "manifest.json").read_text(encoding="utf-8"))
    assert manifest["bfcl"]["checker"]["entries"] == manifest["bfcl"]["checker"]["passed"] > 0
