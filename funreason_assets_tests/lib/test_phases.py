"""Phases II and III with the scripted roles: advanced tools, query rules, the iterative chain."""

from collections import Counter

import pytest

from funreason_assets.lib import prompts
from funreason_assets.lib.executor import ParsedCall, execute_call
from funreason_assets.lib.llm.settings import ModelSettings
from funreason_assets.lib.phrasing import goal_phrase
from funreason_assets.lib.reasoning import (
    LEAKAGE,
    ChainConfig,
    assemble_dialogue,
    chain_stats,
    dialogue_counts,
    run_chains,
)
from funreason_assets.lib.roles.dispatch import RoleSet
from funreason_assets.lib.roles.scripted import ScriptedRoles
from funreason_assets.lib.roles.tasks import RoleResult
from funreason_assets.lib.state import diff_states
from funreason_assets.lib.synthesis import (
    abstract_round,
    check_query,
    synthesize_queries,
)
from funreason_assets_tests.conftest import sample_plans


@pytest.fixture(scope="module")
def plans(registry, api_graph):
    found = sample_plans(registry, api_graph, "shard-phases", 70)
    return found


@pytest.fixture(scope="module")
def roles(registry):
    return RoleSet(ModelSettings(), registry, slip_rate=0.3, seed=3)


@pytest.fixture(scope="module")
def queries(plans, registry, roles):
    return synthesize_queries(plans, registry, roles)


@pytest.fixture(scope="module")
def chains(plans, queries, registry, roles):
    kept = [q for outcome in queries for q in outcome.queries]
    return run_chains(plans, kept, registry, roles, ChainConfig())


def round_with_hidden_step(plans):
    for plan in plans:
        for planned in plan.rounds:
            target = next(c for c in planned.executed_calls() if c.tool == planned.target)
            tool_outputs = [
                a for a in target.arguments
                if a.provenance == "output" and a.source.startswith(f"{planned.index}.")
            ]
            if tool_outputs and planned.variant == "base":
                return plan, planned
    raise AssertionError("no round passes a produced value between calls")


def test_advanced_tool_inputs_are_the_free_values_and_intermediates_stay_hidden(plans, registry):
    plan, planned = round_with_hidden_step(plans)
    tool = abstract_round(plan, planned, registry, "scripted")
    free = [a for c in planned.executed_calls() for a in c.arguments if a.provenance != "output"]
    assert {repr(a.value) for a in free} == {repr(i.value) for i in tool.inputs}
    assert tool.output_of == planned.target
    assert [s.tool for s in tool.decomposition] == [c.tool for c in planned.executed_calls()]
    bindings = [b for s in tool.decomposition for b in s.bindings.values()]
    assert any(b.startswith("call:") for b in bindings)
    assert set(tool.parameters["properties"]) == {i.name for i in tool.inputs}
    assert tool.hidden_intermediates and planned.target not in tool.hidden_intermediates


def test_query_rules_catch_each_violation(plans, registry):
    plan, planned = round_with_hidden_step(plans)
    tool = abstract_round(plan, planned, registry, "scripted")
    statable = [i for i in tool.inputs if isinstance(i.value, str | int) and
                not isinstance(i.value, bool)]
    values = " ".join(str(i.value) for i in tool.inputs if not isinstance(i.value, bool))
    good = f"Please handle this for {values}."
    assert [v.rule for v in check_query(good, None, plan, planned, tool, None)] == []
    if statable:
        dropped = good.replace(str(statable[0].value), "something")
        rules = {v.rule for v in check_query(dropped, None, plan, planned, tool, None)}
        assert "missing_input" in rules
    hidden = tool.hidden_intermediates[0]
    rules = {v.rule for v in check_query(f"First call {hidden}. {good}", None, plan, planned,
                                         tool, None)}
    assert "names_intermediate" in rules
    produced = next(a.value for c in planned.executed_calls() for a in c.arguments
                    if a.provenance == "output")
    leaked = f"{good} Use {produced} for it."
    rules = {v.rule for v in check_query(leaked, None, plan, planned, tool, None)}
    from funreason_assets.lib.synthesis import produced_values
    assert ("leaks_produced_value" in rules) == bool(produced_values(plan, planned))
    if statable:
        omitted = {statable[0].name: statable[0].value}
        rules = {v.rule for v in check_query(good, "no value here", plan, planned, tool, omitted)}
        assert {"omitted_value_present", "omitted_value_not_supplied"} <= rules


def test_goal_phrase_turns_docs_into_requests():
    assert goal_phrase("Retrieves the weather. More text.") == "retrieve the weather"
    assert goal_phrase("This tool belongs to X. Tool description: Searches files.") == (
        "search files"
    )


def test_scripted_queries_pass_every_rule_and_vary(queries, plans):
    kept = [q for outcome in queries for q in outcome.queries]
    drops = Counter(d.rule for outcome in queries for d in outcome.drops)
    rounds = sum(len(plan.rounds) for plan in plans)
    assert len(kept) >= 0.9 * rounds, drops
    by_plan = {plan.plan_id: plan for plan in plans}
    for query in kept:
        plan = by_plan[query.plan_id]
        assert not check_query(query.query, query.follow_up, plan,
                               plan.rounds[query.round_index], query.advanced_tool, query.omitted,
                               query.inferable)
    openings = Counter(q.query.split(" ")[0] for q in kept)
    assert len(openings) >= 6
    split = [q for q in kept if q.variant in ("missing_parameter", "missing_function")]
    assert split and all(q.follow_up for q in split)
    assert all(q.generator == "scripted" for q in kept)


def test_chains_verify_rounds_and_exercise_the_critic(chains):
    all_chains = [c for outcome in chains for c in outcome.chains]
    stats = chain_stats(all_chains, 3)
    assert stats["accepted_share"] >= 0.95, stats
    retried = [c for c in all_chains if len(c.attempts) > 1]
    assert retried, "the slip rate should force some second attempts"
    for chain in retried:
        failed = chain.attempts[0]
        assert not failed.passed and failed.failure_kind and failed.critique
        assert failed.diff
    for chain in all_chains:
        if chain.passed:
            assert chain.attempts[-1].passed and chain.turns
            assert not any(LEAKAGE.search(turn.reasoning) for turn in chain.turns)
            assert all(turn.reply for turn in chain.turns)
    verified, _ = dialogue_counts(all_chains, ChainConfig().min_rounds)
    assert verified >= 0.9 * len(chains)


def test_split_rounds_ask_or_decline_before_acting(chains):
    all_chains = [c for outcome in chains for c in outcome.chains if c.passed]
    asked = [c for c in all_chains if c.variant == "missing_parameter"]
    declined = [c for c in all_chains if c.variant == "missing_function"]
    assert asked and declined
    for chain in asked + declined:
        first, second = chain.turns
        assert not any(step.calls for step in first.steps)
        assert first.reply and any(step.calls for step in second.steps)
    for chain in declined:
        assert chain.turns[0].tools_hidden


def test_error_recovery_rounds_see_the_injected_error_and_retry(chains):
    recovered = [c for outcome in chains for c in outcome.chains
                 if c.passed and c.variant == "error_recovery"]
    assert recovered
    for chain in recovered:
        turn = chain.turns[0]
        assert turn.error_tool_response
        statuses = [s for step in turn.steps for s in step.statuses]
        assert "tool_error" in statuses


def test_verified_state_equals_ground_truth(plans, chains, registry):
    """Re-execute the kept calls of each verified dialogue and compare with the plan's state."""
    by_plan = {plan.plan_id: plan for plan in plans}
    checked = 0
    for outcome in chains[:15]:
        plan = by_plan[outcome.chains[0].plan_id]
        dialogue = assemble_dialogue(plan, outcome.chains, ChainConfig().min_rounds)
        if dialogue is None:
            continue
        env = registry.environment(plan.involved_classes, plan.initial_config, plan.long_context)
        truth = registry.environment(plan.involved_classes, plan.initial_config,
                                     plan.long_context)
        for index, turns in zip(dialogue.rounds, _turns_per_round(dialogue, plan), strict=True):
            for turn in turns:
                for step in turn.steps:
                    for call, status in zip(step.calls, step.statuses, strict=True):
                        if status == "tool_error" and turn.error_tool_response:
                            continue  # the injected failure never ran
                        from funreason_assets.lib.executor import parse_calls
                        [parsed] = parse_calls(call)
                        execute_call(env, parsed)
            for call in plan.rounds[index].executed_calls():
                execute_call(truth, ParsedCall(call.tool, (), call.argument_values()))
            assert diff_states(truth.state(), env.state()) == []
            checked += 1
    assert checked >= 10


def _turns_per_round(dialogue, plan):
    position = 0
    grouped = []
    for index in dialogue.rounds:
        count = 2 if plan.rounds[index].variant in ("missing_parameter", "missing_function") else 1
        grouped.append(dialogue.turns[position : position + count])
        position += count
    return grouped


class Idle(ScriptedRoles):
    """A reasoner that never calls anything: every act turn must fail."""

    def reason(self, tasks):
        return [RoleResult(prompts.ReasonerStep(reasoning="Nothing to do.", calls=[]), "idle")
                for _ in tasks]


def test_a_reasoner_that_never_acts_is_never_verified(plans, queries, registry):
    roles = RoleSet(ModelSettings(), registry)
    roles.scripted = Idle(registry)
    kept = [q for outcome in queries for q in outcome.queries]
    outcomes = run_chains(plans[:10], kept, registry, roles, ChainConfig(max_attempts=2))
    all_chains = [c for outcome in outcomes for c in outcome.chains]
    assert not any(c.passed for c in all_chains)
    assert dialogue_counts(all_chains, ChainConfig().min_rounds) == (0, len(outcomes))
    attempted = [c for c in all_chains if c.attempts]
    assert attempted and all(len(c.attempts) == 2 for c in attempted)
    kinds = Counter(a.failure_kind for c in attempted for a in c.attempts)
    assert kinds["premature_stop"] > 0
    assert Counter(c.drop_reason for c in all_chains)["after_failed_round"] > 0
