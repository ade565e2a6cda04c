"""Phase I throughput: plans per second on one core (generate + execute + verify), and memory.

Usage: uv run python benchmarks/sampler_bench.py [--dialogues 10000] [--shards 10]

The scenarios are generated up front (their cost is the scenario benchmark's); what is timed
is the sampler walking, executing every call, and the replay verification of every plan.
Peak RSS is read after each shard to show memory does not grow with shards run in sequence.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import resource
import time

import funreason_assets  # noqa: F401
from funreason_assets.lib.graph_probe import GraphBuildConfig, build_api_graph
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.sampler import PlanSampler, SamplerConfig
from funreason_assets.lib.sampling import replay_problems
from funreason_assets.lib.scenario_sources import probe_scenarios
from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def scenario_fields(sampler: PlanSampler, scenario: object) -> dict[str, object]:
    """The persona and goal class a scenario carries, as far as this sampler takes them."""
    accepted = inspect.signature(sampler.sample).parameters
    fields = {"persona": getattr(scenario, "persona", {}),
              "key_class": getattr(scenario, "key_class", "")}
    return {name: value for name, value in fields.items() if name in accepted}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=10)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    registry = ToolRegistry.builtin()
    graph = build_api_graph(registry, probe_scenarios(registry, 4, 20251124), GraphBuildConfig())
    classes = sorted(registry.classes)
    per_shard = args.dialogues // args.shards
    sampler = PlanSampler(registry, graph, SamplerConfig())
    totals = {"plans": 0, "calls": 0, "rounds": 0, "sample_s": 0.0, "verify_s": 0.0,
              "diverging": 0}
    rss = []
    for shard in range(args.shards):
        scenarios = [
            generate_scenario(seed, classes, 1, 3)
            for seed in shard_seeds(f"shard-{shard:04d}", per_shard, 20251124)
        ]
        started = time.perf_counter()
        plans = [
            plan
            for s in scenarios
            if (plan := sampler.sample(s.scenario_id, s.seed, s.involved_classes,
                                       s.initial_config, **scenario_fields(sampler, s)))
        ]
        sampled = time.perf_counter()
        totals["diverging"] += sum(1 for plan in plans if replay_problems(registry, plan))
        totals["verify_s"] += time.perf_counter() - sampled
        totals["sample_s"] += sampled - started
        totals["plans"] += len(plans)
        totals["calls"] += sum(
            len(planned.executed_calls()) for plan in plans for planned in plan.rounds
        )
        totals["rounds"] += sum(len(plan.rounds) for plan in plans)
        del plans, scenarios
        gc.collect()
        rss.append(round(rss_mb(), 1))
    elapsed = totals["sample_s"] + totals["verify_s"]
    result = {
        "dialogues_attempted": per_shard * args.shards,
        "plans": totals["plans"],
        "plans_per_second_one_core": round(totals["plans"] / elapsed, 1),
        "calls_per_second_one_core": round(totals["calls"] / elapsed, 1),
        "calls_per_round": round(totals["calls"] / max(totals["rounds"], 1), 2),
        "sample_seconds": round(totals["sample_s"], 2),
        "verify_seconds": round(totals["verify_s"], 2),
        "diverging_plans": totals["diverging"],
        "rss_mb_after_each_shard": rss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "dropped": dict(sampler.stats.dropped),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
