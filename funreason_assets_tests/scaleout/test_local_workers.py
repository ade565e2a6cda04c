"""The main command's shard runs in worker processes: tags, order, failures, shared assets."""

import os
import socket
import sys

import dagster as dg
import pytest

from funreason_assets.cli import HOST_TAG, PID_TAG, PipelineError, main, run_pipeline
from funreason_assets.defs.io_manager import RecordIOManager
from funreason_assets.lib.llm.budget import RUN_GROUP_TAG

SHARDS = [f"shard-{index:04d}" for index in range(4)]
PARTITIONS = dg.StaticPartitionsDefinition(SHARDS)

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="worker processes fork only on Linux; elsewhere they spawn "
    "and load the code location by module"
)


@dg.asset
def shared_graph() -> dict:
    return {"nodes": 3}


@dg.asset(partitions_def=PARTITIONS)
def shard_items(context: dg.AssetExecutionContext, shared_graph: dict) -> dict:
    if context.partition_key == os.environ.get("FAIL_SHARD"):
        raise ValueError(f"broken scenario in {context.partition_key}")
    return {"shard": context.partition_key, "pid": os.getpid(), "nodes": shared_graph["nodes"]}


@dg.asset(deps=[shard_items])
def exported() -> dict:
    return {"done": True}


def _definitions(base) -> dg.Definitions:
    return dg.Definitions(
        assets=[shared_graph, shard_items, exported],
        jobs=[dg.define_asset_job("generate_dataset", [shared_graph, shard_items],
                                  executor_def=dg.in_process_executor),
              dg.define_asset_job("export_dataset", [exported],
                                  executor_def=dg.in_process_executor)],
        resources={"io_manager": RecordIOManager(base_path=str(base))},
    )


def test_shard_runs_execute_in_worker_processes_and_record_who_ran_them(tmp_path):
    with dg.instance_for_test() as instance:
        summary = run_pipeline(definitions=_definitions(tmp_path), instance=instance, workers=2)
        names = [run["run"] for run in summary["runs"]]
        assert names == [*SHARDS, "export"]
        runs = [instance.get_run_by_id(run["run_id"]) for run in summary["runs"]]
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        shard_pids = {run.tags[PID_TAG] for run in runs[:-1]}
        # Two worker processes ran the shards; the command itself ran only the export.
        assert len(shard_pids) == 2 and str(os.getpid()) not in shard_pids
        assert runs[-1].tags[PID_TAG] == str(os.getpid())
        assert {run.tags[HOST_TAG] for run in runs} == {socket.gethostname()}
        assert len({run.tags[RUN_GROUP_TAG] for run in runs}) == 1
        # The first shard run built the shared asset; the others only read it.
        assert list(summary["runs"][0]["seconds_per_asset"]) == ["shared_graph", "shard_items"]
        assert all(list(run["seconds_per_asset"]) == ["shard_items"]
                   for run in summary["runs"][1:-1])
    stored = sorted(path.name for path in (tmp_path / "shard_items").iterdir())
    assert stored == [f"{shard}.json" for shard in SHARDS]


def test_a_failed_shard_in_a_worker_names_its_run_step_and_cause(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIL_SHARD", "shard-0002")
    with dg.instance_for_test() as instance, pytest.raises(PipelineError) as error:
        run_pipeline(definitions=_definitions(tmp_path), instance=instance, workers=2)
    message = str(error.value)
    assert message.startswith("pipeline run shard-0002 (")
    assert message.endswith("failed at step shard_items: ValueError: broken scenario in "
                            "shard-0002")
    assert not (tmp_path / "exported").exists()


def test_workers_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--workers", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least 1"):
        run_pipeline(workers=0)
