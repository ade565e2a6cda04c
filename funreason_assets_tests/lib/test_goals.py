"""Goal-driven dialogues: planned goals, earned prerequisites, cross-turn reuse, coverage."""

import random
from collections import Counter

import pytest

from funreason_assets.lib.binding import ArgumentBinder, SourcePool, class_sources
from funreason_assets.lib.dialogue_stats import cohesion, earlier_rounds_used
from funreason_assets.lib.goals import GoalConfig, GoalPlanner, goal_reason
from funreason_assets.lib.realizer.voice import _AFTER_EARLIER
from funreason_assets.lib.records import Argument, ExecutedCall, PlannedRound
from funreason_assets.lib.sampler import _UNDO_TOOL, PlanSampler, SamplerConfig, is_auth_tool
from funreason_assets.lib.sampling import (
    COVERAGE_CHECK,
    PlanCheckSettings,
    coverage,
    judge_plans,
    replay_problems,
    unreachable_tools,
)
from funreason_assets.lib.scenarios.generators import (
    GOAL_COMPANIONS,
    ScenarioMix,
    choose_involved_classes,
    generate_scenario,
    shard_seeds,
)


@pytest.fixture(scope="module")
def scenarios(registry):
    seeds = shard_seeds("shard-goals", 160, 5)
    return [generate_scenario(seed, sorted(registry.classes), 1, 3) for seed in seeds]


def _sample(registry, graph, scenarios, **config):
    sampler = PlanSampler(registry, graph, SamplerConfig(**config))
    plans = [
        plan for s in scenarios
        if (plan := sampler.sample(
            s.scenario_id, s.seed, s.involved_classes, s.initial_config,
            persona=s.persona, key_class=s.key_class,
        ))
    ]
    return sampler, plans


@pytest.fixture(scope="module")
def directed(registry, api_graph, scenarios):
    return _sample(registry, api_graph, scenarios)


@pytest.fixture(scope="module")
def random_walk(registry, api_graph, scenarios):
    return _sample(registry, api_graph, scenarios, strategy="random_walk")


def test_every_plan_carries_its_goal_and_the_goal_follows_the_rounds(registry, directed):
    _, plans = directed
    assert len(plans) >= 150
    for plan in plans:
        goal = plan.goal
        assert goal["reason"] and goal["key_class"] in plan.involved_classes
        assert [task["target"] for task in goal["tasks"]] == [r.target for r in plan.rounds]
        for index, task in enumerate(goal["tasks"]):
            assert all(earlier < index for earlier in task["builds_on"])
            assert task["builds_on"] == sorted(earlier_rounds_used(plan.rounds, index))
            assert task["class_name"] == registry.tool(task["target"]).class_name
    # Most tasks are realized as planned; a replaced one names what was planned.
    tasks = [task for plan in plans for task in plan.goal["tasks"]]
    replaced = [task for task in tasks if task["planned"]]
    assert len(replaced) < 0.3 * len(tasks)
    assert all(task["planned"] != task["target"] for task in replaced)


def test_goal_driven_plans_still_replay_exactly(registry, directed):
    _, plans = directed
    for plan in plans[:60]:
        assert replay_problems(registry, plan) == []


def test_directed_goals_reach_deeper_and_hold_together_better_than_the_random_walk(
    registry, directed, random_walk
):
    tools = [tool.name for tool in registry.tools()]
    ours, baseline = coverage(directed[1], tools), coverage(random_walk[1], tools)
    assert ours["mean_depth"] >= 3 * baseline["mean_depth"]
    assert ours["share_rounds_depth_2_plus"] >= 5 * baseline["share_rounds_depth_2_plus"]
    assert ours["mean_depth"] >= 0.6
    held = cohesion(directed[1])
    assert held["goal_share"] == 1.0 and cohesion(random_walk[1])["goal_share"] == 0.0
    assert held["reuse_share"] >= 0.4
    assert held["single_class_share"] >= 0.4


def test_prerequisites_are_earned_within_the_round(registry, directed):
    """Logged-out states: the round that needs the session opens it before its target."""
    _, plans = directed
    earned = 0
    for plan in plans:
        for planned in plan.rounds:
            tools = [call.tool for call in planned.executed_calls()]
            target_at = tools.index(planned.target)
            if any("login" in tool or "authenticate" in tool for tool in tools[:target_at]):
                earned += 1
                assert planned.dependency_depth >= 1
    assert earned >= 20


def test_depth_counts_only_calls_of_the_round(registry, directed):
    """A value taken from an earlier round adds no depth: the chain is the round's own."""
    _, plans = directed
    for plan in plans:
        for planned in plan.rounds:
            executed = planned.executed_calls()
            if len(executed) == 1:
                assert planned.dependency_depth == 0


def test_scenarios_choose_classes_that_fit_the_goal_and_withhold_prerequisites(registry):
    rng = random.Random(3)
    classes = sorted(registry.classes)
    keys, fitting, companions, single = Counter(), 0, 0, 0
    for _ in range(300):
        key, chosen = choose_involved_classes(rng, classes, 1, 3, 0.5)
        keys[key] += 1
        assert key in chosen and key != "MathAPI"
        others = [name for name in chosen if name != key]
        companions += len(others)
        fitting += sum(name in GOAL_COMPANIONS[key] for name in others)
        single += not others
    assert set(keys) == set(classes) - {"MathAPI"}
    assert fitting >= 0.75 * companions
    assert 0.4 <= single / 300 <= 0.65
    logged_out = Counter()
    for seed in range(200):
        scenario = generate_scenario(seed, classes, 1, 3, mix=ScenarioMix(unmet_prerequisites=1))
        for name, config in scenario.initial_config.items():
            if name == "TwitterAPI":
                logged_out[name] += config["authenticated"] is False
            if name in ("TicketAPI", "MessageAPI"):
                logged_out[name] += config["current_user"] is None
            if name == "VehicleControlAPI":
                assert "unlocked" in config["doorStatus"].values()
    assert logged_out and all(count > 0 for count in logged_out.values())
    never = generate_scenario(1, ["TwitterAPI"], 1, 1, mix=ScenarioMix(unmet_prerequisites=0))
    assert never.key_class == "TwitterAPI"


def test_goal_planner_builds_later_tasks_on_earlier_ones(registry, api_graph):
    sampler = PlanSampler(registry, api_graph, SamplerConfig())
    planner = GoalPlanner(
        lambda tool: list(api_graph.successors(tool)), {}, sampler.class_of,
        GoalConfig(build_on_share=1.0, companion_share=0.0),
    )
    travel = [tool.name for tool in registry.tools(["TravelAPI"])]
    assert {"cancel_booking", "retrieve_invoice", "purchase_insurance"} <= planner.builds_on(
        "book_flight"
    )
    persona = {"travel_cities": ["Denver"], "first_name": "Ann"}
    goal = planner.plan(random.Random(1), "TravelAPI", travel, 4,
                        lambda tool: 5.0 if tool == "book_flight" else 1.0, persona)
    assert len(goal.tasks) == 4
    for index, task in enumerate(goal.tasks[1:], start=1):
        assert task.builds_on, f"task {index} {task.target} builds on nothing"
    assert "Denver" in goal_reason("TravelAPI", persona, random.Random(0)) or goal.reason


def test_reuse_counts_produced_and_repeated_values_but_not_booleans_or_enums():
    def call(index, tool, arguments, output):
        return ExecutedCall(
            index=index, tool=tool, class_name="C", arguments=arguments, call=tool,
            status="ok", output=output,
        )

    def round_(index, calls):
        return PlannedRound(
            index=index, target=calls[-1].tool, variant="base", calls=calls,
            state_digest_after="", dependency_depth=0, edges_followed=[],
        )

    first = round_(0, [call(0, "book", [Argument(name="to", value="Denver", provenance="literal",
                                                source="provider", value_type="city")],
                            {"booking_id": "B-77812", "ok": True})])
    by_output = round_(1, [call(0, "cancel", [Argument(
        name="booking_id", value="B-77812", provenance="output", source="0.0:booking_id",
        value_type="booking_id")], {"ok": True})])
    by_value = round_(1, [call(0, "weather", [Argument(
        name="city", value="Denver", provenance="literal", source="provider",
        value_type="city")], {"t": 3})])
    unrelated = round_(1, [call(0, "flag", [Argument(
        name="on", value=True, provenance="literal", source="provider",
        value_type="boolean_text"), Argument(name="mode", value="Denver", provenance="literal",
                                             source="enum", value_type="enum")], {})])
    assert earlier_rounds_used([first, by_output], 1) == {0}
    assert earlier_rounds_used([first, by_value], 1) == {0}
    assert earlier_rounds_used([first, unrelated], 1) == set()


def test_coverage_check_blocks_untargeted_tools_but_not_unreachable_ones_or_small_shards(
    registry, api_graph, directed
):
    _, plans = directed
    assert "get_outside_temperature_from_weather_com" in unreachable_tools(api_graph)
    targeted = {planned.target for plan in plans for planned in plan.rounds}
    missing = sorted({"get_outside_temperature_from_weather_com", *targeted})
    never = "a_tool_nobody_targets"
    checks = PlanCheckSettings(coverage_rounds_per_tool=1.0)
    tools = [*missing, never]
    result = judge_plans(registry, plans[:40], tools, checks, unreachable_tools(api_graph))
    verdict = next(v for v in result.verdicts if v.spec == COVERAGE_CHECK)
    assert not verdict.passed and COVERAGE_CHECK.blocking
    assert never in verdict.metadata["below"]
    assert "get_outside_temperature_from_weather_com" not in verdict.metadata["below"]
    small = PlanCheckSettings(coverage_rounds_per_tool=1000.0)
    result = judge_plans(registry, plans[:40], tools, small, unreachable_tools(api_graph))
    verdict = next(v for v in result.verdicts if v.spec == COVERAGE_CHECK)
    assert verdict.passed and verdict.metadata["applies"] is False


def test_the_probe_finds_what_an_and_pair_enables(api_graph):
    assert ["startEngine"] in api_graph.nodes["setCruiseControl"]["prerequisites"]


def test_queries_tie_back_only_to_rounds_they_build_on():
    phrases = [text.split("{")[0].strip() for text in _AFTER_EARLIER if "{did}" in text]
    assert phrases  # "Now that you", "Since you", ...
    from funreason_assets.lib.realizer import voice

    style = voice.Voice("casual", {})
    rng = random.Random(0)
    plain = {voice.continuation(style, rng, "") for _ in range(200)}
    assert not any(text.startswith(tuple(phrases)) for text in plain)


def test_the_working_directory_is_state_so_cd_is_a_prerequisite(registry, api_graph):
    """`cd` moves a private position: it is observable state, so entering a folder counts."""
    scenario = generate_scenario(6, ["GorillaFileSystem"], 1, 1, mix=ScenarioMix(
        unmet_prerequisites=1))
    workspace = next(iter(scenario.initial_config["GorillaFileSystem"]["root"].values()))
    assert all(item["type"] == "directory" for item in workspace["contents"].values())
    environment = registry.environment(scenario.involved_classes, scenario.initial_config)
    before = environment.class_state("GorillaFileSystem")["_position"]
    folder = next(iter(workspace["contents"]))
    environment.methods["cd"][0](folder=folder)
    after = environment.class_state("GorillaFileSystem")["_position"]
    assert before != after and after.endswith(f"/{folder}")
    assert "cd" in set(api_graph.predecessors("cat"))


def test_later_rounds_prefer_the_entities_earlier_rounds_named(registry):
    """A value an earlier round named (its booking) is the one a later call picks."""
    bookings = {
        f"{number}": {"card_id": "1234", "travel_date": "2026-03-01", "travel_from": "JFK",
                      "travel_to": "LAX", "travel_class": "economy", "travel_cost": 300.0,
                      "transaction_id": f"trans_{number}"}
        for number in (3209320, 4105981, 5529123, 6671004)
    }
    state = SourcePool(class_sources("TravelAPI", {
        "booking_record": bookings, "access_token": "481516",
        "credit_card_list": {"1234": {"card_number": "4111111111111111"}},
    }))
    tool = registry.tool("cancel_booking")

    def picks(memory: bool) -> int:
        chosen = 0
        for seed in range(40):
            binder = ArgumentBinder(random.Random(seed), registry,
                                    literals=registry.literal_domains())
            if memory:
                binder.remember(["5529123", "Rivermist"])
            bound = binder.bind(tool, (), state, sourced=frozenset({"booking_id"}))
            chosen += bound["booking_id"].value == "5529123"
        return chosen

    assert picks(memory=True) >= 32
    assert picks(memory=False) <= 20


def test_the_lineage_story_tells_the_goal_and_what_each_task_used(directed):
    from funreason_assets.lib.lineage_story import plan_header

    _, plans = directed
    plan = next(p for p in plans if any(t["builds_on"] for t in p.goal["tasks"]))
    lines = plan_header(plan, None)
    assert f"  goal ({plan.goal['key_class']}): {plan.goal['reason']}" in lines
    tasks = [line for line in lines if line.startswith("    task ")]
    assert len(tasks) == len(plan.rounds)
    assert any(", uses round " in line for line in tasks)


def test_the_scripted_reasoner_reads_a_list_of_items_back_from_the_result():
    from funreason_assets.lib.roles.scripted import _resolve

    listing = {"stock_list": ["TSLA", "F", "GM"]}
    assert _resolve(listing, "stock_list[]", ["TSLA", "GM"]) == ["TSLA", "GM"]
    assert _resolve(listing, "stock_list[]", ["XX", "YY"]) == ["TSLA", "F"]
    assert _resolve(listing, "stock_list[]", "GM") == "GM"


def test_no_round_repeats_the_same_call(directed):
    _, plans = directed
    for plan in plans:
        for planned in plan.rounds:
            calls = [call.call for call in planned.executed_calls()]
            assert len(calls) == len(set(calls)), calls


def test_the_post_target_tail_acts_on_what_its_round_made(directed):
    # The tail after a round's target takes a value a call of the same round produced (the
    # invoice of the booking just made) and never undoes one: no request stitched onto another.
    _, plans = directed
    tails = Counter()
    for plan in plans:
        for planned in plan.rounds:
            calls = [call for call in planned.calls if not call.injected_error]
            position = next(i for i, call in enumerate(calls) if call.tool == planned.target)
            for call in calls[position + 1:]:
                tails[call.tool] += 1
                assert not _UNDO_TOOL.match(call.tool), (planned.target, call.call)
                assert any(
                    argument.provenance == "output"
                    and argument.source.split(".", 1)[0] == str(planned.index)
                    for argument in call.arguments
                ), (planned.target, call.call)
    assert sum(tails.values()) >= 20 and len(tails) >= 5


def test_a_tool_that_always_fails_is_given_up_and_one_the_walk_reaches_is_kept(
    registry, api_graph, directed
):
    sampler, plans = directed
    never = set(unreachable_tools(api_graph))
    # The weather service always answers 404; the probe cannot bind a mention's usernames.
    assert {"get_outside_temperature_from_weather_com", "mention"} <= never
    assert never <= sampler.unreachable
    failures = sampler.stats.target_failures["get_outside_temperature_from_weather_com"]
    assert 1 <= failures <= 4
    assert sampler.given_up("get_outside_temperature_from_weather_com") == (failures >= 3)
    assert not sampler.given_up("mention") and sampler.stats.targets["mention"] >= 1
    fresh = PlanSampler(registry, api_graph, SamplerConfig())
    fresh.stats.target_failures.update({"get_outside_temperature_from_weather_com": 3,
                                        "mention": 5, "send_message": 9})
    fresh.stats.targets["mention"] = 1
    assert fresh.given_up("get_outside_temperature_from_weather_com")
    assert not fresh.given_up("mention") and not fresh.given_up("send_message")
    planned = Counter(
        task["planned"] or task["target"] for plan in plans for task in plan.goal["tasks"])
    assert planned["get_outside_temperature_from_weather_com"] <= 4


def test_zip_codes_are_looked_up_and_distances_measured(directed):
    # The paper's own example: nobody knows a zip code, so the distance between two cities
    # starts from their zip codes, and a trip's feasibility from that distance.
    _, plans = directed
    distances = feasibility = 0
    for plan in plans:
        for planned in plan.rounds:
            for call in planned.executed_calls():
                if call.tool == "estimate_distance":
                    distances += 1
                    assert all(a.provenance != "literal" for a in call.arguments), call.call
                if call.tool == "estimate_drive_feasibility_by_mileage":
                    feasibility += 1
                    [distance] = call.arguments
                    assert distance.provenance == "output", call.call
                    assert distance.source.endswith(":distance")
    assert distances >= 5 and feasibility >= 1


def test_nothing_is_made_in_a_round_only_to_be_undone_in_it(api_graph, directed):
    # No booking made to be cancelled, no ticket opened to be closed, no folder made to be
    # removed: an undo acts on what an earlier round made or a lookup found.
    _, plans = directed
    undone = 0
    for plan in plans:
        for planned in plan.rounds:
            if not _UNDO_TOOL.match(planned.target):
                continue
            undone += 1
            calls = [call for call in planned.calls if not call.injected_error]
            position = next(i for i, c in enumerate(calls) if c.tool == planned.target)
            makers = {
                call.tool for call in calls[:position]
                if api_graph.has_edge(call.tool, planned.target)
                and api_graph.nodes[call.tool].get("read_only") is not True
                and not is_auth_tool(call.tool)
            }
            assert not makers, (planned.target, [c.call for c in calls])
    assert undone >= 30


def test_a_round_holds_no_lookup_nothing_in_it_used(registry, api_graph, directed):
    # A step toward a target may look up what the target then did not take: such a lookup
    # is dropped (it changed no state), so a query never has to ask for it.
    _, plans = directed
    kept_lookups = 0
    for plan in plans:
        for planned in plan.rounds:
            calls = [call for call in planned.calls if not call.injected_error]
            assert [call.index for call in calls] == list(range(len(calls)))
            position = next(i for i, c in enumerate(calls) if c.tool == planned.target)
            used = {
                int(argument.source.split(":", 1)[0].split(".")[1])
                for call in calls for argument in call.arguments
                if argument.provenance == "output"
                and argument.source.startswith(f"{planned.index}.")
            }
            for index, call in enumerate(calls[:position]):
                if api_graph.nodes[call.tool].get("read_only") is True and not is_auth_tool(
                    call.tool
                ):
                    assert index in used, (planned.target, [c.call for c in calls])
                    kept_lookups += 1
    assert kept_lookups >= 50
    assert not [plan.plan_id for plan in plans if replay_problems(registry, plan)]

