"""Work launched the way a user launches it: `dagster dev`, then the UI's GraphQL mutations.

One shard of `generate_dataset` is launched as the launchpad does (`launchPipelineExecution`
with the partition tag), then a backfill of every shard as the job's partitions page does
(`launchPartitionBackfill`); the daemon queues and starts each run in its own worker. Headless
Chromium then reads the run, backfill and asset pages: per-asset progress, every check's result,
and the column schema. Screenshots are kept in the test artifacts folder (and, when
`FUNREASON_UI_DOCS` names a folder, small copies for the README go there). The wall times are
written to `ui_launch_timings.json` beside them; `benchmarks/ui_launch_bench.py` measures them
at full size.
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from funreason_assets.lib.paths import project_root
from funreason_assets.testing.ui_server import run_dagster_dev, run_timeline, small_png

pytestmark = pytest.mark.slow

SHARDS = 2
SCENARIOS = 8
SHARD_ASSETS = ["scenario_seeds", "ground_truth_plans", "hard_queries", "reasoning_chains"]
JOB_ASSETS = ["tool_catalog", "api_graph", *SHARD_ASSETS]
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--virtual-time-budget=20000"]


@pytest.fixture(scope="module")
def browser():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is installed by `make test`; run it through the Makefile")
    return found


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = Path(os.environ.get("FUNREASON_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def deployment(browser, tmp_path_factory):
    """`dagster dev` over a small project (2 shards of 8 scenarios), instance in a tmp folder."""
    root = tmp_path_factory.mktemp("ui_project")
    shutil.copytree(project_root() / "data" / "config", root / "data" / "config")
    generation = root / "data" / "config" / "generation.yaml"
    config = yaml.safe_load(generation.read_text(encoding="utf-8"))
    config.update(shards=SHARDS, scenarios_per_shard=SCENARIOS)
    # The smallest probe budget that still finds every known BFCL dependency.
    config["graph_probe"] = {"scenarios_per_class": 3, "binds_per_tool": 4}
    generation.write_text(yaml.safe_dump(config), encoding="utf-8")
    home = root / ".dagster_home"
    home.mkdir()
    shutil.copy(project_root() / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(root), "DAGSTER_HOME": str(home)}
    env.pop("FUNREASON_OUTPUTS_ROOT", None)
    env.pop("FUNREASON_ASSET_STORE", None)
    started = time.perf_counter()
    # The daemon may finish starting while the first run waits in its queue.
    with run_dagster_dev(project_root() / "workspace.yaml", env, project_root(),
                         log=root / "dagster_dev.log", daemons=False) as dev:
        yield dev, time.perf_counter() - started


def _page(browser: str, url: str, profile: Path, shot: Path | None = None) -> str:
    """The page's text after its scripts ran (and a screenshot of it, if asked)."""
    flags = [*FLAGS, f"--user-data-dir={profile}", "--window-size=1400,900"]
    if shot is not None:
        flags.append(f"--screenshot={shot}")
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    dom = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def _expected_checks(assets: list[str]) -> set[str]:
    described = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["assets"]
    return {check for asset in assets for check in described[asset]["checks"]}


def _check_results(run: dict) -> dict[str, dict]:
    return {
        event["evaluation"]["checkName"]: event["evaluation"]
        for event in run["events"] if event["__typename"] == "AssetCheckEvaluationEvent"
    }


def _keep(shot: Path) -> None:
    assert shot.stat().st_size > 20_000, shot
    docs = os.environ.get("FUNREASON_UI_DOCS")
    if docs:
        small_png(shot, Path(docs) / shot.name)


def test_a_shard_and_a_backfill_launched_from_the_ui(deployment, browser, artifacts, tmp_path):
    dev, startup = deployment
    timings: dict[str, object] = {"dagster_dev_ready_seconds": round(startup, 1)}

    started = time.perf_counter()
    run_id = dev.launch_partition_run("generate_dataset", "shard-0000")
    assert dev.wait_for_runs([run_id], timeout=300) == {run_id: "SUCCESS"}
    timings["one_shard_run_seconds"] = round(time.perf_counter() - started, 1)
    run = dev.run(run_id)
    timings["one_shard_run"] = run_timeline(run)
    assert {s["stepKey"] for s in run["stepStats"]} == set(JOB_ASSETS)
    assert all(s["status"] == "SUCCESS" for s in run["stepStats"])
    results = _check_results(run)
    assert set(results) == _expected_checks(JOB_ASSETS)
    assert all(r["success"] for r in results.values() if r["severity"] == "ERROR"), results
    messages = [event.get("message") or "" for event in run["events"]]
    for what in ("scenarios sampled", "plans with queries", "plans reasoned"):
        assert any(re.search(rf"{what}: (\d+) / \1 done \(100%\)", m) for m in messages), what

    # The backfill of every shard, of the shard assets (the catalog and graph are current).
    started = time.perf_counter()
    shards = [f"shard-{index:04d}" for index in range(SHARDS)]
    backfill_id = dev.launch_backfill("generate_dataset", shards, asset_selection=SHARD_ASSETS)

    # While the daemon picks the backfill up, the run page of the first run: every asset's
    # step, the progress lines, each check's result.
    shot = artifacts / "ui_run.png"
    page = _page(browser, f"{dev.url}/runs/{run_id}", tmp_path / "profile", shot)
    _keep(shot)
    assert "Success" in page and "partition: shard-0000" in page
    assert f"{len(JOB_ASSETS)} assets" in page and f"{len(results)} checks" in page
    assert f"Succeeded ({len(JOB_ASSETS)})" in page
    assert re.search(r"plans reasoned: (\d+) / \1 done \(100%\)", page)
    assert re.search(r"Check \w+ succeeded for materialization of reasoning_chains", page)

    backfill = dev.wait_for_backfill(backfill_id, runs=SHARDS, timeout=300)
    timings["backfill_runs_seconds"] = round(time.perf_counter() - started, 1)
    assert sorted(r["status"] for r in backfill["runs"]) == ["SUCCESS"] * SHARDS
    backfill_runs = [dev.run(r["runId"]) for r in backfill["runs"]]
    timings["backfill_runs"] = [run_timeline(r) for r in backfill_runs]
    for shard_run in backfill_runs:
        assert {s["stepKey"] for s in shard_run["stepStats"]} == set(SHARD_ASSETS)
        assert set(_check_results(shard_run)) == _expected_checks(SHARD_ASSETS)
    (artifacts / "ui_launch_timings.json").write_text(json.dumps(timings, indent=2))

    shot = artifacts / "ui_backfill.png"
    page = _page(browser, f"{dev.url}/runs/b/{backfill_id}?tab=runs", tmp_path / "profile", shot)
    _keep(shot)
    assert f"{SHARDS} partitions" in page and page.count("Success") >= SHARDS
    assert all(f"partition: {shard}" in page for shard in shards)

    # The asset page: its column schema (with the record fields' types) and its checks.
    shot = artifacts / "ui_asset_columns.png"
    page = _page(browser, f"{dev.url}/assets/ground_truth_plans", tmp_path / "profile", shot)
    _keep(shot)
    assert "Columns" in page and "json list[PlannedRound]" in page and "plan_id" in page
