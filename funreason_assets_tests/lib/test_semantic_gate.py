"""The semantic gate on ground-truth plans (`arguments_have_meaning`) and the report's Meaning.

A clean plan is built by hand and executed for real (so it also replays); failing plans are
copies of it, or of sampled plans, with arguments replaced by values of the wrong type.
Sampled plans are only tampered with, never asserted to pass: the binder choosing their values
is not the gate's subject.
"""

from typing import Any

import pytest

from funreason_assets.lib import report
from funreason_assets.lib.curation import CurationConfig
from funreason_assets.lib.executor import ParsedCall, execute_call
from funreason_assets.lib.records import Argument, DialoguePlan, ExecutedCall, PlannedRound
from funreason_assets.lib.sampling import PLAN_CHECKS, PlanCheckSettings, judge_plans
from funreason_assets.lib.semantic_gate import (
    EXAMPLES_PER_TYPE,
    SOURCES,
    found_something,
    is_login_call,
    measure_plans,
)
from funreason_assets_tests.conftest import sample_plans
from funreason_assets_tests.lib.test_value_types import CASES, LOGGED_IN

PNG_MAGIC = b"\x89PNG"
CONFIG = {
    "MessageAPI": {
        "user_count": 3,
        "user_map": {"Greta": "USR001", "Tobias": "USR002", "Amara": "USR003"},
        "inbox": [{"USR002": "Can we move the supplier review to Friday?"}],
        "message_count": 1,
        "current_user": None,
        "random_seed": 7,
    },
    "TicketAPI": {
        "ticket_queue": [{
            "id": 4120, "title": "Slow shared drive", "status": "Open", "priority": 2,
            "description": "The shared drive takes minutes to open.",
            "created_by": "greta_dubois",
        }],
        "ticket_counter": 4121,
        "current_user": None,
    },
    "TravelAPI": {
        "random_seed": 5,
        "credit_card_list": {"912010830829": {
            "card_number": "4532-1234-5678-9012", "expiration_date": "11/2029",
            "cardholder_name": "Greta Dubois", "card_verification_number": 240,
            "balance": 1950.5,
        }},
        "booking_record": {},
        "user_first_name": "Greta",
        "user_last_name": "Dubois",
    },
}


def _token(outputs):
    return outputs["2.0"]["access_token"]


# Rounds of (tool, {parameter: (value or f(outputs so far), provenance, source)}).
ROUNDS = [
    [
        ("message_login", {"user_id": ("USR001", "state", "MessageAPI.user_map.Greta")}),
        ("get_user_id", {"user": ("Tobias", "state", "MessageAPI.user_map.<key>")}),
        ("send_message", {
            "receiver_id": ("USR002", "output", "0.1:user_id"),
            "message": ("Can we go over the supplier contract renewal tomorrow?", "literal",
                        "provider"),
        }),
        ("search_messages", {"keyword": ("supplier", "literal", "provider")}),
        ("search_messages", {"keyword": ("zebra", "literal", "provider")}),
    ],
    [
        ("ticket_login", {
            "username": ("greta_dubois", "literal", "typed"),
            "password": ("Harbor42!sky", "literal", "provider"),
        }),
        ("create_ticket", {
            "title": ("Printer jams on the third floor", "literal", "provider"),
            "description": ("Since yesterday the printer jams on every print job.", "literal",
                            "provider"),
            "priority": (3, "literal", "provider"),
        }),
        ("get_ticket", {"ticket_id": (4121, "output", "1.1:id")}),
        ("edit_ticket", {
            "ticket_id": (4120, "state", "TicketAPI.ticket_queue[].id"),
            "updates": ({"priority": 4}, "literal", "provider"),
        }),
    ],
    [
        ("authenticate_travel", {
            "client_id": ("client_520", "literal", "provider"),
            "client_secret": ("rise_to_sky", "literal", "provider"),
            "refresh_token": ("token990125", "literal", "provider"),
            "grant_type": ("read_write", "literal", "enum"),
            "user_first_name": ("Greta", "state", "TravelAPI.user_first_name"),
            "user_last_name": ("Dubois", "state", "TravelAPI.user_last_name"),
        }),
        ("get_credit_card_balance", {
            "access_token": (_token, "output", "2.0:access_token"),
            "card_id": ("912010830829", "state", "TravelAPI.credit_card_list.<key>"),
        }),
    ],
]


def build_plan(registry) -> DialoguePlan:
    """The rounds executed on the config: outputs and state digests are the real ones."""
    environment = registry.environment(sorted(CONFIG), CONFIG)
    outputs: dict[str, Any] = {}
    rounds = []
    for round_index, specs in enumerate(ROUNDS):
        calls = []
        for call_index, (tool, arguments) in enumerate(specs):
            values = {
                name: value(outputs) if callable(value) else value
                for name, (value, _, _) in arguments.items()
            }
            outcome = execute_call(environment, ParsedCall(tool, (), values))
            assert outcome.ok, outcome.error
            outputs[f"{round_index}.{call_index}"] = outcome.output
            calls.append(ExecutedCall(
                index=call_index, tool=tool, class_name=registry.owner(tool),
                arguments=[
                    Argument(name=name, value=values[name], provenance=provenance, source=source)
                    for name, (_, provenance, source) in arguments.items()
                ],
                call=outcome.call_string, status=outcome.status, output=outcome.output,
            ))
        rounds.append(PlannedRound(
            index=round_index, target=specs[-1][0], variant="base", calls=calls,
            state_digest_after=environment.digest(), dependency_depth=1, edges_followed=[],
        ))
    return DialoguePlan(
        plan_id="plan-handmade", scenario_id="scn-handmade", shard="shard-meaning", seed=0,
        sampler="directed", involved_classes=sorted(CONFIG), initial_config=CONFIG,
        long_context=False, rounds=rounds, graph_fingerprint="handmade",
    )


def replace_calls(plan: DialoguePlan, change) -> DialoguePlan:
    """A copy of the plan whose every call is `change(call)`."""
    return plan.model_copy(update={"rounds": [
        planned.model_copy(update={"calls": [change(call) for call in planned.calls]})
        for planned in plan.rounds
    ]})


def with_values(plan: DialoguePlan, values: dict[str, Any]) -> DialoguePlan:
    """A copy with `tool.parameter` arguments replaced by the given values."""

    def change(call: ExecutedCall) -> ExecutedCall:
        arguments = [
            argument.model_copy(update={"value": values[f"{call.tool}.{argument.name}"]})
            if f"{call.tool}.{argument.name}" in values else argument
            for argument in call.arguments
        ]
        return call.model_copy(update={"arguments": arguments})

    return replace_calls(plan, change)


def meaning(registry, plans, **settings):
    return judge_plans(registry, plans, [], PlanCheckSettings(**settings)).verdict(
        "arguments_have_meaning"
    )


@pytest.fixture(scope="module")
def plan(registry):
    return build_plan(registry)


@pytest.fixture(scope="module")
def sampled(registry, api_graph):
    return sample_plans(registry, api_graph, "shard-meaning", 30)


# ---------------------------------------------------------------------- arguments_have_meaning


def test_the_gate_is_a_blocking_plan_check():
    spec = next(spec for spec in PLAN_CHECKS if spec.name == "arguments_have_meaning")
    assert spec.blocking and spec.severity == "error"
    assert PlanCheckSettings().max_meaning_violation_share == 0.0


def test_clean_hand_built_calls_pass_the_gate(registry, plan):
    result = judge_plans(registry, [plan], [], PlanCheckSettings())
    assert result.verdict("plans_replay_deterministically").passed  # the plan is faithful
    verdict = result.verdict("arguments_have_meaning")
    assert verdict.passed
    assert verdict.metadata["arguments_checked"] == 22
    assert verdict.metadata["violations"] == 0
    assert verdict.metadata["violation_share"] == 0.0
    assert verdict.metadata["threshold"] == 0.0
    assert verdict.metadata["violations_per_type"] == {}
    assert verdict.metadata["examples_per_type"] == {}
    per_type = verdict.metadata["arguments_per_type"]
    assert sum(per_type.values()) == 22
    assert per_type["search_term"] == 2 and per_type["ticket_id"] == 2
    assert per_type["first_name"] == 2 and per_type["access_token"] == 1


def test_clean_plan_metrics_count_sources_searches_errors_and_logins(registry, plan):
    metrics = judge_plans(registry, [plan], [], PlanCheckSettings()).metrics["meaning"]
    assert metrics["arguments_by_source"] == {
        "output": 3, "state": 6, "enum": 1, "mined": 0, "default": 0, "provider": 11,
        "other": 1,
    }
    assert list(metrics["arguments_by_source"]) == list(SOURCES)
    assert metrics["search_calls"] == 2 and metrics["search_hit_rate"] == 0.5
    assert metrics["calls"] == metrics["calls_outside_error_recovery"] == 11
    assert metrics["error_call_share"] == 0.0
    assert metrics["login_call_share"] == round(3 / 11, 4)


def test_wrong_type_values_fail_with_counts_and_examples_per_type(registry, plan):
    bad = with_values(plan, {
        "send_message.message": LOGGED_IN,
        "get_user_id.user": "USR002",
        "ticket_login.password": "budget",
        "create_ticket.priority": 9,
        "authenticate_travel.grant_type": "Bearer",
        "authenticate_travel.user_last_name": "Greta Dubois",
    })

    verdict = meaning(registry, [bad])

    assert not verdict.passed
    assert verdict.metadata["arguments_checked"] == 22
    assert verdict.metadata["violations"] == 6
    assert verdict.metadata["violation_share"] == round(6 / 22, 4)
    assert verdict.metadata["violations_per_type"] == {
        "message_text": 1, "first_name": 1, "password": 1, "priority": 1, "enum": 1,
        "last_name": 1,
    }
    examples = verdict.metadata["examples_per_type"]
    assert examples["password"] == [{
        "tool": "ticket_login", "parameter": "password", "value": "budget",
        "reason": "filler word 'budget'",
    }]
    assert examples["priority"][0]["reason"] == "9 is above 5"
    assert "tool's output" in examples["message_text"][0]["reason"]
    assert examples["enum"][0]["reason"] == "'Bearer' is not one of ['read_write', 'read', 'write']"
    assert examples["last_name"][0]["reason"] == "'Greta Dubois' is more than one name"
    # The threshold decides: a third of the arguments may be rejected here.
    assert meaning(registry, [bad], max_meaning_violation_share=0.3).passed


def test_an_identifier_that_exists_nowhere_fails(registry, plan):
    unknown = with_values(plan, {"get_ticket.ticket_id": 98765})

    verdict = meaning(registry, [unknown])

    assert not verdict.passed
    assert verdict.metadata["violations_per_type"] == {"ticket_id": 1}
    assert verdict.metadata["examples_per_type"]["ticket_id"] == [{
        "tool": "get_ticket", "parameter": "ticket_id", "value": 98765,
        "reason": "98765 appears neither in the initial config nor in an earlier call's output",
    }]


def test_an_id_counts_only_when_an_earlier_call_issued_it(registry, plan):
    # The access token exists only because authenticate_travel returned it.
    def forget_token(call: ExecutedCall) -> ExecutedCall:
        if call.tool == "authenticate_travel":
            return call.model_copy(update={"output": {"token_type": "Bearer"}})
        return call

    verdict = meaning(registry, [replace_calls(plan, forget_token)])

    assert not verdict.passed
    assert verdict.metadata["violations_per_type"] == {"access_token": 1}
    reject = verdict.metadata["examples_per_type"]["access_token"][0]
    assert reject["tool"] == "get_credit_card_balance" and "earlier call" in reject["reason"]


def test_error_calls_are_counted_outside_error_recovery_rounds(registry, plan):
    failed = replace_calls(plan, lambda call: call.model_copy(update={"status": "tool_error"})
                           if call.tool in ("edit_ticket", "get_credit_card_balance") else call)
    recovering = failed.model_copy(update={"rounds": [
        *failed.rounds[:2], failed.rounds[2].model_copy(update={"variant": "error_recovery"})]})

    stats = measure_plans(registry, [recovering])

    assert (stats.calls, stats.error_calls) == (9, 1)
    assert stats.metrics()["error_call_share"] == round(1 / 9, 4)
    assert stats.all_calls == 11


def test_every_argument_of_sampled_plans_replaced_by_a_wrong_type_value_is_rejected(
    registry, sampled
):
    assert len(sampled) >= 20
    types = registry.value_types()

    def wrong(call: ExecutedCall) -> ExecutedCall:
        return call.model_copy(update={"arguments": [
            argument.model_copy(
                update={"value": CASES[types[call.tool][argument.name].value_type][2]})
            for argument in call.arguments
        ]})

    verdict = meaning(registry, [replace_calls(p, wrong) for p in sampled])

    assert not verdict.passed
    checked = verdict.metadata["arguments_checked"]
    assert checked > 50
    assert verdict.metadata["violations"] == checked
    assert verdict.metadata["violation_share"] == 1.0
    assert verdict.metadata["violations_per_type"] == {
        name: count for name, count in verdict.metadata["arguments_per_type"].items()}
    for type_name, examples in verdict.metadata["examples_per_type"].items():
        assert 1 <= len(examples) <= EXAMPLES_PER_TYPE
        assert all(set(example) == {"tool", "parameter", "value", "reason"}
                   for example in examples), type_name


def test_sampled_plans_are_measured_consistently(registry, sampled):
    stats = measure_plans(registry, sampled)
    metrics = stats.metrics()
    assert sum(metrics["arguments_by_source"].values()) == metrics["arguments_checked"]
    assert sum(stats.per_type.values()) == stats.checked
    assert sum(metrics["rejects_per_type"].values()) == metrics["violations"]
    assert metrics["calls"] == sum(len(r.executed_calls()) for p in sampled for r in p.rounds)
    assert 0.0 <= metrics["search_hit_rate"] <= 1.0
    assert 0.0 <= metrics["login_call_share"] <= 1.0


def test_login_calls_and_search_results_are_recognized():
    logins = ["message_login", "ticket_login", "trading_login", "trading_logout", "logout",
              "authenticate_twitter", "authenticate_travel", "shop_sign_in"]
    assert all(is_login_call(tool) for tool in logins)
    for tool in ("ticket_get_login_status", "logarithm", "display_log", "get_user_id"):
        assert not is_login_call(tool)
    assert found_something("grep", {"matching_lines": ["deadline: Friday"]})
    assert not found_something("grep", {"matching_lines": []})
    assert not found_something("find", {"matches": []})
    assert found_something("search_messages", {"results": [{"receiver_id": "USR002"}]})
    assert not found_something("search_messages", {"error": "No user is currently logged in."})
    assert found_something("search_tweets", [{"id": 1}]) and not found_something(
        "search_tweets", [])
    assert found_something("search_books", {"books": [{"book_id": "BK1"}]})
    assert not found_something("search_books", {"books": []})


# ---------------------------------------------------------------------- the report's Meaning


def test_the_report_has_a_meaning_section_with_its_table_and_figure(registry, plan, sampled):
    shard = {name: {"share_reached": 0.5, "mean_depth": 1.0}
             for name in ("coverage_directed", "coverage_random_walk")}
    inputs = report.ReportInputs([plan, *sampled], [], [], [], shard_coverage=[shard])

    sections = report.build_sections(inputs, registry, CurationConfig(), 2)

    assert report.judge_sections(sections).passed
    assert "Meaning" in report.EXPECTED_SECTIONS
    section = next(s for s in sections if s.title == "Meaning")
    assert section.picture_png.startswith(PNG_MAGIC)
    rows = {row["measure"]: row for row in section.rows}
    stats = measure_plans(registry, [plan, *sampled])
    assert rows["arguments checked"]["value"] == stats.checked
    assert rows["arguments rejected"]["value"] == len(stats.rejects)
    assert rows["search hit rate"]["value"] == stats.metrics()["search_hit_rate"]
    assert rows["share of login/logout/authentication calls"]["value"] == (
        stats.metrics()["login_call_share"])
    assert "share of error calls (outside error recovery)" in rows
    for source in SOURCES:
        assert rows[f"arguments from {source}"]["value"] == stats.by_source[source]
    rejected = [row for row in section.rows if row["measure"].startswith("rejected as ")]
    assert len(rejected) == min(10, len(stats.rejects_per_type()))
    # The section reaches both files.
    markdown = report.to_markdown("run", sections)
    assert "## Meaning" in markdown and "![Meaning](data:image/png;base64," in markdown
    assert "<h2>Meaning</h2>" in report.to_html("run", sections)


def test_a_report_without_the_meaning_section_fails_its_check():
    titles = [t for t in report.EXPECTED_SECTIONS if t != "Meaning"]
    verdict = report.judge_sections([report.Section(t, picture_png=b"png") for t in titles])
    assert not verdict.passed
    assert verdict.metadata["missing"] == ["Meaning"]
