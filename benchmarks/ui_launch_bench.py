"""Work launched from the UI: where the wall time of a shard run and of a backfill goes.

Usage: uv run python -m benchmarks.ui_launch_bench [--shards 4] [--scenarios 250]

Starts `dagster dev` (webserver, daemon, code server) on 127.0.0.1 over a fresh project and
instance, then launches, with the GraphQL mutations the UI sends:
1. one shard of `generate_dataset` (the job's launchpad: `launchPipelineExecution`);
2. the same shard from the asset graph (the implicit asset job, the code location's default
   executor);
3. a backfill of every shard of the job (`launchPartitionBackfill`), every asset of the job;
4. a backfill of every shard of the shard assets only (the catalog and graph are current).
For each: the wall time from the click to the runs' success, and per run the time queued,
the time to start the run worker (a new process that imports Dagster and loads the code
location), the steps, and each step; for the backfills also the time until the daemon marked
the backfill complete. Compare with `cli run` (`pipeline_bench.py`), which runs in process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from funreason_assets.testing.ui_server import LAUNCH_RUN, run_dagster_dev, run_timeline

ROOT = Path(__file__).resolve().parents[1]
SHARD_ASSETS = ["scenario_seeds", "ground_truth_plans", "hard_queries", "reasoning_chains"]
JOB_ASSETS = ["tool_catalog", "api_graph", *SHARD_ASSETS]


def _backfill(dev, shards: list[str], assets: list[str] | None) -> dict[str, object]:
    started, launched_at = time.perf_counter(), time.time()
    backfill_id = dev.launch_backfill("generate_dataset", shards, asset_selection=assets)
    done = dev.wait_for_backfill(backfill_id, runs=len(shards), timeout=3600)
    runs_done = time.perf_counter() - started
    completed = dev.wait_for_backfill(backfill_id, runs=len(shards), timeout=600, completed=True)
    runs = [dev.run(r["runId"]) for r in done["runs"]]
    return {
        "seconds_until_runs_succeeded": round(runs_done, 1),
        "seconds_until_backfill_completed": round(time.perf_counter() - started, 1),
        "status": completed["status"],
        # The daemon's backfill loop wakes every 30 s; until then no run exists.
        "daemon_pickup_seconds": round(min(r["creationTime"] for r in runs) - launched_at, 1),
        "runs": [run_timeline(run) for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--scenarios", type=int, default=250)
    args = parser.parse_args()
    shards = [f"shard-{index:04d}" for index in range(args.shards)]
    result: dict[str, object] = {"shards": args.shards, "scenarios_per_shard": args.scenarios}
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        shutil.copytree(ROOT / "data" / "config", project / "data" / "config")
        generation = project / "data" / "config" / "generation.yaml"
        config = yaml.safe_load(generation.read_text(encoding="utf-8"))
        config.update(shards=args.shards, scenarios_per_shard=args.scenarios)
        generation.write_text(yaml.safe_dump(config), encoding="utf-8")
        home = project / ".dagster_home"
        home.mkdir()
        shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
        env = {k: v for k, v in os.environ.items()
               if k not in ("FUNREASON_OUTPUTS_ROOT", "FUNREASON_ASSET_STORE")}
        env.update(FUNREASON_PROJECT_ROOT=str(project), DAGSTER_HOME=str(home))
        started = time.perf_counter()
        with run_dagster_dev(ROOT / "workspace.yaml", env, ROOT) as dev:
            result["dagster_dev_ready_seconds"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            run_id = dev.launch_partition_run("generate_dataset", shards[0])
            dev.wait_for_runs([run_id], timeout=3600)
            result["one_shard_job_run"] = {
                "seconds": round(time.perf_counter() - started, 1),
                **run_timeline(dev.run(run_id)),
            }
            started = time.perf_counter()
            data = dev.graphql(LAUNCH_RUN, {"executionParams": {
                "selector": {**dev.repository_selector(), "pipelineName": "__ASSET_JOB",
                             "assetSelection": [{"path": [name]} for name in JOB_ASSETS]},
                "mode": "default", "runConfigData": {},
                "executionMetadata": {"tags": [{"key": "dagster/partition",
                                                "value": shards[0]}]},
            }})
            asset_run = data["launchPipelineExecution"]["run"]["runId"]
            dev.wait_for_runs([asset_run], timeout=3600)
            result["one_shard_asset_graph_run"] = {
                "seconds": round(time.perf_counter() - started, 1),
                **run_timeline(dev.run(asset_run)),
            }
            result["backfill_every_asset"] = _backfill(dev, shards, None)
            result["backfill_shard_assets"] = _backfill(dev, shards, SHARD_ASSETS)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
