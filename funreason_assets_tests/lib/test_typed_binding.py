"""Typed binding: values by semantic type, never across types; no no-op ground-truth calls."""

import random
from collections import Counter

import pytest

from funreason_assets.lib.binding import (
    FREE_TEXT_TYPES,
    ArgumentBinder,
    SourcePool,
    UnbindableError,
    class_sources,
    output_sources,
    state_content,
)
from funreason_assets.lib.sampler import (
    PlanSampler,
    SamplerConfig,
    _DialogueWalk,
    found_nothing,
    is_auth_tool,
    result_problem,
)
from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds
from funreason_assets.lib.value_types import validate_value

# The words the binder used to fall back on.
OLD_FILLER = {
    "quarterly review", "budget", "notes", "weekend trip", "project alpha", "meeting",
    "summary", "draft",
}
SEARCH_TOOLS = ("grep", "find", "search_messages", "search_tweets")


@pytest.fixture(scope="module")
def sampled(registry, api_graph):
    """200 directed dialogues (with their scenarios' personas) and the sampler that made them."""
    sampler = PlanSampler(registry, api_graph, SamplerConfig())
    plans = []
    for seed in shard_seeds("typed-binding", 200, 5):
        scenario = generate_scenario(seed, sorted(registry.classes), 1, 3)
        plan = sampler.sample(
            scenario.scenario_id, scenario.seed, scenario.involved_classes,
            scenario.initial_config, persona=scenario.persona,
        )
        if plan is not None:
            plans.append((scenario, plan))
    assert len(plans) >= 190
    return sampler, plans


def executed(plans):
    for scenario, plan in plans:
        for planned in plan.rounds:
            for call in planned.executed_calls():
                yield scenario, plan, planned, call


def strings(data, out):
    if isinstance(data, dict):
        for key, value in data.items():
            out.add(str(key))
            strings(value, out)
    elif isinstance(data, list | tuple):
        for item in data:
            strings(item, out)
    elif isinstance(data, str):
        out.add(data)


def binder_for(registry, seed=0, persona=None):
    return ArgumentBinder(
        random.Random(seed), registry, literals=registry.literal_domains(), persona=persona
    )


def test_a_city_is_a_known_city_never_a_persons_name(registry):
    tool = registry.tool("get_zipcode_based_on_city")
    known = set(registry.value_context(tool.name, "city").domain)
    people = {"city_of_birth": "Rafael Almeida", "driver_name": "Rafael Almeida",
              "home_city_owner": "Mireille Dubois"}
    state = SourcePool(class_sources("VehicleControlAPI", people))
    outputs = SourcePool(output_sources([(0, "get_user_id", {"city": "Rafael Almeida"})]))
    for seed in range(40):
        bound = binder_for(registry, seed).bind(tool, outputs, state)
        assert bound["city"].value in known
        assert bound["city"].value_type == "city"
        assert bound["city"].source in ("enum", "mined")


def test_values_of_another_kind_are_never_bound(registry):
    """An expiry date never becomes a card number, a transaction id never a client id."""
    state = SourcePool(class_sources("TravelAPI", {
        "credit_card_list": {"1234": {"expiration_date": "09/2031", "cardholder_name": "Ann Lee"}},
        "booking_record": {"booking_1": {"transaction_id": "trans_099", "card_id": "1234"}},
        "user_first_name": "Ann", "user_last_name": "Lee", "access_token": "481516",
    }))
    for seed in range(30):
        binder = binder_for(registry, seed)
        card = binder.bind(registry.tool("register_credit_card"), (), state)
        for name, value in card.items():
            context = registry.value_context("register_credit_card", name)
            assert validate_value(value.value_type, value.value, context) is None
        assert card["card_number"].value != "09/2031"
        auth = binder.bind(registry.tool("authenticate_travel"), (), state)
        assert auth["client_id"].value != "trans_099"
        # The traveler's own name, not a made-up one beside it.
        assert auth["user_first_name"].value == "Ann"
        assert auth["user_last_name"].value == "Lee"


def test_an_unbindable_parameter_makes_the_tool_illegal(registry, api_graph):
    tool = registry.tool("close_ticket")  # a ticket id exists only in the state or an output
    with pytest.raises(UnbindableError):
        binder_for(registry).bind(tool, (), SourcePool())
    # In the walk, such a tool is not legal at this step: the call is not made.
    sampler = PlanSampler(registry, api_graph, SamplerConfig())
    environment = registry.environment(["TicketAPI"], {"TicketAPI": {"ticket_queue": []}})
    walk = _DialogueWalk(sampler, environment, random.Random(0), {})
    calls = []
    assert not walk.try_call("close_ticket", 0, calls)
    assert calls == []


def test_no_op_calls_are_rejected(registry, api_graph):
    """A login into an open session changes nothing: it is not a ground-truth call."""
    sampler = PlanSampler(registry, api_graph, SamplerConfig())
    environment = registry.environment(["TradingBot"], {"TradingBot": {"authenticated": True}})
    walk = _DialogueWalk(sampler, environment, random.Random(0), {})
    calls = []
    assert not walk.try_call("trading_login", 0, calls)
    assert walk.try_call("trading_logout", 0, calls)
    assert walk.try_call("trading_login", 0, calls)
    assert [call.tool for call in calls] == ["trading_logout", "trading_login"]


def test_every_argument_validates_and_records_its_type(registry, sampled):
    _, plans = sampled
    checked = 0
    for scenario, _plan, _planned, call in executed(plans):
        for argument in call.arguments:
            value_type = registry.value_type(call.tool, argument.name)
            assert argument.value_type == value_type
            context = registry.value_context(call.tool, argument.name, scenario.persona)
            assert validate_value(value_type, argument.value, context) is None, (
                call.call, argument.name)
            if argument.provenance == "literal":
                assert argument.source in ("enum", "mined", "default", "provider")
            checked += 1
    assert checked > 1000


def test_no_filler_words_in_sampled_plans(sampled):
    """No made-up value is filler; a filler-looking value is a real entity (a folder `notes`)."""
    _, plans = sampled
    for _scenario, _plan, _planned, call in executed(plans):
        for argument in call.arguments:
            values = argument.value if isinstance(argument.value, list) else [argument.value]
            if any(isinstance(v, str) and v.strip().lower() in OLD_FILLER for v in values):
                assert argument.provenance in ("state", "output"), (call.call, argument)


def test_free_text_is_written_never_copied_from_an_output_or_the_state(registry, sampled):
    _, plans = sampled
    texts = 0
    for _scenario, plan, planned, call in executed(plans):
        for argument in call.arguments:
            if argument.value_type not in FREE_TEXT_TYPES:
                continue
            texts += 1
            assert (argument.provenance, argument.source) == ("literal", "provider")
            seen: set[str] = set()
            strings(plan.initial_config, seen)
            for earlier in plan.rounds[: planned.index + 1]:
                for other in earlier.executed_calls():
                    if earlier.index < planned.index or other.index < call.index:
                        strings(other.output, seen)
            values = argument.value if isinstance(argument.value, list) else [argument.value]
            assert not any(value in seen for value in values), (call.call, argument.name)
    assert texts > 50


def test_searches_find_something(sampled):
    _, plans = sampled
    searches = [call for *_, call in executed(plans) if call.tool in SEARCH_TOOLS]
    hits = [call for call in searches if not found_nothing(call.output)]
    assert len(searches) > 20
    assert len(hits) / len(searches) >= 0.85
    for call in searches:
        arguments = call.argument_values()
        if call.tool == "grep" and not found_nothing(call.output):
            assert all(arguments["pattern"] in line for line in call.output["matching_lines"])


def test_no_self_defeating_calls(sampled):
    _, plans = sampled
    for _scenario, _plan, _planned, call in executed(plans):
        arguments = call.argument_values()
        if call.tool == "edit_ticket":
            assert arguments["updates"]
        if call.tool == "pressBrakePedal":
            assert arguments["pedalPosition"] > 0
        if call.tool in ("fillFuelTank", "withdraw_funds", "fund_account"):
            assert next(iter(arguments.values())) > 0
        if call.tool in ("cp", "mv"):
            assert arguments["source"] != arguments["destination"]
        if call.tool == "cd":
            assert arguments["folder"] != "."
        if call.tool == "setCruiseControl" and arguments.get("activate"):
            assert arguments["speed"] > 0
        for statistic in ("mean", "standard_deviation", "min_value", "max_value"):
            if call.tool == statistic:
                assert len(arguments["numbers"]) >= 2


def test_no_error_results_outside_error_recovery(sampled):
    _, plans = sampled
    for _scenario, _plan, _planned, call in executed(plans):
        assert call.status == "ok"
        assert result_problem(call.tool, call.output) is None, call.call


def test_logins_only_as_target_or_needed_prerequisite(sampled):
    sampler, plans = sampled
    auth = calls = 0
    for _scenario, _plan, planned, call in executed(plans):
        calls += 1
        if not is_auth_tool(call.tool):
            continue
        auth += 1
        executed_calls = planned.executed_calls()
        target_position = next(
            i for i, c in enumerate(executed_calls) if c.tool == planned.target
        )
        position = executed_calls.index(call)
        if position == target_position:
            continue
        assert position < target_position, f"{call.tool} after the target {planned.target}"
        assert "logout" not in call.tool
        assert call.tool in sampler.index.requirements(planned.target)
    # Most states start logged out on purpose (prerequisites are earned), so a login opens
    # many goals; it stays a small share of the calls all the same.
    assert auth / calls <= 0.10


def test_search_terms_come_from_the_searched_content(registry):
    """`grep`'s pattern is a word of the file bound in the same call."""
    config = {"root": {"home": {"type": "directory", "contents": {
        "plan.txt": {"type": "file", "content": "Kickoff for the harbor redesign\nBudget ok"},
        "todo.md": {"type": "file", "content": "Call the florist about the gala"},
    }}}}
    environment = registry.environment(["GorillaFileSystem"], {"GorillaFileSystem": config})
    public = {
        key: value
        for key, value in vars(environment.instances["GorillaFileSystem"]).items()
        if not key.startswith("_")
    }
    state = SourcePool(class_sources("GorillaFileSystem", public))
    content = state_content(public)
    tool = registry.tool("grep")
    terms = Counter()
    for seed in range(30):
        bound = binder_for(registry, seed).bind(tool, (), state, content=content)
        file_name, pattern = bound["file_name"].value, bound["pattern"].value
        text = config["root"]["home"]["contents"][file_name]["content"]
        assert pattern in text
        assert pattern.lower() not in {"the", "for", "about"}
        terms[pattern] += 1
    assert len(terms) > 3
