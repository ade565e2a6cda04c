"""Phases II and III through litellm against the local server: fail, critique, pass."""

import pytest

from funreason_assets.lib.executor import ParsedCall, execute_call, format_call
from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.llm.client import ModelClient
from funreason_assets.lib.llm.settings import ClientSettings, ModelSettings, RoleSettings
from funreason_assets.lib.reasoning import ChainConfig, assemble_dialogue, run_chains
from funreason_assets.lib.records import Argument, DialoguePlan, ExecutedCall, PlannedRound
from funreason_assets.lib.roles.dispatch import RoleSet
from funreason_assets.lib.synthesis import synthesize_queries
from funreason_assets.testing.openai_server import run_server

MODEL = "openai/test-model"
ROUNDS = [("add", {"a": 3, "b": 4}), ("multiply", {"a": 2, "b": 5})]


def make_plan(registry):
    """A two-round MathAPI plan, executed for real."""
    env = registry.environment(["MathAPI"], {}, False)
    rounds = []
    for index, (tool, arguments) in enumerate(ROUNDS):
        outcome = execute_call(env, ParsedCall(tool, (), arguments))
        assert outcome.ok
        call = ExecutedCall(
            index=0, tool=tool, class_name="MathAPI",
            arguments=[Argument(name=k, value=v, provenance="literal", source="typed")
                       for k, v in arguments.items()],
            call=format_call(tool, arguments), status="ok", output=outcome.output,
        )
        rounds.append(PlannedRound(index=index, target=tool, variant="base", calls=[call],
                                   state_digest_after=env.digest(), dependency_depth=0,
                                   edges_followed=[], read_only=True))
    return DialoguePlan(plan_id="plan-http", scenario_id="scn-http", shard="shard-0000",
                        seed=1, sampler="directed", involved_classes=["MathAPI"],
                        initial_config={}, long_context=False, rounds=rounds,
                        graph_fingerprint="-")


def step(reasoning, calls=(), answer=None):
    return {"json": {"reasoning": reasoning, "calls": list(calls), "answer": answer}}


SCRIPT = [
    {"name": "abstractor", "system_contains": "You abstract a trace",
     "json": {"name": "compute_request", "description": "Computes what the user asks for."}},
    # The query writer answers with the request it was given, which carries every input value.
    {"name": "writer", "system_contains": "You write hard user queries",
     "json": {"query": "Work this out for me: {{last_user}}", "follow_up": None}},
    {"name": "done", "system_contains": "You are a careful assistant",
     "user_contains": "Tool results", **step("The results answer the request.", [], "Done.")},
    {"name": "retry", "system_contains": "You are a careful assistant",
     "user_contains": "A previous attempt failed", **step("I add 3 and 4.", ["add(a=3, b=4)"])},
    # The second query quotes the first (the conversation so far): match it first.
    {"name": "round_two", "system_contains": "You are a careful assistant",
     "user_contains": '"a": 2', **step("I multiply 2 by 5.", ["multiply(a=2, b=5)"])},
    {"name": "first_try", "system_contains": "You are a careful assistant",
     "user_contains": '"a": 3', **step("I add the numbers.", ["add(a=3, b=5)"])},
    {"name": "critic", "system_contains": "You review a failed",
     "json": {"failure_kind": "wrong_argument",
              "hint": "One of the numbers you used is not the one the user gave."}},
    {"name": "replier", "system_contains": "Write the closing message",
     "json": {"reply": "Here is the result you asked for."}},
]


@pytest.fixture
def roles(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNREASON_TEST_KEY", "k")
    with run_server(script=SCRIPT) as server:
        role = RoleSettings(model=MODEL, api_base=server.base_url, api_key_env="FUNREASON_TEST_KEY")
        settings = ModelSettings(roles={name: role for name in (
            "tool_abstractor", "query_writer", "reasoner", "critic", "replier")})
        client = ModelClient(settings.roles, ClientSettings(concurrency=4),
                             CompletionCache(tmp_path / "cache"))
        yield RoleSet(settings, registry, client), client, server
        client.close()


def test_phases_two_and_three_over_litellm(registry, roles):
    role_set, client, server = roles
    plan = make_plan(registry)
    [queried] = synthesize_queries([plan], registry, role_set)
    assert not queried.drops, queried.drops
    assert [q.generator for q in queried.queries] == [MODEL, MODEL]
    assert queried.queries[0].advanced_tool.name == "compute_request"
    assert '"a": 3' in queried.queries[0].query
    # The tool abstractor and the query writer each called the model once per query.
    assert all(q.model_calls == 2 and q.tokens > 0 for q in queried.queries)

    [outcome] = run_chains([plan], queried.queries, registry, role_set, ChainConfig())
    first, second = outcome.chains
    assert [a.passed for a in first.attempts] == [False, True]
    failed = first.attempts[0]
    assert failed.failure_kind == "wrong_argument"
    assert failed.critique == "One of the numbers you used is not the one the user gave."
    assert failed.steps[0].calls == ["add(a=3, b=5)"]
    assert first.attempts[1].steps[0].calls == ["add(a=3, b=4)"]
    assert first.turns[0].reply == "Here is the result you asked for."
    assert [a.passed for a in second.attempts] == [True]
    dialogue = assemble_dialogue(plan, outcome.chains, ChainConfig().min_rounds)
    assert dialogue is not None and dialogue.rounds == [0, 1]
    assert first.generators["reasoner"] == MODEL and first.model_calls >= 5
    totals = client.totals()
    assert totals.fresh > 0 and totals.failed == 0
    assert totals.http_calls == server.stats(log=False)["total"]
