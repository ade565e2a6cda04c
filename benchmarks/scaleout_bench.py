"""Scale-out: the local main command on 1 and 2 workers, the Celery pool on 1 and 4 workers.

Usage: uv run python -m benchmarks.scaleout_bench [--quick] [--part local|celery]

Local: `python -m funreason_assets.cli run --workers N` with the checked-in configuration
(4 shards x 250 scenarios, offline default), each in a fresh instance and output folder.
Reports the wall time of the whole command and of its shard phase (everything before the
export run, which curates every shard at once and so runs alone), and whether both worker
counts wrote byte-identical datasets.

Celery: the pool of `deploy/celery/` on this machine (Redis, Postgres, Celery workers, the
daemon; see `funreason_assets/testing/celery_pool.py`) on an I/O-bound workload: 16 shards of 3
scenarios whose tool abstractor and replier call the local OpenAI-compatible server at 0.5 s a
call, one call in flight per run. Timed from the backfill's submission until every shard is
stored, with 1 and with 4 workers (pool start-up and the shared catalog and graph run, the same
for both, are left out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _local_run(project: Path, workers: int) -> dict[str, object]:
    home = project / f"home-{workers}"
    home.mkdir()
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    outputs = project / f"outputs-{workers}"
    env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(project), "DAGSTER_HOME": str(home),
           "FUNREASON_OUTPUTS_ROOT": str(outputs)}
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "funreason_assets.cli", "run", "--workers", str(workers)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        sys.stderr.write(finished.stderr[-4000:])
        raise SystemExit(finished.returncode)
    runs = {run["run"]: run for run in json.loads(finished.stdout)["runs"]}
    return {
        "wall_seconds": round(wall, 1),
        "shard_phase_seconds": round(wall - runs["export"]["seconds"], 1),
        "export_seconds": runs["export"]["seconds"],
        "outputs": outputs,
    }


def _datasets(outputs: Path) -> dict[str, bytes]:
    exports = outputs / "exports"
    folder = exports / (exports / "LATEST").read_text(encoding="utf-8").strip()
    return {str(path.relative_to(folder)): path.read_bytes()
            for part in ("bfcl", "sft") for path in sorted((folder / part).rglob("*"))
            if path.is_file()}


def local(shards: int, scenarios: int) -> dict[str, object]:
    """The main command on 1 and 2 workers."""
    import yaml

    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        shutil.copytree(ROOT / "data" / "config", project / "data" / "config")
        generation = project / "data" / "config" / "generation.yaml"
        config = yaml.safe_load(generation.read_text(encoding="utf-8"))
        config.update(shards=shards, scenarios_per_shard=scenarios)
        generation.write_text(yaml.safe_dump(config), encoding="utf-8")
        one, two = _local_run(project, 1), _local_run(project, 2)
        identical = _datasets(one.pop("outputs")) == _datasets(two.pop("outputs"))
    return {
        "shards": shards, "scenarios_per_shard": scenarios, "cores": os.cpu_count(),
        "workers_1": one, "workers_2": two,
        "speedup_wall": round(one["wall_seconds"] / two["wall_seconds"], 2),
        "speedup_shard_phase": round(
            one["shard_phase_seconds"] / two["shard_phase_seconds"], 2),
        "datasets_identical": identical,
    }


def _celery_backfill(workers: int, shards: int, scenarios: int) -> dict[str, object]:
    import dagster as dg

    from funreason_assets.defs.partitions import shard_keys
    from funreason_assets.testing.celery_pool import (
        SHARD_ASSETS,
        SHARED_ASSETS,
        graphql,
        launch_backfill,
        launch_run,
        run_pool,
        scripted_model_project,
        wait_for_run,
    )
    from funreason_assets.testing.openai_server import run_server

    with tempfile.TemporaryDirectory() as scratch, run_server(latency=0.5) as server:
        root = Path(scratch)
        # One call in flight per run: each shard waits on the model for most of its time.
        project = scripted_model_project(root / "project", server, shards, scenarios,
                                         concurrency=1)
        env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(project),
               "FUNREASON_OUTPUTS_ROOT": str(project / "outputs"), "FUNREASON_TEST_KEY": "k"}
        with run_pool(root / "pool", env, workers) as pool:
            workspace = pool.workspace
            with pool.instance() as instance, graphql(instance, workspace) as execute:
                shared = launch_run(execute, "generate_dataset", SHARED_ASSETS)
                if wait_for_run(instance, shared, 600).status != dg.DagsterRunStatus.SUCCESS:
                    raise SystemExit("the shared run failed")
                started = time.perf_counter()
                launch_backfill(execute, SHARD_ASSETS, shard_keys(shards))
                pool.start_daemon(workspace)
                key = dg.AssetKey(SHARD_ASSETS[-1])
                connections = 0
                while len(instance.get_materialized_partitions(key)) < shards:
                    if time.perf_counter() - started > 1800:
                        raise SystemExit("the backfill did not finish within 30 minutes")
                    connections = max(connections, _postgres_connections(pool.env))
                    time.sleep(0.5)
                seconds = time.perf_counter() - started
                runs = [run for run in instance.get_runs() if "dagster/backfill" in run.tags]
                workers_used = {
                    pool.worker_of_task(run.tags["dagster-celery/task_id"]) for run in runs}
        calls = server.stats(log=False)["total"]
    return {"seconds": round(seconds, 1), "runs": len(runs), "workers_used": len(workers_used),
            "model_calls": calls, "peak_postgres_connections": connections}


def _postgres_connections(env: dict[str, str]) -> int:
    """Client connections open on the pool's Postgres (this one included)."""
    import psycopg2

    connection = psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]),
                                  user=env["DAGSTER_PG_USER"], dbname=env["DAGSTER_PG_DB"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select count(*) from pg_stat_activity where backend_type = 'client backend'")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def celery(shards: int, scenarios: int) -> dict[str, object]:
    """The Celery pool on 1 and 4 workers."""
    one = _celery_backfill(1, shards, scenarios)
    four = _celery_backfill(4, shards, scenarios)
    return {
        "shards": shards, "scenarios_per_shard": scenarios, "model_latency_s": 0.5,
        "calls_in_flight_per_run": 1,
        "cores": os.cpu_count(), "workers_1": one, "workers_4": four,
        "speedup": round(one["seconds"] / four["seconds"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--part", choices=("local", "celery"), action="append")
    args = parser.parse_args()
    parts = args.part or ["local", "celery"]
    result: dict[str, object] = {}
    if "local" in parts:
        result["local"] = local(*((2, 30) if args.quick else (4, 250)))
    if "celery" in parts:
        from funreason_assets.testing.celery_pool import missing_services

        missing = missing_services()
        result["celery"] = (
            {"skipped": f"missing {', '.join(missing)}"} if missing
            else celery(*((8, 2) if args.quick else (16, 3)))
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
