from collections import Counter

import pytest

from funreason_assets.lib.sampler import PlanSampler, SamplerConfig
from funreason_assets.lib.sampling import (
    coverage,
    duplicate_share,
    plan_distributions,
    replay_problems,
    structure_problems,
)
from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds


@pytest.fixture(scope="module")
def scenarios(registry):
    seeds = shard_seeds("shard-test", 120, 7)
    return [generate_scenario(seed, sorted(registry.classes), 1, 3) for seed in seeds]


def sample_all(registry, graph, scenarios, **config):
    sampler = PlanSampler(registry, graph, SamplerConfig(**config))
    plans = [
        plan
        for s in scenarios
        if (plan := sampler.sample(s.scenario_id, s.seed, s.involved_classes, s.initial_config))
    ]
    return sampler, plans


@pytest.fixture(scope="module")
def directed(registry, api_graph, scenarios):
    return sample_all(registry, api_graph, scenarios)


def test_plans_replay_and_are_well_formed(registry, directed):
    sampler, plans = directed
    assert len(plans) >= 100
    assert sampler.stats.dialogues_attempted == 120
    assert sampler.stats.dialogues_kept == len(plans)
    assert sum(sampler.stats.dropped.values()) == 120 - len(plans)
    for plan in plans:
        assert replay_problems(registry, plan) == []
        assert structure_problems(plan) == []
        assert 2 <= len(plan.rounds) <= 5


def test_rounds_reach_their_target_and_record_provenance(directed):
    _, plans = directed
    provenance = Counter()
    for plan in plans:
        for planned in plan.rounds:
            executed = planned.executed_calls()
            assert planned.target in [call.tool for call in executed]
            assert 1 <= len(executed) <= 6
            for call in executed:
                provenance.update(argument.provenance for argument in call.arguments)
    assert provenance["output"] > 0 and provenance["state"] > 0 and provenance["literal"] > 0


def test_variants_are_planned_and_tagged(directed):
    _, plans = directed
    variants = Counter(planned.variant for plan in plans for planned in plan.rounds)
    assert set(variants) >= {"base", "missing_parameter", "missing_function", "long_context",
                             "error_recovery"}
    for plan in plans:
        for planned in plan.rounds:
            if planned.variant == "missing_parameter":
                target_call = next(c for c in planned.executed_calls() if c.tool == planned.target)
                names = {a.name for a in target_call.arguments if a.provenance == "literal"}
                assert planned.missing_parameter in names
            if planned.variant == "missing_function":
                assert planned.missing_function == planned.target
            if planned.variant == "error_recovery":
                injected = [c for c in planned.calls if c.injected_error]
                assert len(injected) == 1 and injected[0].status == "tool_error"
            if planned.variant == "long_context":
                assert plan.long_context


def test_same_seed_same_plan(registry, api_graph, scenarios):
    _, first = sample_all(registry, api_graph, scenarios[:10])
    _, second = sample_all(registry, api_graph, scenarios[:10])
    assert [p.model_dump() for p in first] == [p.model_dump() for p in second]


def test_directed_sampler_reaches_deeper_than_random_walk(registry, api_graph, scenarios, directed):
    _, plans = directed
    _, random_plans = sample_all(registry, api_graph, scenarios, strategy="random_walk")
    tools = [tool.name for tool in registry.tools()]
    ours, baseline = coverage(plans, tools), coverage(random_plans, tools)
    assert ours["mean_depth"] > baseline["mean_depth"]
    assert ours["share_rounds_depth_2_plus"] > baseline["share_rounds_depth_2_plus"]
    assert all(plan.sampler == "random_walk" for plan in random_plans)


def test_dialogues_below_min_rounds_are_dropped_and_counted(registry, api_graph, scenarios):
    sampler, plans = sample_all(
        registry, api_graph, scenarios[:5], min_rounds=5, max_rounds=5, target_retries=1,
        max_calls=1, min_calls=1,
    )
    assert sampler.stats.dialogues_attempted == 5
    assert sampler.stats.dropped["too_few_rounds"] == 5 - len(plans)
    assert all(len(plan.rounds) == 5 for plan in plans)


def test_distributions_and_duplicates(directed):
    _, plans = directed
    stats = plan_distributions(plans)
    assert stats["dialogues"] == len(plans)
    assert sum(stats["rounds_per_dialogue"].values()) == len(plans)
    share, count = duplicate_share(plans + plans[:3])
    assert count == 3 and share > 0


def test_plans_do_not_depend_on_the_interpreters_hash_seed():
    """Same seeds, two processes with different hash seeds: the same graph and plans."""
    import os
    import subprocess
    import sys

    code = (
        "import funreason_assets, hashlib, json\n"
        "from funreason_assets.lib.registry import ToolRegistry\n"
        "from funreason_assets.lib.graph import graph_to_json\n"
        "from funreason_assets.lib.graph_probe import GraphBuildConfig, build_api_graph\n"
        "from funreason_assets.lib.scenario_sources import probe_scenarios\n"
        "from funreason_assets.lib.sampler import PlanSampler, SamplerConfig\n"
        "from funreason_assets.lib.sampling import plan_fingerprint\n"
        "from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds\n"
        "r = ToolRegistry.builtin()\n"
        "g = build_api_graph(r, probe_scenarios(r, 4, 20251124), GraphBuildConfig())\n"
        "s = PlanSampler(r, g, SamplerConfig())\n"
        "fps = []\n"
        "for seed in shard_seeds('shard-hash', 60, 3):\n"
        "    c = generate_scenario(seed, sorted(r.classes), 1, 3)\n"
        "    p = s.sample(c.scenario_id, c.seed, c.involved_classes, c.initial_config)\n"
        "    fps.append(plan_fingerprint(p) if p else None)\n"
        "print(json.dumps([json.dumps(graph_to_json(g), sort_keys=True, default=str), fps]))\n"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        finished = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, timeout=300, check=True)
        outputs.append(finished.stdout)
    assert outputs[0] == outputs[1]
