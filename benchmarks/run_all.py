"""Run every benchmark in this folder, one after another, and print their JSON results.

Usage: uv run python benchmarks/run_all.py [--quick]

Each benchmark runs in its own process so one's memory and imports do not skew the next.
`--quick` passes smaller sizes for a smoke run; the README's figures come from full runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    # name: (full-size arguments, quick arguments)
    "scenario_bench": ([], ["--scenarios", "500"]),
    "sampler_bench": ([], ["--dialogues", "1000", "--shards", "2"]),
    "llm_bench": ([], ["--quick"]),
    "pipeline_bench": ([], []),
    "lineage_bench": ([], ["--ids", "2", "--repeats", "1"]),
    "ui_launch_bench": ([], ["--shards", "2", "--scenarios", "20"]),
    "scaleout_bench": ([], ["--quick"]),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("only", nargs="*", help="benchmark names (all when omitted)")
    args = parser.parse_args()
    results = {}
    for name, (full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        command = [sys.executable, "-m", f"benchmarks.{name}", *(quick if args.quick else full)]
        finished = subprocess.run(
            command, cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        if finished.returncode != 0:
            sys.stderr.write(finished.stderr)
            return finished.returncode
        results[name] = json.loads(finished.stdout)
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
