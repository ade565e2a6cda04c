"""The lineage index answers with the story a scan of the stored assets tells, without Dagster."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from funreason_assets.lib import bfcl_format, lineage_index, lineage_story
from funreason_assets.lib.curation import verified_dialogues
from funreason_assets.lib.record_tables import records_to_table
from funreason_assets.lineage import LineageError, dialogue_story, scan_story
from funreason_assets.testing.run_records import make_run_records

RUN_ID = "run-lineage"


@pytest.fixture(scope="module")
def project(registry, api_graph, tmp_path_factory):
    """A project folder holding a small run's stored assets and its export (manifest, index)."""
    root = tmp_path_factory.mktemp("lineage_project")
    records = make_run_records(registry, api_graph)
    curated = verified_dialogues(records.plans, records.chains, 2)
    store = root / "data" / "outputs" / "assets"
    for asset, values in (("scenario_seeds", records.scenarios),
                          ("ground_truth_plans", records.plans),
                          ("hard_queries", records.queries),
                          ("reasoning_chains", records.chains)):
        (store / asset).mkdir(parents=True)
        pq.write_table(records_to_table(values), store / asset / "shard-0000.parquet")
    (store / "curated_dialogues").mkdir()
    pq.write_table(records_to_table(curated), store / "curated_dialogues" / "all.parquet")
    (store / "api_graph").mkdir()
    (store / "api_graph" / "all.json").write_text(json.dumps(records.graph), encoding="utf-8")
    exports = root / "data" / "outputs" / "exports"
    run = exports / RUN_ID
    run.mkdir(parents=True)
    per_category, id_map, _ = bfcl_format.bfcl_entries(curated, registry)
    manifest = {
        "run_id": RUN_ID,
        "bfcl": {"files": {c: str(run / "bfcl" / f"BFCL_v4_{c}.json") for c in per_category},
                 "id_map": id_map},
        "sft": {"files": {"openai.jsonl": len(curated), "sharegpt.jsonl": len(curated)}},
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    sources = lineage_story.lineage_sources(
        records.plans, records.queries, records.chains, records.scenarios, records.graph
    )
    index, stories = lineage_story.write_lineage_index(run, curated, sources)
    (exports / "LATEST").write_text(RUN_ID + "\n", encoding="utf-8")
    return root, curated, id_map, index, stories


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(project[0]))
    monkeypatch.delenv("FUNREASON_OUTPUTS_ROOT", raising=False)
    monkeypatch.delenv("FUNREASON_ASSET_STORE", raising=False)
    return project


def test_the_index_tells_what_a_scan_of_the_assets_tells(in_project):
    _, curated, id_map, index, stories = in_project
    assert len(curated) >= 5 and len(stories) == len(curated) and len(id_map) >= 3
    by_entry = [(entry, dialogue) for dialogue, entry in id_map.items()][:3]
    unmapped = [d.dialogue_id for d in curated if d.dialogue_id not in id_map][:2]
    for identifier, dialogue_id in [*by_entry, *((d, d) for d in unmapped),
                                    (curated[0].dialogue_id, curated[0].dialogue_id)]:
        story = dialogue_story(identifier)
        assert story == scan_story(identifier) == stories[dialogue_id]
        assert story.startswith(f"dialogue {dialogue_id}")
        for part in ("scenario scn-", "plan plan-", "round 0: target", "call 0:",
                     "attempt 1 [scripted]:", "filters passed:", f"exports (run {RUN_ID}):"):
            assert part in story, part
    assert lineage_index.lookup(index, "dialogue-nope") is None
    with pytest.raises(LineageError, match="not a curated dialogue"):
        dialogue_story("dialogue-nope")


def test_an_export_without_an_index_is_answered_by_the_scan(in_project):
    _, curated, _, index, stories = in_project
    moved = index.with_name("moved.sqlite")
    index.rename(moved)
    try:
        assert dialogue_story(curated[1].dialogue_id) == stories[curated[1].dialogue_id]
        with pytest.raises(LineageError, match="not a curated dialogue"):
            dialogue_story("dialogue-nope")
    finally:
        moved.rename(index)


def test_cli_lineage_reads_the_index_without_importing_dagster(project):
    root, _, id_map, _, stories = project
    env = {k: v for k, v in os.environ.items()
           if k not in ("FUNREASON_OUTPUTS_ROOT", "FUNREASON_ASSET_STORE")}
    env["FUNREASON_PROJECT_ROOT"] = str(root)
    dialogue_id, entry = next(iter(id_map.items()))
    found = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "funreason_assets.cli", "lineage", entry],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout == stories[dialogue_id] + "\n"
    imported = {line.split("|")[-1].strip() for line in found.stderr.splitlines()
                if line.startswith("import time:")}
    assert "sqlite3" in imported
    assert not {name for name in imported if name.split(".")[0] in ("dagster", "pyarrow")}
    missing = subprocess.run(
        [sys.executable, "-m", "funreason_assets.cli", "lineage", "dialogue-nope"], env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert missing.returncode == 1 and "not a curated dialogue" in missing.stderr
