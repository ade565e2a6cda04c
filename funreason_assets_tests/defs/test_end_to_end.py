"""The README's main command on a small configuration, then lineage, schedule and sensor."""

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from funreason_assets.defs.jobs import config_change_sensor, regeneration_schedule
from funreason_assets.lib.paths import project_root

SHARDS = 2


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with the checked-in configs, made small: 2 shards of 40 scenarios."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(project_root() / "data" / "config", root / "data" / "config")
    generation = root / "data" / "config" / "generation.yaml"
    config = yaml.safe_load(generation.read_text(encoding="utf-8"))
    config.update(shards=SHARDS, scenarios_per_shard=40)
    config["exports"]["split_turns"] = True
    generation.write_text(yaml.safe_dump(config), encoding="utf-8")
    home = root / ".dagster_home"
    home.mkdir()
    shutil.copy(project_root() / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(root), "DAGSTER_HOME": str(home)}
    return root, env


@pytest.fixture(scope="module")
def ran(project):
    root, env = project
    finished = subprocess.run(
        [sys.executable, "-m", "funreason_assets.cli", "run"], env=env, cwd=root,
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout), root, env


@pytest.mark.slow
def test_main_command_materializes_everything_and_writes_exports(ran):
    summary, root, _ = ran
    runs = {run["run"]: run for run in summary["runs"]}
    assert set(runs) == {"shard-0000", "shard-0001", "export"}
    assert all(run["success"] and not run["failed_checks"] for run in runs.values())
    assert set(runs["export"]["seconds_per_asset"]) == {
        "curated_dialogues", "bfcl_dataset", "sft_dataset", "quality_report"}
    exports = root / "data" / "outputs" / "exports"
    run_folder = exports / (exports / "LATEST").read_text(encoding="utf-8").strip()
    manifest = json.loads((run_folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["bfcl"]["checker"]["entries"] == manifest["bfcl"]["checker"]["passed"] > 30
    assert set(manifest["sft"]["files"]) == {
        "funreason.jsonl", "funreason_per_turn.jsonl", "openai.jsonl", "openai_per_turn.jsonl",
        "openai.parquet", "sharegpt.jsonl"}
    assert manifest["sft"]["generators"]["reasoner"] == "scripted"
    assert manifest["sft"]["seeds"]["shards"] == SHARDS
    assert len(manifest["config_hash"]) == 64 and manifest["code_version"]
    html = (run_folder / "report" / "quality_report.html").read_text(encoding="utf-8")
    for title in ("Funnel", "Tool and class coverage", "Distributions", "Variant mix",
                  "Directed sampler vs random-walk baseline"):
        assert f"<h2>{title}</h2>" in html
    assert html.count("data:image/png;base64,") >= 5
    assert (root / "data" / "outputs" / "assets" / "curated_dialogues" / "all.parquet").exists()


@pytest.mark.slow
def test_lineage_tells_the_story_of_an_exported_item(ran):
    _, root, env = ran
    run_folder = (root / "data" / "outputs" / "exports").glob("*/manifest.json")
    manifest = json.loads(next(iter(run_folder)).read_text(encoding="utf-8"))
    entry_id = next(iter(manifest["bfcl"]["id_map"].values()))
    finished = subprocess.run(
        [sys.executable, "-m", "funreason_assets.cli", "lineage", entry_id], env=env,
        cwd=root, capture_output=True, text=True, timeout=120, check=True,
    )
    story = finished.stdout
    assert f"BFCL entry: {entry_id}" in story
    for part in ("scenario scn-", "plan plan-", "round 0: target", "call 0:", "advanced tool",
                 "query (scripted):", "attempt 1 [scripted]:", "filters passed:", "bfcl/BFCL_v4_"):
        assert part in story, part
    missing = subprocess.run(
        [sys.executable, "-m", "funreason_assets.cli", "lineage", "dialogue-nope"], env=env,
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )
    assert missing.returncode == 1 and "not a curated dialogue" in missing.stderr


@pytest.mark.slow
def test_every_asset_shows_its_columns_a_preview_and_the_report_its_samples(ran):
    _, _, env = ran
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        latest = {}
        for asset in ("tool_catalog", "scenario_seeds", "api_graph", "ground_truth_plans",
                      "hard_queries", "reasoning_chains", "curated_dialogues", "bfcl_dataset",
                      "sft_dataset", "quality_report"):
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
            latest[asset] = records[0].asset_materialization.metadata
    for asset, metadata in latest.items():
        schema = metadata["dagster/column_schema"].value
        assert len(schema.columns) >= 3, asset
        if asset != "quality_report":  # the report itself is its preview
            assert metadata["preview"].value.count("\n|") >= 2, asset
    plans = {c.name: c for c in latest["ground_truth_plans"]["dagster/column_schema"].value.columns}
    assert plans["rounds"].type == "json list[PlannedRound]"
    assert "id" in latest["bfcl_dataset"]["preview"].value
    index = Path(latest["quality_report"]["lineage_index"].value)
    assert index.name == "lineage.sqlite" and index.stat().st_size > 10_000
    html = (index.parent / "report" / "quality_report.html").read_text(encoding="utf-8")
    samples = html.count("<article ")
    assert 10 <= samples <= 200 and "stratified sample" in html
    assert "<h2>Sample browser</h2>" in html


def test_sensor_starts_every_shard_when_a_config_changes(project, monkeypatch):
    root, _ = project
    monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(root))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        first = config_change_sensor(context)
        assert isinstance(first, dg.SkipReason) and context.cursor
        recorded = context.cursor
        again = config_change_sensor(dg.build_sensor_context(instance=instance, cursor=recorded))
        assert isinstance(again, dg.SkipReason) and "unchanged" in again.skip_message
        packs = root / "data" / "config" / "environment_packs.yaml"
        packs.write_text(packs.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        context = dg.build_sensor_context(instance=instance, cursor=recorded)
        requests = config_change_sensor(context)
        assert [r.partition_key for r in requests] == [
            f"shard-{i:04d}" for i in range(len(requests))]
        assert len({r.run_key for r in requests}) == len(requests)
        assert context.cursor != recorded


def test_schedule_is_off_by_default_and_requests_every_shard():
    regenerate_dataset = regeneration_schedule()
    assert regenerate_dataset.default_status == dg.DefaultScheduleStatus.STOPPED
    assert regenerate_dataset.cron_schedule == "0 3 * * 1"
    tick = datetime.datetime(2026, 11, 30, 3, 0, tzinfo=datetime.UTC)
    requests = regenerate_dataset(dg.build_schedule_context(scheduled_execution_time=tick))
    assert len(requests) == 4 and all(r.tags["funreason/trigger"] == "schedule" for r in requests)
    assert [r.partition_key for r in requests] == [f"shard-{i:04d}" for i in range(4)]
    assert all(tick.isoformat() in r.run_key for r in requests)


def test_schedule_follows_the_config_of_the_project_it_loads(project, monkeypatch):
    root, _ = project
    generation = root / "data" / "config" / "generation.yaml"
    config = yaml.safe_load(generation.read_text(encoding="utf-8"))
    config["schedule"] = {"enabled": True, "cron": "15 4 * * *"}
    elsewhere = root.parent / "scheduled_project"
    shutil.copytree(root / "data" / "config", elsewhere / "data" / "config")
    (elsewhere / "data" / "config" / "generation.yaml").write_text(
        yaml.safe_dump(config), encoding="utf-8"
    )
    monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(elsewhere))
    schedule = regeneration_schedule()
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "15 4 * * *"
    tick = datetime.datetime(2026, 12, 1, 4, 15, tzinfo=datetime.UTC)
    requests = schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert [r.partition_key for r in requests] == [f"shard-{i:04d}" for i in range(SHARDS)]


@pytest.mark.slow
def test_report_renders_in_headless_chromium(ran, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is installed by `make test`; run it through the Makefile")
    _, root, _ = ran
    report = next((root / "data" / "outputs" / "exports").glob("*/report/quality_report.html"))
    shot = Path(os.environ.get("FUNREASON_ARTIFACTS", tmp_path)) / "quality_report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
        timeout=120, check=True,
    ).stdout
    assert "<h2>Funnel</h2>" in dom and dom.count("<img") >= 5
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,2400",
                    report.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_ui_shows_every_phase_and_the_report(ran):
    """Start the UI on 127.0.0.1, load it in headless Chromium, keep screenshots."""
    import signal
    import time
    import urllib.request

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is installed by `make test`; run it through the Makefile")
    _, root, env = ran
    port = _free_port()
    artifacts = Path(os.environ.get("FUNREASON_ARTIFACTS", root / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
         "-w", str(project_root() / "workspace.yaml")],
        env=env, cwd=project_root(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--virtual-time-budget=30000"]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the UI did not start"
                time.sleep(0.5)
        base = f"http://127.0.0.1:{port}"
        graph = subprocess.run([browser, *flags, "--dump-dom", f"{base}/asset-groups"],
                               capture_output=True, text=True, timeout=120, check=True).stdout
        for group in ("environments", "graph", "sampling", "synthesis", "reasoning",
                      "curation", "export"):
            assert f">{group}<" in graph, group
        report = subprocess.run(
            [browser, *flags, "--dump-dom", f"{base}/assets/quality_report?view=events"],
            capture_output=True, text=True, timeout=120, check=True).stdout
        for section in ("Funnel", "Variant mix", "Directed sampler vs random-walk baseline"):
            assert section in report, section
        for name, url in (("ui_asset_graph.png", f"{base}/asset-groups"),
                          ("ui_quality_report.png", f"{base}/assets/quality_report?view=events")):
            subprocess.run([browser, *flags, f"--screenshot={artifacts / name}",
                            "--window-size=1600,1000", url],
                           capture_output=True, timeout=120, check=True)
            assert (artifacts / name).stat().st_size > 20_000
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
