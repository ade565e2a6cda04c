"""Lineage lookup: `cli lineage <id>` from the export's index vs scanning the stored assets.

Usage: uv run python -m benchmarks.lineage_bench [--project PATH] [--ids 5] [--repeats 3]

Without `--project`, runs the main command (`cli run`, checked-in configuration) in a fresh
project folder first. Then, for a few exported ids (BFCL entry ids and dialogue ids), times the
whole command in a new process each time (interpreter start included):
- `index`: `python -m funreason_assets.cli lineage <id>` (reads one row of the lineage index);
- `scan`: what the command did before the index: import the CLI (and with it Dagster), then
  read every stored asset to find the dialogue (`lineage.scan_story`).
Both must print the same story for every id.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCAN = (
    "import sys, funreason_assets.cli\n"
    "from funreason_assets.lineage import scan_story\n"
    "sys.stdout.write(scan_story(sys.argv[1]) + '\\n')\n"
)


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def _ids(project: Path, count: int) -> list[str]:
    exports = project / "data" / "outputs" / "exports"
    run = exports / (exports / "LATEST").read_text(encoding="utf-8").strip()
    id_map = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["bfcl"]["id_map"]
    pairs = sorted(id_map.items())
    step = max(1, len(pairs) // count)
    chosen = pairs[::step][:count]
    # Half by BFCL entry id, half by dialogue id.
    return [entry if i % 2 == 0 else dialogue for i, (dialogue, entry) in enumerate(chosen)]


def measure(project: Path, count: int, repeats: int) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FUNREASON_OUTPUTS_ROOT", "FUNREASON_ASSET_STORE")}
    env.update(FUNREASON_PROJECT_ROOT=str(project), DAGSTER_HOME=str(project / ".dagster_home"))
    seconds: dict[str, list[float]] = {"index": [], "scan": []}
    ids = _ids(project, count)
    for identifier in ids:
        for _ in range(repeats):
            indexed, story = _timed(
                [sys.executable, "-m", "funreason_assets.cli", "lineage", identifier], env)
            seconds["index"].append(indexed)
        scanned, scan_story = _timed([sys.executable, "-c", SCAN, identifier], env)
        seconds["scan"].append(scanned)
        if story != scan_story:
            raise SystemExit(f"{identifier}: the index and the scan tell different stories")
    summary = {
        name: {"median_s": round(statistics.median(values), 3),
               "max_s": round(max(values), 3), "runs": len(values)}
        for name, values in seconds.items()
    }
    return {
        "ids": ids,
        "same_story": True,
        **summary,
        "speedup_median": round(
            statistics.median(seconds["scan"]) / statistics.median(seconds["index"]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, help="a project folder with an export")
    parser.add_argument("--ids", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.project is not None:
        print(json.dumps(measure(args.project, args.ids, args.repeats), indent=2))
        return
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        shutil.copytree(ROOT / "data" / "config", project / "data" / "config")
        home = project / ".dagster_home"
        home.mkdir()
        shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(project), "DAGSTER_HOME": str(home)}
        env.pop("FUNREASON_OUTPUTS_ROOT", None)
        env.pop("FUNREASON_ASSET_STORE", None)
        subprocess.run([sys.executable, "-m", "funreason_assets.cli", "run"], env=env, cwd=ROOT,
                       capture_output=True, check=True)
        print(json.dumps(measure(project, args.ids, args.repeats), indent=2))


if __name__ == "__main__":
    main()
