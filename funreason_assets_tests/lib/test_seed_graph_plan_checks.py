"""Every check of scenario_seeds, api_graph and ground_truth_plans: one passing, one failing input.

The graph is built once for the module (as the pipeline builds it); failing graphs are copies of
it with one thing broken. Failing seeds and plans are built by hand or by tampering with good
ones, then judged alone.
"""

import random

import pytest

from funreason_assets.lib.checks import missing_verdicts
from funreason_assets.lib.graph import (
    GRAPH_CHECKS,
    GraphProbeSettings,
    build_graph,
    graph_from_json,
    judge_graph,
)
from funreason_assets.lib.sampler import SamplerConfig
from funreason_assets.lib.sampling import (
    PLAN_CHECKS,
    PlanCheckSettings,
    judge_plans,
    sample_shard,
)
from funreason_assets.lib.scenarios.contamination import BfclTestIndex, bfcl_multi_turn_entries
from funreason_assets.lib.scenarios.generators import Scenario, config_fingerprint, twitter_api
from funreason_assets.lib.scenarios.personas import draw_persona
from funreason_assets.lib.scenarios.seeds import (
    SEED_CHECKS,
    InvolvedClassesRange,
    build_seeds,
    judge_seeds,
)

SEED = 20251124
SHARD = "shard-checks"
PNG_MAGIC = b"\x89PNG"


def scenario(config, scenario_id="scn-handmade"):
    return Scenario(
        scenario_id=scenario_id,
        seed=0,
        involved_classes=sorted(config),
        initial_config=config,
        fingerprint=config_fingerprint(config),
    )


@pytest.fixture(scope="module")
def test_index():
    return BfclTestIndex.load()


@pytest.fixture(scope="module")
def seeds(registry):
    return build_seeds(registry, SHARD, 20, SEED, InvolvedClassesRange())


@pytest.fixture(scope="module")
def built(registry):
    """The graph phase as the pipeline runs it (the module's one graph build)."""
    return build_graph(registry, GraphProbeSettings(), SEED)


@pytest.fixture
def graph(built):
    return graph_from_json(built.value)


@pytest.fixture(scope="module")
def sampled(registry, built, seeds):
    return sample_shard(
        registry,
        graph_from_json(built.value),
        seeds.value[:12],
        SHARD,
        SamplerConfig(),
        PlanCheckSettings(),
    )


@pytest.fixture(scope="module")
def plans(sampled):
    return sampled.value


# ---------------------------------------------------------------------- scenario_seeds


def test_generated_seeds_pass_every_check(seeds, test_index):
    assert missing_verdicts(SEED_CHECKS, seeds.verdicts) == []
    assert len(seeds.value) == 20
    loads = seeds.verdict("seeds_load")
    assert loads.passed and loads.metadata == {"checked": 20, "failing": {}}
    diversity = seeds.verdict("seed_diversity")
    assert diversity.passed and diversity.metadata["below_floor"] == {}
    assert diversity.metadata["measured"]["distinct_fingerprints"] == 20
    overlap = seeds.verdict("no_bfcl_overlap")
    assert overlap.passed and overlap.metadata["overlapping"] == {}
    assert overlap.metadata["bfcl_test_configs_indexed"] == test_index.size() > 0
    assert seeds.metrics["diversity"]["scenarios"] == 20
    assert sum(seeds.metrics["class_mix"].values()) >= 20
    assert [row["scenario_id"] for row in seeds.tables["preview"]] == [
        s.scenario_id for s in seeds.value[:10]
    ]


def test_seeds_load_fails_on_a_config_that_cannot_load_or_a_failing_smoke_call(test_index):
    # A directory without its contents: the class cannot load the tree.
    broken_tree = scenario(
        {"GorillaFileSystem": {"root": {"alice": {"type": "directory"}}}}, "scn-no-load"
    )
    rng = random.Random(1)
    twitter = twitter_api(rng, draw_persona(rng))
    first = next(iter(twitter["tweets"]))
    twitter["tweets"] = {first: {**twitter["tweets"][first], "id": 999}}
    lost_tweet = scenario({"TwitterAPI": twitter}, "scn-smoke")

    verdict = judge_seeds([broken_tree, lost_tweet], test_index).verdict("seeds_load")

    assert not verdict.passed
    assert verdict.metadata["checked"] == 2
    failing = verdict.metadata["failing"]
    assert set(failing) == {"scn-no-load", "scn-smoke"}
    assert failing["scn-no-load"] == [
        "GorillaFileSystem: config does not load (KeyError: 'contents')"
    ]
    assert failing["scn-smoke"] == ["TwitterAPI.get_tweet: Tweet with ID 999 not found."]


def test_seed_diversity_fails_when_scenarios_reuse_one_file_and_one_user(test_index):
    config = {
        "GorillaFileSystem": {
            "root": {
                "alice": {
                    "type": "directory",
                    "contents": {"notes.txt": {"type": "file", "content": "groceries"}},
                }
            }
        },
        "MessageAPI": {
            "user_count": 1,
            "user_map": {"Alice": "USR001"},
            "inbox": [{"USR001": "see you at noon"}],
            "message_count": 1,
            "current_user": None,
            "random_seed": 1,
        },
    }
    # Distinct fingerprints, so only the reused names fall below their floors.
    copies = [
        scenario(config).model_copy(update={"scenario_id": f"scn-{i}", "fingerprint": f"fp-{i}"})
        for i in range(20)
    ]

    verdict = judge_seeds(copies, test_index).verdict("seed_diversity")

    assert not verdict.passed
    assert verdict.spec.severity == "warn"
    below = verdict.metadata["below_floor"]
    assert below["distinct_file_names"] == {"measured": 1, "floor": 8}
    assert below["distinct_user_names"] == {"measured": 1, "floor": 2}
    assert "distinct_fingerprints" not in below
    assert verdict.metadata["measured"]["distinct_fingerprints"] == 20


def test_no_bfcl_overlap_fails_on_a_bfcl_test_config(test_index):
    entry = next(e for e in bfcl_multi_turn_entries() if e.get("initial_config"))
    copied = scenario(entry["initial_config"], "scn-bfcl")

    verdict = judge_seeds([copied], test_index).verdict("no_bfcl_overlap")

    assert not verdict.passed
    assert verdict.metadata["checked"] == 1
    found = verdict.metadata["overlapping"]["scn-bfcl"]
    assert any("initial config equals a BFCL test config" in item for item in found)


# ---------------------------------------------------------------------- api_graph


def test_built_graph_passes_every_check_with_its_stats_table_and_picture(registry, built):
    assert missing_verdicts(GRAPH_CHECKS, built.verdicts) == []
    tools = len(registry.tools())
    nodes = built.verdict("every_tool_is_a_node")
    assert nodes.passed and nodes.metadata == {"tools": tools, "missing": []}
    known = built.verdict("known_dependencies_found")
    assert known.passed and known.metadata == {"missing": []}
    evidence = built.verdict("edges_have_evidence")
    assert evidence.passed and evidence.metadata["without_evidence"] == []
    assert evidence.metadata["edges"] == built.metrics["edges"] == len(built.value["edges"])
    assert built.metrics["nodes"] == tools
    assert built.metrics["edges_per_kind"]["state"] > 0
    assert built.metrics["max_prerequisite_depth"] >= 2
    assert built.metrics["probe_scenarios"] > len(registry.classes)
    rows = {row["tool"]: row for row in built.tables["prerequisites"]}
    assert len(rows) == built.metrics["tools_with_prerequisites"]
    assert "(message_login)" in rows["send_message"]["prerequisites (AND of OR-groups)"]
    assert built.pictures["picture"].png.startswith(PNG_MAGIC)


def test_every_tool_is_a_node_fails_without_a_tool_node(registry, graph):
    broken = graph.copy()
    broken.remove_node("mean")

    verdict = judge_graph(broken, registry).verdict("every_tool_is_a_node")

    assert not verdict.passed
    assert verdict.metadata == {"tools": len(registry.tools()), "missing": ["mean"]}


def test_known_dependencies_found_fails_without_a_known_edge(registry, graph):
    broken = graph.copy()
    broken.remove_edge("message_login", "send_message")

    verdict = judge_graph(broken, registry).verdict("known_dependencies_found")

    assert not verdict.passed
    assert verdict.metadata["missing"] == ["message_login -> send_message (state)"]


def test_edges_have_evidence_fails_on_an_edge_without_its_probe(registry, graph):
    broken = graph.copy()
    broken.add_edge("ls", "cat", kinds=["state"], evidence=[])

    result = judge_graph(broken, registry)
    verdict = result.verdict("edges_have_evidence")

    assert not verdict.passed
    assert verdict.metadata["without_evidence"] == ["ls -> cat (state)"]
    assert verdict.metadata["edges"] == broken.number_of_edges()


# ---------------------------------------------------------------------- ground_truth_plans


def test_sampled_shard_passes_the_blocking_checks_and_compares_with_random_walk(sampled):
    assert missing_verdicts(PLAN_CHECKS, sampled.verdicts) == []
    plans = sampled.value
    assert len(plans) >= 10
    replay = sampled.verdict("plans_replay_deterministically")
    assert replay.passed and replay.metadata == {"plans": len(plans), "diverging": {}}
    rounds = sampled.verdict("rounds_well_formed")
    assert rounds.passed and rounds.metadata == {"plans": len(plans), "problems": {}}
    metrics = sampled.metrics
    assert metrics["dialogues_attempted"] == 12
    assert sum(metrics["dialogues_dropped"].values()) == 12 - len(plans)
    assert metrics["distributions"]["dialogues"] == len(plans)
    assert metrics["coverage_directed"]["dialogues"] == len(plans)
    assert metrics["coverage_random_walk"]["tools"] == metrics["coverage_directed"]["tools"]
    table = sampled.tables["coverage_comparison"]
    assert [row["sampler"] for row in table] == ["directed", "random walk"]
    assert "tools" not in table[0] and "mean_depth" in table[0]
    assert sampled.pictures["coverage_picture"].png.startswith(PNG_MAGIC)


def test_replay_fails_on_a_tampered_result(registry, plans):
    plan = plans[0]
    first_round = plan.rounds[0]
    call = first_round.executed_calls()[0]
    tampered_call = call.model_copy(update={"output": {"tampered": True}})
    calls = [tampered_call if c is call else c for c in first_round.calls]
    tampered = plan.model_copy(
        update={"rounds": [first_round.model_copy(update={"calls": calls}), *plan.rounds[1:]]}
    )

    verdict = judge_plans(registry, [tampered], [], PlanCheckSettings()).verdict(
        "plans_replay_deterministically"
    )

    assert not verdict.passed
    assert verdict.metadata["plans"] == 1
    problems = verdict.metadata["diverging"][plan.plan_id]
    assert any("output differs" in problem for problem in problems)
    assert len(problems) <= 3


def test_rounds_well_formed_fails_on_a_round_without_its_target(registry, plans):
    plan = plans[0]
    no_target = plan.rounds[0].model_copy(update={"target": "not_a_called_tool"})
    broken = plan.model_copy(update={"rounds": [no_target, *plan.rounds[1:]]})

    verdict = judge_plans(registry, [broken], [], PlanCheckSettings()).verdict(
        "rounds_well_formed"
    )

    assert not verdict.passed
    assert verdict.metadata["problems"] == {
        plan.plan_id: ["round 0: target not_a_called_tool missing"]
    }


def test_tool_coverage_passes_when_met_and_fails_below_the_floor(registry, plans):
    targeted = sorted({planned.target for plan in plans for planned in plan.rounds})
    applying = PlanCheckSettings(coverage_rounds_per_tool=0)
    met = judge_plans(registry, plans, targeted, applying).verdict("tool_coverage")
    assert met.passed
    assert met.metadata == {
        "tools": len(targeted), "min_target_count": 1, "below": [], "targeted": len(targeted),
        "unreachable": [], "applies": True, "rounds": sum(len(p.rounds) for p in plans),
    }

    checks = PlanCheckSettings(min_target_count=1000, coverage_rounds_per_tool=0)
    unmet = judge_plans(registry, plans, targeted, checks).verdict("tool_coverage")
    assert not unmet.passed
    assert unmet.spec.blocking
    assert unmet.metadata["below"] == targeted
    assert unmet.metadata["targeted"] == 0
    assert unmet.metadata["min_target_count"] == 1000


def test_duplicate_plans_passes_when_distinct_and_fails_when_repeated(sampled, registry, plans):
    distinct = sampled.verdict("duplicate_plans")
    assert distinct.passed
    assert distinct.metadata == {"duplicates": 0, "share": 0.0, "threshold": 0.02}

    repeated = judge_plans(registry, plans + plans, [], PlanCheckSettings()).verdict(
        "duplicate_plans"
    )
    assert not repeated.passed
    assert repeated.spec.severity == "warn"
    assert repeated.metadata == {"duplicates": len(plans), "share": 0.5, "threshold": 0.02}
