"""End to end: the main job on the offline default, every asset, timed per asset.

Usage: uv run python -m benchmarks.pipeline_bench

Runs `python -m funreason_assets.cli run` (the README's main command) in a fresh Dagster
instance and a fresh output folder, so nothing is reused from an earlier run, with the
checked-in configuration (4 shards x 250 scenarios: about 1,000 dialogues). Reports the wall
time including Dagster, the seconds of every asset summed over the shard runs, and the
curation counts per filter from the curated asset's metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        shutil.copytree(ROOT / "data" / "config", project / "data" / "config")
        home = project / ".dagster_home"
        home.mkdir()
        shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(project), "DAGSTER_HOME": str(home)}
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-m", "funreason_assets.cli", "run"], env=env, cwd=ROOT,
            capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - started
        if finished.returncode != 0:
            sys.stderr.write(finished.stderr[-4000:])
            raise SystemExit(finished.returncode)
        summary = json.loads(finished.stdout)
        per_asset: Counter[str] = Counter()
        for run in summary["runs"]:
            per_asset.update(run["seconds_per_asset"])
        curated = _curation_metadata(env)
        result = {
            "wall_seconds_including_dagster": round(wall, 1),
            "seconds_per_run": {run["run"]: run["seconds"] for run in summary["runs"]},
            "seconds_per_asset": {k: round(v, 2) for k, v in per_asset.most_common()},
            "warnings": sorted({w for run in summary["runs"] for w in run["warnings"]}),
            **curated,
        }
    print(json.dumps(result, indent=2))


def _curation_metadata(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "out = {}\n"
        "for key in ('ground_truth_plans', 'hard_queries', 'reasoning_chains',"
        " 'curated_dialogues', 'bfcl_dataset'):\n"
        "    rs = i.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(key)),"
        " limit=100).records\n"
        "    out[key] = [{k: v.value for k, v in r.asset_materialization.metadata.items()"
        " if k in ('dagster/row_count', 'drops_per_rule', 'verified_dialogues', 'entries',"
        " 'not_expressible_in_bfcl', 'dialogues_verified')} for r in rs]\n"
        "print(json.dumps(out, default=str))\n"
    )
    finished = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
    data = json.loads(finished.stdout)
    curated = data["curated_dialogues"][0]
    return {
        "dialogue_plans": sum(m["dagster/row_count"] for m in data["ground_truth_plans"]),
        "hard_queries": sum(m["dagster/row_count"] for m in data["hard_queries"]),
        "dialogues_verified": curated["verified_dialogues"],
        "curated_dialogues": curated["dagster/row_count"],
        "curation_drops_per_filter": curated["drops_per_rule"],
        "kept_but_not_expressible_in_bfcl": curated.get("not_expressible_in_bfcl"),
        "bfcl_entries": data["bfcl_dataset"][0]["entries"],
    }


if __name__ == "__main__":
    main()
