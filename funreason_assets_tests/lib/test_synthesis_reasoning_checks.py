"""Checks of Phases II and III: each passes on scripted output and fails on a broken record."""

import re

import pytest

from funreason_assets.lib import prompts
from funreason_assets.lib.checks import missing_verdicts
from funreason_assets.lib.llm.settings import ModelSettings
from funreason_assets.lib.reasoning import (
    ACCEPTED_SHARE_CHECK,
    ATTEMPTS_CHECK,
    CHAIN_CHECKS,
    LEAKAGE_CHECK,
    ChainConfig,
    assemble_dialogue,
    build_chains,
    dialogue_counts,
    judge_chains,
)
from funreason_assets.lib.records import FAILURE_KINDS, SPLIT_VARIANTS, QueryDrop
from funreason_assets.lib.roles.dispatch import RoleSet
from funreason_assets.lib.roles.scripted import ScriptedRoles
from funreason_assets.lib.roles.tasks import CritiqueTask
from funreason_assets.lib.synthesis import (
    DROP_SHARE_CHECK,
    QUERY_CHECKS,
    QUERY_RULES_CHECK,
    build_queries,
    judge_queries,
    produced_values,
)
from funreason_assets_tests.conftest import sample_plans

CONFIG = ChainConfig()


@pytest.fixture(scope="module")
def plans(registry, api_graph):
    found = sample_plans(registry, api_graph, "shard-checks", 32)
    assert len(found) >= 10
    return found


@pytest.fixture(scope="module")
def roles(registry):
    return RoleSet(ModelSettings(), registry, slip_rate=0.3, seed=3)


@pytest.fixture(scope="module")
def query_result(plans, registry, roles):
    return build_queries(plans, registry, roles)


@pytest.fixture(scope="module")
def chain_result(plans, query_result, registry, roles):
    return build_chains(plans, query_result.value, registry, roles, CONFIG)


def passed_chain(chains):
    return next(chain for chain in chains if chain.passed)


# ---------------------------------------------------------------------- Phase II


def test_build_queries_judges_every_check_and_keeps_the_metric_keys(query_result):
    assert missing_verdicts(QUERY_CHECKS, query_result.verdicts) == []
    assert list(query_result.metrics) == [
        "rounds_in_plans", "drops_per_rule", "rounds_dropped", "variants", "inferable_share",
        "judged_queries", "generators", "phrasing_version", "model_calls",
    ]
    assert query_result.metrics["generators"]["query_writer"] == "scripted"
    assert query_result.metrics["model_calls"] == {"scripted": True}
    assert len(query_result.tables["preview"]) == min(8, len(query_result.value))


def test_queries_obey_rules_passes_on_kept_queries(plans, query_result):
    verdict = judge_queries(plans, query_result.value, []).verdict(QUERY_RULES_CHECK.name)
    assert verdict.passed
    assert verdict.metadata == {"queries": len(query_result.value), "violating": {}}
    assert verdict.spec.blocking


def test_queries_obey_rules_fails_on_a_query_missing_an_input_value(plans, query_result):
    query = next(q for q in query_result.value if q.advanced_tool.inputs and not q.omitted)
    broken = query.model_copy(update={"query": "Could you take care of it for me, please?"})
    queries = [broken if q is query else q for q in query_result.value]
    verdict = judge_queries(plans, queries, []).verdict(QUERY_RULES_CHECK.name)
    assert not verdict.passed
    assert verdict.metadata["queries"] == len(queries)
    [(violating, rules)] = verdict.metadata["violating"].items()
    assert violating == query.query_id
    assert any(rule.startswith("missing_input:") for rule in rules)


def test_queries_obey_rules_fails_on_a_query_stating_a_tool_produced_value(plans, query_result):
    by_id = {plan.plan_id: plan for plan in plans}
    query, value = next(
        (q, found[0])
        for q in query_result.value
        if (found := produced_values(by_id[q.plan_id], by_id[q.plan_id].rounds[q.round_index]))
    )
    broken = query.model_copy(update={"query": f"{query.query} It is {value}."})
    queries = [broken if q is query else q for q in query_result.value]
    verdict = judge_queries(plans, queries, []).verdict(QUERY_RULES_CHECK.name)
    assert not verdict.passed
    assert any(
        v.startswith("leaks_produced_value:") for v in verdict.metadata["violating"][query.query_id]
    )


def test_queries_obey_rules_fails_on_a_split_round_without_its_follow_up(plans, query_result):
    query = next(q for q in query_result.value if q.variant in SPLIT_VARIANTS)
    broken = query.model_copy(update={"follow_up": None})
    queries = [broken if q is query else q for q in query_result.value]
    verdict = judge_queries(plans, queries, []).verdict(QUERY_RULES_CHECK.name)
    assert not verdict.passed
    assert verdict.metadata["violating"][query.query_id][-1] == (
        "missing_follow_up: split round needs a follow-up"
    )


def drops_for(plans, count):
    rounds = [(plan.plan_id, planned.index) for plan in plans for planned in plan.rounds]
    return [
        QueryDrop(plan_id=plan_id, round_index=index, rule="missing_input", detail="", query="q")
        for plan_id, index in rounds[:count]
    ]


def test_query_drop_share_passes_at_the_threshold(plans, query_result):
    rounds = sum(len(plan.rounds) for plan in plans)
    dropped = int(rounds * 0.2)
    # Two rules on one round count that round once.
    drops = drops_for(plans, dropped) + drops_for(plans, 1)
    result = judge_queries(plans, query_result.value, drops)
    verdict = result.verdict(DROP_SHARE_CHECK.name)
    assert verdict.passed
    assert verdict.metadata == {
        "rounds": rounds, "dropped": dropped, "share": round(dropped / rounds, 4),
        "threshold": 0.2,
    }
    assert result.metrics["rounds_dropped"] == dropped
    assert result.metrics["drops_per_rule"] == {"missing_input": dropped + 1}


def test_query_drop_share_warns_above_the_threshold(plans, query_result):
    rounds = sum(len(plan.rounds) for plan in plans)
    dropped = int(rounds * 0.2) + 2
    verdict = judge_queries(plans, query_result.value, drops_for(plans, dropped)).verdict(
        DROP_SHARE_CHECK.name
    )
    assert not verdict.passed
    assert verdict.spec.severity == "warn" and not verdict.spec.blocking
    assert verdict.metadata["dropped"] == dropped
    assert verdict.metadata["share"] == round(dropped / rounds, 4) > 0.2


# ---------------------------------------------------------------------- Phase III


def test_build_chains_judges_every_check_and_keeps_the_metric_keys(plans, chain_result):
    assert missing_verdicts(CHAIN_CHECKS, chain_result.verdicts) == []
    assert list(chain_result.metrics) == [
        "rounds_attempted", "rounds_verified", "accepted_share", "pass_rate_per_attempt",
        "attempts_histogram", "failure_kinds", "drops", "model_calls_per_accepted_round",
        "tokens_per_accepted_round", "dialogues_verified", "dialogues_dropped", "generators",
        "model_calls",
    ]
    assert chain_result.metrics["generators"]["reasoner"] == "scripted"
    assert len(chain_result.tables["preview"]) == min(10, len(chain_result.value))


def test_dialogue_counts_equal_the_assembled_dialogues(plans, chain_result):
    chains = chain_result.value
    assembled = [assemble_dialogue(plan, chains, CONFIG.min_rounds) for plan in plans]
    with_chains = {chain.plan_id for chain in chains}
    verified = sum(dialogue is not None for dialogue in assembled)
    assert dialogue_counts(chains, CONFIG.min_rounds) == (verified, len(with_chains) - verified)
    assert chain_result.metrics["dialogues_verified"] == verified
    # Keeping four rounds drops the shorter dialogues: the count follows the minimum.
    strict = [assemble_dialogue(plan, chains, 4) for plan in plans]
    assert dialogue_counts(chains, 4)[0] == sum(d is not None for d in strict) < verified
    dropped = judge_chains(chains, CONFIG.model_copy(update={"min_rounds": 4})).metrics
    assert dropped["dialogues_dropped"] == {"too_few_verified_rounds": len(with_chains) - sum(
        d is not None for d in strict)}


def test_kept_reasoning_has_no_leakage_passes_on_scripted_chains(chain_result):
    verdict = chain_result.verdict(LEAKAGE_CHECK.name)
    assert verdict.passed and verdict.spec.blocking
    assert verdict.metadata == {
        "kept_turns": sum(len(c.turns) for c in chain_result.value), "leaking_chains": [],
    }


def test_kept_reasoning_has_no_leakage_fails_on_a_hint_in_the_reasoning(chain_result):
    chain = passed_chain(chain_result.value)
    turn = chain.turns[0].model_copy(update={"reasoning": "Following the hint, I call it."})
    leaking = chain.model_copy(update={"turns": [turn, *chain.turns[1:]]})
    chains = [leaking if c is chain else c for c in chain_result.value]
    verdict = judge_chains(chains, CONFIG).verdict(LEAKAGE_CHECK.name)
    assert not verdict.passed
    assert verdict.metadata["leaking_chains"] == [chain.chain_id]


def test_attempts_well_formed_passes_on_scripted_chains(chain_result):
    verdict = chain_result.verdict(ATTEMPTS_CHECK.name)
    assert verdict.passed and verdict.spec.blocking
    assert verdict.metadata == {"chains": len(chain_result.value), "problems": {}}
    assert any(len(c.attempts) > 1 for c in chain_result.value), "no retry was exercised"


def test_attempts_well_formed_fails_on_more_attempts_than_k_max(chain_result):
    chain = passed_chain(chain_result.value)
    failed = chain.attempts[-1].model_copy(
        update={"passed": False, "failure_kind": "premature_stop", "critique": "Finish it."}
    )
    attempts = [failed] * CONFIG.max_attempts + [chain.attempts[-1]]
    broken = chain.model_copy(update={"attempts": attempts})
    chains = [broken if c is chain else c for c in chain_result.value]
    verdict = judge_chains(chains, CONFIG).verdict(ATTEMPTS_CHECK.name)
    assert not verdict.passed
    assert verdict.metadata["problems"] == {
        chain.chain_id: [f"{len(attempts)} attempts > K_max {CONFIG.max_attempts}"]
    }


def test_attempts_well_formed_fails_on_a_retry_without_a_critique(chain_result):
    chain = passed_chain(chain_result.value)
    failed = chain.attempts[-1].model_copy(
        update={"attempt": 1, "passed": False, "failure_kind": "wrong_argument", "critique": None}
    )
    retry = chain.attempts[-1].model_copy(update={"attempt": 2})
    broken = chain.model_copy(update={"attempts": [failed, retry]})
    chains = [broken if c is chain else c for c in chain_result.value]
    verdict = judge_chains(chains, CONFIG).verdict(ATTEMPTS_CHECK.name)
    assert not verdict.passed
    assert verdict.metadata["problems"] == {
        chain.chain_id: ["attempt 1 retried without a critique"]
    }


def test_accepted_share_passes_above_the_floor(chain_result):
    verdict = chain_result.verdict(ACCEPTED_SHARE_CHECK.name)
    assert verdict.passed
    assert verdict.metadata == {
        "accepted_share": chain_result.metrics["accepted_share"],
        "floor": CONFIG.min_accepted_share,
        "error_floor": CONFIG.min_accepted_share_error,
    }
    assert verdict.metadata["accepted_share"] >= CONFIG.min_accepted_share


def _keeping(chain_result, share):
    attempted = [c for c in chain_result.value if c.attempts]
    kept = int(len(attempted) * share)
    rejected = {c.chain_id for c in attempted[kept:]}
    chains = [
        c.model_copy(update={"passed": False, "turns": [], "drop_reason": "not_verified"})
        if c.chain_id in rejected else c
        for c in chain_result.value
    ]
    return chains, round(sum(c.passed for c in attempted[:kept]) / len(attempted), 3)


def test_accepted_share_warns_below_the_floor(chain_result):
    chains, share = _keeping(chain_result, 0.25)
    verdict = judge_chains(chains, CONFIG).verdict(ACCEPTED_SHARE_CHECK.name)
    assert not verdict.passed
    assert verdict.severity == "warn" and verdict.spec.blocking
    assert verdict.metadata == {"accepted_share": share, "floor": CONFIG.min_accepted_share,
                                "error_floor": CONFIG.min_accepted_share_error}
    assert CONFIG.min_accepted_share_error <= share < CONFIG.min_accepted_share


def test_accepted_share_fails_the_run_below_the_error_floor(chain_result):
    chains, share = _keeping(chain_result, 0.1)
    verdict = judge_chains(chains, CONFIG).verdict(ACCEPTED_SHARE_CHECK.name)
    assert not verdict.passed
    assert verdict.severity == "error" and verdict.spec.blocking
    assert verdict.metadata["accepted_share"] == share < CONFIG.min_accepted_share_error


def test_every_failure_kind_has_a_scripted_critique_and_a_valid_reply(registry):
    tasks = [
        CritiqueTask(key=kind, query="q", failure_kind=kind, diff=[], attempted_calls=[],
                     expected_tools=["ls"], target="ls")
        for kind in FAILURE_KINDS
    ]
    replies = ScriptedRoles(registry).critique(tasks)
    assert [reply.value.failure_kind for reply in replies] == list(FAILURE_KINDS)
    assert all(isinstance(reply.value, prompts.Critique) for reply in replies)


def test_an_id_a_call_makes_is_produced_even_where_a_counter_holds_it(registry, api_graph):
    # A new ticket's id is the state's `ticket_counter`: the user cannot know it, so a query
    # may not state it and the realizer describes it ("the new ticket") instead.
    plans = sample_plans(registry, api_graph, "shard-counters", 120)
    made = 0
    queries = {q.query_id: q for q in build_queries(
        plans, registry, RoleSet(ModelSettings(), registry, slip_rate=0.0, seed=3)).value}
    for plan in plans:
        counters = {
            value for state in plan.initial_config.values()
            for key, value in state.items() if key.endswith("counter")
        }
        for planned in plan.rounds:
            for call in planned.executed_calls():
                for argument in call.arguments:
                    if argument.provenance == "output" and argument.value in counters:
                        made += 1
                        assert argument.value in produced_values(plan, planned), call.call
    assert made >= 3
    for query in queries.values():
        plan = next(p for p in plans if p.plan_id == query.plan_id)
        planned = plan.rounds[query.round_index]
        for value in produced_values(plan, planned):
            assert not re.search(rf"\b{re.escape(str(value))}\b", query.query), query.query
