"""Natural language offline and with models: the realizer's figures, honest reasoning and
replies, inferable values in the query rules, the language checks, and the judge over HTTP."""

import random
import re

import pytest

from funreason_assets.lib import language_stats as ls
from funreason_assets.lib import prompts
from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.llm.client import ModelClient
from funreason_assets.lib.llm.settings import ClientSettings, ModelSettings, RoleSettings
from funreason_assets.lib.phrasing import PHRASING_VERSION
from funreason_assets.lib.realizer import reasoning as said
from funreason_assets.lib.realizer.intents import INTENTS
from funreason_assets.lib.realizer.query import intent_of
from funreason_assets.lib.realizer.reply import compose_reply
from funreason_assets.lib.realizer.results import error_of
from funreason_assets.lib.realizer.templates import tidy
from funreason_assets.lib.realizer.voice import _as_user_said
from funreason_assets.lib.reasoning import ChainConfig, assemble_dialogue, run_chains
from funreason_assets.lib.roles.dispatch import RoleSet
from funreason_assets.lib.sampler import PlanSampler, SamplerConfig
from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds
from funreason_assets.lib.synthesis import (
    QueryConfig,
    check_query,
    inferable_share,
    synthesize_queries,
)
from funreason_assets.testing.openai_server import run_server
from funreason_assets_tests.lib.test_phases_over_http import make_plan

SCENARIOS = 200


def persona_plans(registry, graph, shard: str, count: int) -> list:
    """Sampled plans that carry their scenario's persona (what the query writer speaks for)."""
    sampler = PlanSampler(registry, graph, SamplerConfig())
    plans = []
    for seed in shard_seeds(shard, count, 20251124):
        scenario = generate_scenario(seed, sorted(registry.classes), 1, 3)
        plan = sampler.sample(scenario.scenario_id, scenario.seed, scenario.involved_classes,
                              scenario.initial_config, shard=shard, persona=scenario.persona,
                              key_class=scenario.key_class)
        if plan is not None:
            plans.append(plan if plan.persona else plan.model_copy(
                update={"persona": scenario.persona}))
    return plans


@pytest.fixture(scope="module")
def offline(registry, api_graph):
    plans = persona_plans(registry, api_graph, "shard-language", SCENARIOS)
    roles = RoleSet(ModelSettings(), registry, slip_rate=0.15, seed=7)
    outcomes = synthesize_queries(plans, registry, roles)
    queries = [q for outcome in outcomes for q in outcome.queries]
    chains = [c for outcome in run_chains(plans, queries, registry, roles, ChainConfig())
              for c in outcome.chains]
    dialogues = [d for plan in plans if (d := assemble_dialogue(plan, chains, 2)) is not None]
    return plans, queries, chains, dialogues


# ---------------------------------------------------------------------- the realizer's figures


def test_references_fill_their_slots_without_broken_seams(offline):
    # A slot filled with a reference ("the folder from before") inside a template's own
    # words ("remove the {dir_name} directory") must not read "the the ... directory".
    assert tidy("remove the the folder from before directory") == "remove the folder from before"
    assert tidy("Pull the account from before's timeline") == "Pull that account's timeline"
    assert _as_user_said("signed you in to travel") == "signed me in to travel"
    assert tidy("move the report file to the drafts folder") == (
        "move the report file to the drafts folder")
    _, queries, _, _ = offline
    broken = re.compile(
        r"\b(?:the|a|an) (?:the|that|my|your)\b|from before's|again's|with's|mentioned's|"
        r"\b(?:folder|directory) (?:folder|directory)\b|\byou \w+ you\b", re.IGNORECASE)
    texts = [q.query for q in queries] + [q.follow_up or "" for q in queries]
    assert len(texts) >= 300
    assert [text for text in texts if broken.search(text)] == []


def test_every_bfcl_tool_has_an_intent(registry):
    tools = {tool.name for tool in registry.tools()}
    assert len(tools) == 128
    assert tools <= set(INTENTS)
    for name in tools:
        assert len(INTENTS[name].ask) >= 2 or name in {"authenticate_travel"}, name


def test_offline_figures_meet_the_thresholds_on_300_turns(offline):
    _, queries, _, dialogues = offline
    figures = ls.measure_dialogues(dialogues)
    assert figures.user_turns == ls.SAMPLE_SIZE
    for name in ls.LANGUAGE_LIMITS:
        assert ls.within_limit(name, figures.as_dict()[name]), (name, figures.as_dict())
    assert all(verdict.passed for verdict in ls.judge_language(figures))
    assert all(q.prompt_version == PHRASING_VERSION for q in queries)


def test_figures_hold_without_a_persona(registry, api_graph):
    plans = [p.model_copy(update={"persona": {}})
             for p in persona_plans(registry, api_graph, "shard-language-bare", SCENARIOS)]
    roles = RoleSet(ModelSettings(), registry, seed=7)
    queries = [q for o in synthesize_queries(plans, registry, roles) for q in o.queries]
    turns = [ls.UserTurnSample(q.query) for q in queries]
    figures = ls.measure(turns, [], [])
    assert figures.distinct_prefixes >= ls.MIN_DISTINCT_PREFIXES, figures
    assert figures.top_opener_share <= ls.MAX_TOP_OPENER_SHARE, figures


def test_kept_queries_obey_the_rules_and_leave_some_values_inferable(offline):
    plans, queries, _, _ = offline
    by_id = {plan.plan_id: plan for plan in plans}
    for query in queries:
        plan = by_id[query.plan_id]
        assert not check_query(query.query, query.follow_up, plan,
                               plan.rounds[query.round_index], query.advanced_tool,
                               query.omitted, query.inferable), query.query
    left = [q for q in queries if q.inferable]
    assert left, "no query leaves a value for the model to infer"
    assert 0.005 <= inferable_share(queries) <= 0.3
    kinds = {reason.split(":")[0] for q in left for reason in q.inferable.values()}
    assert kinds & {"earlier_turn", "airport_of_city", "zipcode_of_city", "user_id_of",
                    "ticker_of_company"}


def test_no_inferable_values_when_the_share_is_zero(offline, registry):
    plans, _, _, _ = offline
    roles = RoleSet(ModelSettings(), registry, seed=7)
    outcomes = synthesize_queries(plans[:30], registry, roles, QueryConfig(inferable_share=0))
    assert all(not q.inferable for o in outcomes for q in o.queries)


def test_a_false_inferable_reason_does_not_excuse_a_missing_value(offline):
    plans, queries, _, _ = offline
    by_id = {plan.plan_id: plan for plan in plans}
    query = next(q for q in queries if q.inferable)
    plan = by_id[query.plan_id]
    bogus = {name: "earlier_turn: 99" for name in query.inferable}
    rules = [v.rule for v in check_query(query.query, query.follow_up, plan,
                                         plan.rounds[query.round_index], query.advanced_tool,
                                         query.omitted, bogus)]
    assert "missing_input" in rules


# ---------------------------------------------------------------------- reasoning and replies


def test_every_failed_tool_result_is_acknowledged_in_the_next_reasoning(offline):
    _, _, chains, _ = offline
    failures = 0
    for chain in chains:
        for attempt in chain.attempts:
            for step, following in zip(attempt.steps, attempt.steps[1:], strict=False):
                for call, result in zip(step.calls, step.results, strict=False):
                    error = error_of(result)
                    if error is None:
                        continue
                    failures += 1
                    assert said.error_quote(error) in following.reasoning, (
                        call, error, following.reasoning)
    assert failures >= 5


def test_a_failure_that_stands_is_reported_not_called_done():
    rng = random.Random(1)
    message = said.final_message(rng, ["rm(file_name='a.txt')"],
                                 [{"error": "rm: cannot remove 'a.txt': No such file"}],
                                 [("rm", "rm: cannot remove 'a.txt': No such file")])
    assert "No such file" in message
    assert "All the steps have run" not in message
    reply = compose_reply(rng, ["rm(file_name='a.txt')"],
                          [{"error": "rm: cannot remove 'a.txt': No such file"}],
                          lambda tool: intent_of(tool, str))
    assert "No such file" in reply


def test_reasoning_varies_and_no_template_dominates(offline):
    _, _, _, dialogues = offline
    _, reasoning, _ = ls.dialogue_samples(dialogues)
    share, _ = ls.template_concentration(ls.sample(reasoning))
    assert share <= ls.MAX_REASONING_TEMPLATE_SHARE
    assert not any("All the steps have run" in text for text in reasoning)


def test_no_reply_cuts_a_value(offline):
    _, _, _, dialogues = offline
    _, _, replies = ls.dialogue_samples(dialogues)
    assert replies
    cut = [reply.text for reply in replies if ls.cuts_value(reply.text, reply.results)]
    assert cut == []
    assert all(len(reply.text) <= 1500 for reply in replies)


def test_a_long_text_result_is_described_whole():
    text = "\n".join(f"line {i}: " + "word " * 30 for i in range(12))
    reply = compose_reply(random.Random(2), ["cat(file_name='notes.txt')"],
                          [{"file_content": text}], lambda tool: intent_of(tool, str))
    assert not ls.cuts_value(reply, [{"file_content": text}])
    assert "12 lines" in reply


def test_a_recovered_error_is_mentioned_only_as_what_was_done():
    reply = compose_reply(
        random.Random(3), ["get_stock_info(symbol='AAPL')", "get_stock_info(symbol='AAPL')"],
        [{"error": "Service temporarily unavailable."}, {"price": 227.16, "symbol": "AAPL"}],
        lambda tool: intent_of(tool, str),
    )
    assert "227.16" in reply
    assert "Service temporarily unavailable" not in reply or "retr" in reply.lower()


# ---------------------------------------------------------------------- the language measures


def test_dictation_is_a_value_right_after_its_parameter_name():
    values = (("base", 13.6), ("client_secret", "x9"), ("travel_from", "SFO"))
    assert ls.dictates("Compute the log with base 13.6 please", values)
    assert ls.dictates("my client secret 'x9'", values)
    assert not ls.dictates("Fly from SFO to LAX on 2026-03-03", values)
    assert not ls.dictates("What's log base 2 of 13.6?", values)


def test_cut_values_are_found_and_whole_values_are_not():
    results = [{"content": "The quarterly numbers look better than expected this time."}]
    assert ls.cuts_value("Done. content: The quarterly numbers look bet", results)
    assert ls.cuts_value('Done. content "The quarterly numbers look better"', results)
    assert not ls.cuts_value(
        "It says 'The quarterly numbers look better than expected this time.'", results)


def _figures(**overrides):
    base = dict(user_turns=300, reasoning_messages=300, replies=300, distinct_2=0.6,
                distinct_3=0.8, distinct_prefixes=0.9, top_opener_share=0.1,
                dictation_share=0.05, reasoning_template_share=0.01,
                reply_template_share=0.05, cut_reply_share=0.0)
    return ls.LanguageFigures(**{**base, **overrides})


@pytest.mark.parametrize(("figure", "bad"), [
    ("distinct_prefixes", 0.17), ("distinct_3", 0.40), ("top_opener_share", 0.83),
    ("dictation_share", 0.73), ("reasoning_template_share", 0.32),
    ("reply_template_share", 0.94), ("cut_reply_share", 0.22),
])
def test_each_language_check_passes_and_warns(figure, bad):
    name = f"language_{figure}"
    good = {v.name: v for v in ls.judge_language(_figures())}[name]
    assert good.passed and good.severity == "warn"
    assert good.metadata["value"] == _figures().as_dict()[figure]
    warned = {v.name: v for v in ls.judge_language(_figures(**{figure: bad}))}[name]
    assert not warned.passed and warned.severity == "warn"
    assert warned.metadata["value"] == bad
    assert warned.metadata["threshold"] == ls.LANGUAGE_LIMITS[figure][0] + " " + format(
        ls.LANGUAGE_LIMITS[figure][1], "g")


def test_bfcl_like_turns_measure_like_bfcl():
    questions = [{"id": "q1", "question": [[{"role": "user", "content": "Move 'a.txt' into "
                                              "the archive folder."}],
                                            [{"role": "user", "content": "Then compute the "
                                              "log with base 13.6 of 9."}]]}]
    answers = {"q1": [["mv(source='a.txt', destination='archive')"],
                      ["logarithm(value=9, base=13.6, precision=4)"]]}
    turns = ls.bfcl_user_turns(questions, answers)
    assert [ls.dictates(t.text, t.values) for t in turns] == [False, True]


# ---------------------------------------------------------------------- prompts and the judge


def test_the_query_writer_prompt_carries_persona_and_inferable_values_and_no_dictation():
    messages = prompts.query_writer_messages(
        "book_trip", "Book a flight", {"travel_date": "2026-03-03"}, None, [], [], "base",
        persona={"first_name": "Ines", "home_city": "Rivermist", "friends": [
            {"first_name": "Ann"}]},
        inferable={"travel_from": "airport_of_city: Rivermist"},
    )
    system, user = messages[0]["content"], messages[1]["content"]
    assert "State every input value exactly as given" not in system
    assert "never dictate a value after its parameter's name" in system
    assert "Ines" in user and "airport_of_city: Rivermist" in user and "Ann" in user
    assert prompts.PROMPT_VERSIONS["query_writer"] == "query_writer/3"
    assert prompts.PROMPT_VERSIONS["judge"] == "judge/1"


MODEL = "openai/test-model"


def _script(query_scores):
    return [
        {"name": "abstractor", "system_contains": "You abstract a trace",
         "json": {"name": "compute_request", "description": "Computes what the user asks for."}},
        {"name": "writer", "system_contains": "You write hard user queries",
         "json": {"query": "Quick sum for my budget sheet: {{last_user}}", "follow_up": None}},
        {"name": "judge_query", "system_contains": "You judge a user's request",
         "json": query_scores},
        {"name": "judge_reply", "system_contains": "You judge an assistant's closing reply",
         "json": {"naturalness": 4, "faithfulness": 5, "reason": "plain and grounded"}},
        {"name": "done", "system_contains": "You are a careful assistant",
         "user_contains": "Tool results",
         "json": {"reasoning": "The sum came back, that answers it.", "calls": [],
                  "answer": None}},
        {"name": "round_two", "system_contains": "You are a careful assistant",
         "user_contains": '"a": 2',
         "json": {"reasoning": "I multiply 2 by 5.", "calls": ["multiply(a=2, b=5)"]}},
        {"name": "first", "system_contains": "You are a careful assistant",
         "json": {"reasoning": "I add 3 and 4.", "calls": ["add(a=3, b=4)"]}},
        {"name": "replier", "system_contains": "Write the closing message",
         "json": {"reply": "3 plus 4 is 7."}},
    ]


def _roles(registry, server, tmp_path, judge=True):
    role = RoleSettings(model=MODEL, api_base=server.base_url, api_key_env="FUNREASON_TEST_KEY")
    names = ["tool_abstractor", "query_writer", "reasoner", "critic", "replier"]
    if judge:
        names.append("judge")
    settings = ModelSettings(roles={name: role for name in names})
    client = ModelClient(settings.roles, ClientSettings(concurrency=4),
                         CompletionCache(tmp_path / "cache"))
    return RoleSet(settings, registry, client), client


def test_the_judge_scores_queries_and_replies_over_litellm(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNREASON_TEST_KEY", "k")
    scores = {"naturalness": 4, "faithfulness": 5, "reason": "reads like a person"}
    with run_server(script=_script(scores)) as server:
        roles, client = _roles(registry, server, tmp_path)
        try:
            plan = make_plan(registry)
            [outcome] = synthesize_queries([plan], registry, roles)
            assert not outcome.drops, outcome.drops
            assert [q.judge["naturalness"] for q in outcome.queries] == [4, 4]
            # abstractor, writer and judge: one model call each per query.
            assert all(q.model_calls == 3 for q in outcome.queries)
            assert all(q.prompt_version == "query_writer/3" for q in outcome.queries)
            [chains] = run_chains([plan], outcome.queries, registry, roles, ChainConfig())
            first = chains.chains[0]
            assert first.passed, first
            assert first.turns[0].reply == "3 plus 4 is 7."
            assert first.turns[0].judge == {"naturalness": 4, "faithfulness": 5,
                                            "reason": "plain and grounded"}
            assert first.generators["judge"] == MODEL
            stats = server.stats(log=True)
            judged = [entry for entry in stats["log"] if entry.get("rule", "").startswith(
                "judge")]
            assert judged
        finally:
            client.close()


def test_a_query_the_judge_scores_below_the_floor_is_dropped(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNREASON_TEST_KEY", "k")
    scores = {"naturalness": 2, "faithfulness": 5, "reason": "reads like a form"}
    with run_server(script=_script(scores)) as server:
        roles, client = _roles(registry, server, tmp_path)
        try:
            [outcome] = synthesize_queries([make_plan(registry)], registry, roles,
                                           QueryConfig(judge_floor=3))
            assert outcome.queries == []
            assert [drop.rule for drop in outcome.drops] == ["judge_floor"]
            assert "reads like a form" in outcome.drops[0].detail
        finally:
            client.close()


def test_a_scripted_judge_judges_nothing(registry):
    roles = RoleSet(ModelSettings(), registry)
    assert not roles.judging
    [outcome] = synthesize_queries([make_plan(registry)], registry, roles)
    assert outcome.queries and all(q.judge is None for q in outcome.queries)
