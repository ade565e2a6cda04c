"""Scenario seeds per second on one core: generate, load with smoke calls, decontaminate.

Usage: uv run python benchmarks/scenario_bench.py [--scenarios 5000]

Three stages are timed separately because the asset runs all three: generating the initial
config from the seed, loading every involved class and running its read-only smoke calls
(`validate_scenario`), and checking the config against BFCL's multi-turn test index.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import funreason_assets  # noqa: F401
from funreason_assets.lib.packs import BFCL_V3_CLASSES
from funreason_assets.lib.scenarios.contamination import BfclTestIndex
from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds
from funreason_assets.lib.scenarios.seeds import diversity_stats, validate_scenario


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", type=int, default=5_000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    classes = sorted(BFCL_V3_CLASSES)
    index = BfclTestIndex.load()
    seeds = shard_seeds("bench", args.scenarios, 20251124)

    started = time.perf_counter()
    scenarios = [generate_scenario(seed, classes, 1, 3) for seed in seeds]
    generated = time.perf_counter()
    problems = sum(1 for scenario in scenarios if validate_scenario(scenario))
    loaded = time.perf_counter()
    overlaps = sum(1 for scenario in scenarios if index.config_overlaps(scenario))
    checked = time.perf_counter()

    total = checked - started
    result = {
        "scenarios": len(scenarios),
        "generate_per_second": round(len(scenarios) / (generated - started)),
        "load_and_smoke_per_second": round(len(scenarios) / (loaded - generated)),
        "decontaminate_per_second": round(len(scenarios) / (checked - loaded)),
        "generate_and_load_per_second_one_core": round(len(scenarios) / (loaded - started)),
        "all_three_per_second_one_core": round(len(scenarios) / total),
        "scenarios_that_fail_to_load": problems,
        "scenarios_overlapping_bfcl": overlaps,
        "diversity_per_250": diversity_stats(scenarios[:250]),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
