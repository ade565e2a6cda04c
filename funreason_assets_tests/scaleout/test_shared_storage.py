"""Outputs under a configurable root; the asset store on a folder or an fsspec URL."""

import os

import dagster as dg
import fsspec
import pytest
from pydantic import BaseModel

from funreason_assets.defs.io_manager import RecordIOManager
from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.paths import (
    ASSET_STORE,
    EXPORTS,
    MODEL_CACHE,
    asset_store,
    is_url,
    outputs_root,
    resolve,
)


class Row(BaseModel):
    shard: str
    n: int


def test_outputs_follow_the_outputs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(tmp_path / "project"))
    monkeypatch.delenv("FUNREASON_OUTPUTS_ROOT", raising=False)
    monkeypatch.delenv("FUNREASON_ASSET_STORE", raising=False)
    project = (tmp_path / "project").resolve()
    assert resolve(EXPORTS) == project / "data" / "outputs" / "exports"
    assert asset_store() == str(project / "data" / "outputs" / "assets")

    monkeypatch.setenv("FUNREASON_OUTPUTS_ROOT", str(tmp_path / "shared"))
    assert outputs_root() == tmp_path / "shared"
    assert resolve(MODEL_CACHE) == tmp_path / "shared" / "model_cache"
    assert resolve(ASSET_STORE) == tmp_path / "shared" / "assets"
    assert resolve("data/config/models.yaml") == project / "data" / "config" / "models.yaml"
    monkeypatch.setenv("FUNREASON_OUTPUTS_ROOT", "elsewhere")  # relative: from the project
    assert resolve(EXPORTS) == project / "elsewhere" / "exports"

    monkeypatch.setenv("FUNREASON_ASSET_STORE", "s3://bucket/funreason/assets")
    assert asset_store() == "s3://bucket/funreason/assets"
    assert asset_store(str(tmp_path / "mine")) == str(tmp_path / "mine")  # explicit wins
    assert is_url("file:///srv/assets") and is_url("gcs://b/a")
    assert not is_url("/srv/assets") and not is_url("data/outputs/assets")


def _write_and_read(manager: RecordIOManager, rows: list[Row], partition: str) -> list[Row]:
    partitions = dg.StaticPartitionsDefinition(["shard-0000", "shard-0001"])
    manager.handle_output(
        dg.build_output_context(asset_key="rows", partition_key=partition,
                                asset_partitions_def=partitions),
        rows,
    )
    return manager.load_input(dg.build_input_context(
        asset_key="rows", partition_key=partition, asset_partitions_def=partitions))


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_the_asset_store_on_an_fsspec_url_writes_atomically_and_reads_back(tmp_path, scheme):
    base = f"memory://store-{tmp_path.name}" if scheme == "memory" else tmp_path.as_uri()
    manager = RecordIOManager(base_path=base)
    rows = [Row(shard="shard-0001", n=n) for n in range(3)]
    assert _write_and_read(manager, rows, "shard-0001") == rows
    filesystem, root = fsspec.core.url_to_fs(base)
    written = filesystem.find(root)
    assert [path.rsplit("/", 1)[-1] for path in written] == ["shard-0001.parquet"]
    with pytest.raises(FileNotFoundError, match="shard-0000 has not been materialized"):
        manager.load_input(dg.build_input_context(
            asset_key="rows", partition_key="shard-0000",
            asset_partitions_def=dg.StaticPartitionsDefinition(["shard-0000", "shard-0001"])))


def test_a_rewritten_shard_has_the_same_bytes_and_leaves_no_temporary(tmp_path):
    manager = RecordIOManager(base_path=str(tmp_path))
    rows = [Row(shard="shard-0000", n=n) for n in range(50)]
    _write_and_read(manager, rows, "shard-0000")
    path = tmp_path / "rows" / "shard-0000.parquet"
    first = path.read_bytes()
    _write_and_read(manager, rows, "shard-0000")  # a redelivered run writes again
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["rows", "shard-0000.parquet"]


def test_cache_entries_are_readable_by_other_users(tmp_path):
    cache = CompletionCache(tmp_path)
    cache.put("ab" * 32, {"content": "hi"})
    entry = tmp_path / "ab" / f"{'ab' * 32}.json"
    assert cache.get("ab" * 32)["content"] == "hi"
    umask = os.umask(0)
    os.umask(umask)
    # A plain file's mode, not a temporary file's owner-only 0o600.
    assert entry.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in (tmp_path / "ab").iterdir()] == [entry.name]
