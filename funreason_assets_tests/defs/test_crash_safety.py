"""Crash safety: atomic writes, LATEST only on a complete export, retention, dead runs, shards."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pydantic import BaseModel

from funreason_assets.cli import (
    HOST_TAG,
    PID_TAG,
    PipelineError,
    _failure_cause,
    fail_dead_runs,
    run_pipeline,
)
from funreason_assets.defs.export.assets import _run_metadata
from funreason_assets.defs.export.resources import ExportsResource
from funreason_assets.defs.io_manager import RecordIOManager
from funreason_assets.defs.partitions import SHARDED, partition_sharded_assets
from funreason_assets.lib import bfcl_format, export_runs, report, training_formats
from funreason_assets.lib.atomic import atomic_path, atomic_write_text
from funreason_assets.lib.paths import project_root

JOBS = ("generate_dataset", "export_dataset")


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*.tmp"))


# ------------------------------------------------------------------ atomic writes


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "sharegpt.jsonl"
    bfcl_format.write_jsonl(path, [{"n": n} for n in range(4)])
    old = path.read_bytes()

    def rows():
        for n in range(100):
            if n == 50:
                raise RuntimeError("killed half-way")
            yield {"n": n}

    with pytest.raises(RuntimeError, match="half-way"):
        training_formats.write_rows(path, rows())
    assert path.read_bytes() == old
    assert _leftovers(tmp_path) == []
    bfcl_format.write_jsonl(path, [{"n": 9}])
    assert path.read_text(encoding="utf-8") == '{"n": 9}\n'
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    table = tmp_path / "openai.parquet"
    pq.write_table(pa.table({"n": [1, 2]}), table)
    with pytest.raises(ValueError), atomic_path(table) as temporary:
        pq.write_table(pa.table({"n": [3]}), temporary)
        raise ValueError("killed before the rename")
    assert pq.read_table(table).column("n").to_pylist() == [1, 2]
    atomic_write_text(tmp_path / "note.md", "new")
    assert (tmp_path / "note.md").read_text(encoding="utf-8") == "new"
    assert _leftovers(tmp_path) == []


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from funreason_assets.lib.training_formats import write_rows

    def rows():
        for n in range(100_000):
            if n == 500:
                print("half", flush=True)
                time.sleep(120)
            yield {"id": n, "text": "x" * 200}

    write_rows(Path(sys.argv[1]), rows())
    """
)


def test_kill_9_of_the_export_writer_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "sharegpt.jsonl"
    training_formats.write_rows(path, [{"id": "old"}])
    old = path.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "half"
        assert len(_leftovers(tmp_path)) == 1  # the rows so far went to the temporary file
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
    assert path.read_bytes() == old
    # Readers never look at the killed writer's temporary file; the next write replaces `path`.
    training_formats.write_rows(path, [{"id": "new"}])
    assert export_runs.file_rows(path) == 1


# ------------------------------------------------------------------ LATEST and COMPLETE.json


def _write_export(exports: ExportsResource, run_id: str, sharegpt_rows=None) -> None:
    """What the export assets write, in their order (BFCL, SFT, report), with the real writers."""
    folder = exports.run_folder(run_id)
    question = {"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "hi"}]]}
    files = bfcl_format.write_bfcl(
        folder / "bfcl", {"multi_turn_base": [(question, {"id": "multi_turn_base_0"})]}
    )
    exports.update_manifest(run_id, "bfcl", {"files": files, "entries": {"multi_turn_base": 1}})
    rows = [{"id": n, "conversations": []} for n in range(6)]
    written = {}
    for name, content in (("funreason.jsonl", rows), ("openai.jsonl", rows),
                          ("sharegpt.jsonl", sharegpt_rows or rows)):
        written[name] = training_formats.write_rows(folder / "sft" / name, content)
    exports.update_manifest(run_id, "sft", {"files": written})
    atomic_write_text(folder / "report" / report.MARKDOWN_FILE, "# report\n")
    atomic_write_text(folder / "report" / report.HTML_FILE, "<h1>report</h1>\n")
    exports.update_manifest(run_id, "report", report.report_files(folder / "report"))


def _half_then_crash():
    for n in range(6):
        if n == 3:
            raise RuntimeError("killed during sft_dataset")
        yield {"id": n, "conversations": []}


def test_latest_moves_only_after_a_complete_checked_export(tmp_path):
    exports = ExportsResource(folder=str(tmp_path))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    _write_export(exports, first)
    assert export_runs.latest_run(tmp_path) is None  # writing alone never moves LATEST
    done = exports.complete(first, keep_runs=5)
    assert export_runs.latest_run(tmp_path) == first and done["removed"] == []
    marker = json.loads((tmp_path / first / export_runs.COMPLETE_FILE).read_text("utf-8"))
    assert marker["files"]["sft/sharegpt.jsonl"]["rows"] == 6
    assert marker["files"]["bfcl/possible_answer/BFCL_v4_multi_turn_base.json"]["rows"] == 1
    assert len(marker["files"]["report/quality_report.html"]["sha256"]) == 64
    assert export_runs.verify_complete(tmp_path / first) == []

    # The next export dies half-way through sharegpt.jsonl: its step fails, nothing completes.
    with pytest.raises(RuntimeError, match="sft_dataset"):
        _write_export(exports, second, sharegpt_rows=_half_then_crash())
    assert export_runs.latest_run(tmp_path) == first
    assert not export_runs.is_complete(tmp_path / second)
    assert not (tmp_path / second / "sft" / "sharegpt.jsonl").exists()  # no truncated file
    assert _leftovers(tmp_path) == []
    # Re-running only the last step cannot bless the half export either.
    with pytest.raises(export_runs.IncompleteExportError, match="no sft, report section"):
        exports.complete(second, keep_runs=5)
    assert export_runs.latest_run(tmp_path) == first


def test_a_truncated_or_missing_file_keeps_latest_where_it_was(tmp_path):
    exports = ExportsResource(folder=str(tmp_path))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    _write_export(exports, first)
    exports.complete(first, keep_runs=5)
    _write_export(exports, second)
    sharegpt = tmp_path / second / "sft" / "sharegpt.jsonl"
    lines = sharegpt.read_text(encoding="utf-8").splitlines(keepends=True)
    sharegpt.write_text("".join(lines[:3]), encoding="utf-8")  # parseable, but 3 of 6 rows
    with pytest.raises(export_runs.IncompleteExportError, match="3 rows, the manifest says 6"):
        exports.complete(second, keep_runs=5)
    sharegpt.write_text("".join(lines[:3]) + lines[3][:10], encoding="utf-8")  # cut mid-row
    with pytest.raises(export_runs.IncompleteExportError, match="not valid JSON"):
        exports.complete(second, keep_runs=5)
    sharegpt.unlink()
    with pytest.raises(export_runs.IncompleteExportError, match="not written"):
        exports.complete(second, keep_runs=5)
    assert export_runs.latest_run(tmp_path) == first
    assert not export_runs.is_complete(tmp_path / second)


# ------------------------------------------------------------------ retention


def _run_folder(base: Path, index: int, completed: float | None, age_days: float = 0) -> str:
    run_id = str(uuid.UUID(int=index + 1))
    folder = base / run_id
    (folder / "sft").mkdir(parents=True)
    (folder / "sft" / "sharegpt.jsonl").write_text("{}\n", encoding="utf-8")
    if completed is not None:
        marker = {"run_id": run_id, "completed_unix": completed, "files": {}}
        (folder / export_runs.COMPLETE_FILE).write_text(json.dumps(marker), encoding="utf-8")
    stamp = time.time() - age_days * 86400
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (stamp, stamp))
    return run_id


def test_retention_keeps_the_newest_complete_exports_and_never_latest(tmp_path):
    complete = [_run_folder(tmp_path, index, 1000.0 + index, age_days=3) for index in range(7)]
    young_incomplete = _run_folder(tmp_path, 20, None)
    old_incomplete = _run_folder(tmp_path, 21, None, age_days=2)
    foreign = tmp_path / "my-notes"
    foreign.mkdir()
    (foreign / export_runs.COMPLETE_FILE).write_text("{}", encoding="utf-8")
    (tmp_path / export_runs.LATEST_FILE).write_text(complete[1] + "\n", encoding="utf-8")

    removed = export_runs.prune_exports(tmp_path, keep_runs=3)

    assert removed == sorted([*complete[:1], *complete[2:5], old_incomplete])
    remaining = sorted(path.name for path in tmp_path.iterdir() if path.is_dir())
    assert remaining == sorted([complete[1], complete[5], complete[6], young_incomplete,
                                "my-notes"])
    assert export_runs.prune_exports(tmp_path, keep_runs=3) == []


# ------------------------------------------------------------------ runs of dead processes


def _add_run(instance: dg.DagsterInstance, job: str, tags: dict[str, str]) -> str:
    run = dg.DagsterRun(
        job_name=job, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED, tags=tags
    )
    instance.add_run(run)
    return run.run_id


def _dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(timeout=30)
    return finished.pid


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["shard-0000"]))
def tiny_shard(context: dg.AssetExecutionContext) -> dict:
    return {"shard": context.partition_key}


@dg.asset(deps=[tiny_shard])
def tiny_export() -> dict:
    return {"exported": True}


def _tiny_definitions(base: Path) -> dg.Definitions:
    return dg.Definitions(
        assets=[tiny_shard, tiny_export],
        jobs=[
            dg.define_asset_job("generate_dataset", [tiny_shard]),
            dg.define_asset_job("export_dataset", [tiny_export]),
        ],
        resources={"io_manager": RecordIOManager(base_path=str(base))},
    )


def test_runs_of_dead_processes_are_marked_failed_when_the_cli_starts(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    host = socket.gethostname()
    try:
        with dg.instance_for_test() as instance:
            dead = _add_run(instance, "export_dataset", {PID_TAG: str(_dead_pid()),
                                                         HOST_TAG: host})
            alive = _add_run(instance, "generate_dataset", {PID_TAG: str(sleeper.pid)})
            elsewhere = _add_run(instance, "export_dataset", {PID_TAG: str(_dead_pid()),
                                                              HOST_TAG: host + "-other"})
            foreign = _add_run(instance, "someone_elses_job", {PID_TAG: str(_dead_pid())})
            unknown = _add_run(instance, "export_dataset", {})

            summary = run_pipeline(definitions=_tiny_definitions(tmp_path), instance=instance)

            status = {run_id: instance.get_run_by_id(run_id).status
                      for run_id in (dead, alive, elsewhere, foreign, unknown)}
            assert status == {
                dead: dg.DagsterRunStatus.FAILURE,
                alive: dg.DagsterRunStatus.STARTED,
                elsewhere: dg.DagsterRunStatus.STARTED,
                foreign: dg.DagsterRunStatus.STARTED,
                unknown: dg.DagsterRunStatus.STARTED,
            }
            failure = instance.get_records_for_run(
                dead, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
            assert "is gone" in failure.event_log_entry.dagster_event.message
            new_runs = [instance.get_run_by_id(run["run_id"]) for run in summary["runs"]]
            assert [run.tags[PID_TAG] for run in new_runs] == [str(os.getpid())] * 2
            assert fail_dead_runs(instance, JOBS) == []
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)


def test_a_failed_run_ends_with_its_step_and_cause(tmp_path):
    @dg.asset(deps=[tiny_shard], name="tiny_export")
    def failing_export() -> dict:
        raise ValueError("pack class broke at row 3")

    definitions = dg.Definitions(
        assets=[tiny_shard, failing_export],
        jobs=[dg.define_asset_job("generate_dataset", [tiny_shard]),
              dg.define_asset_job("export_dataset", [failing_export])],
        resources={"io_manager": RecordIOManager(base_path=str(tmp_path))},
    )
    with dg.instance_for_test() as instance, pytest.raises(PipelineError) as error:
        run_pipeline(definitions=definitions, instance=instance)
    assert "pipeline run export" in str(error.value)
    assert str(error.value).endswith(
        "failed at step tiny_export: ValueError: pack class broke at row 3")


# ------------------------------------------------------------------ shrinking `shards`


class ShardItem(BaseModel):
    shard: str


@dg.asset(tags=SHARDED, name="items")
def items(context: dg.AssetExecutionContext) -> list[ShardItem]:
    return [ShardItem(shard=context.partition_key)]


@dg.asset(name="summary")
def summary(items: list[ShardItem]) -> dict:
    return {"shards": sorted({item.shard for item in items})}


def _sharded(*assets: dg.AssetsDefinition) -> dict[str, dg.AssetsDefinition]:
    """The assets as the code location builds them: `SHARDED` ones partitioned by the config."""
    mapped = partition_sharded_assets(dg.Definitions(assets=list(assets))).assets
    return {asset.key.to_user_string(): asset for asset in mapped}


def _project_with_shards(root: Path, shards: int) -> Path:
    shutil.copytree(project_root() / "data" / "config", root / "data" / "config")
    generation = root / "data" / "config" / "generation.yaml"
    config = yaml.safe_load(generation.read_text(encoding="utf-8"))
    config["shards"] = shards
    generation.write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def test_after_shards_shrink_only_the_current_shards_are_read(tmp_path, monkeypatch):
    store = tmp_path / "assets"
    manager = RecordIOManager(base_path=str(store))
    with dg.instance_for_test() as instance:
        monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(_project_with_shards(tmp_path / "p4", 4)))
        four = _sharded(items, summary)["items"].partitions_def
        for shard in four.get_partition_keys():  # what the runs of a 4-shard config stored
            manager.handle_output(
                dg.build_output_context(asset_key="items", partition_key=shard,
                                        asset_partitions_def=four),
                [ShardItem(shard=shard)],
            )
        # The config shrinks to 2 shards; shard-0002/3 stay on disk.
        monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(_project_with_shards(tmp_path / "p2", 2)))
        two = _sharded(items, summary)
        assert two["items"].partitions_def.get_partition_keys() == ["shard-0000", "shard-0001"]
        result = dg.materialize(list(two.values()), selection=["summary"], instance=instance,
                                resources={"io_manager": manager})
        assert sorted(path.name for path in (store / "items").iterdir()) == [
            f"shard-000{index}.parquet" for index in range(4)]
        assert result.output_for_node("summary") == {"shards": ["shard-0000", "shard-0001"]}


def test_the_report_reads_metadata_of_the_current_shards_only():
    with dg.instance_for_test() as instance:
        for asset in ("ground_truth_plans", "hard_queries", "reasoning_chains"):
            for index in range(4):
                instance.report_runless_asset_event(dg.AssetMaterialization(
                    asset_key=asset, partition=f"shard-000{index}",
                    metadata={"shard": index, "model_calls": {"calls": index}},
                ))
        plans, accounting = _run_metadata(instance, 2)
    assert [meta["shard"] for meta in plans] == [0, 1]
    assert accounting == [{"calls": 0}, {"calls": 1}] * 2


# ------------------------------------------------------------------ the real pipeline


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash_project")
    shutil.copytree(project_root() / "data" / "config", root / "data" / "config")
    generation = root / "data" / "config" / "generation.yaml"
    config = yaml.safe_load(generation.read_text(encoding="utf-8"))
    config.update(shards=1, scenarios_per_shard=8)
    generation.write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


@pytest.mark.slow
def test_the_pipeline_completes_exports_and_a_crashed_export_keeps_latest(
    small_project, monkeypatch
):
    monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(small_project))
    from funreason_assets.definitions import defs

    definitions = defs()
    exports = small_project / "data" / "outputs" / "exports"
    with dg.instance_for_test() as instance:
        dead = _add_run(instance, "export_dataset", {PID_TAG: str(_dead_pid())})
        summary = run_pipeline(definitions=definitions, instance=instance)
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
        first = summary["runs"][-1]["run_id"]
        assert export_runs.latest_run(exports) == first
        assert export_runs.verify_complete(exports / first) == []
        marker = json.loads((exports / first / export_runs.COMPLETE_FILE).read_text("utf-8"))
        manifest = json.loads((exports / first / "manifest.json").read_text("utf-8"))
        assert {name: marker["files"][f"sft/{name}"].get("rows", rows)
                for name, rows in manifest["sft"]["files"].items()} == manifest["sft"]["files"]

        # The next export crashes half-way through sharegpt.jsonl.
        real_write = training_formats.write_jsonl

        def crash_in_sharegpt(path, rows):
            if path.name != "sharegpt.jsonl":
                return real_write(path, rows)
            rows = list(rows)

            def half():
                yield from rows[: len(rows) // 2]
                raise OSError("killed during sft_dataset")

            return real_write(path, half())

        monkeypatch.setattr(training_formats, "write_jsonl", crash_in_sharegpt)
        result = definitions.resolve_job_def("export_dataset").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert not result.success
        assert _failure_cause(result) == "step sft_dataset: OSError: killed during sft_dataset"
        crashed = result.run_id
        assert export_runs.latest_run(exports) == first
        assert not export_runs.is_complete(exports / crashed)
        assert not (exports / crashed / "sft" / "sharegpt.jsonl").exists()
        assert _leftovers(exports) == []
