"""The sampling phase: a shard's ground-truth plans, their checks and statistics.

The walk itself is `lib.sampler`. Here every plan is replayed from its initial config (calls
return what was recorded, rounds end in the recorded state), its rounds are checked for their
target and for producers that precede uses, and the shard is measured: how often each tool was
a target, how many plans repeat another, and how far the directed sampler reaches compared
with the random-walk baseline on the same seeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.checks import CheckSpec, PhaseResult, Picture, first_items
from funreason_assets.lib.dialogue_stats import cohesion
from funreason_assets.lib.executor import ParsedCall, execute_call
from funreason_assets.lib.figures import figure_png, pyplot
from funreason_assets.lib.records import DialoguePlan
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.sampler import PlanSampler, SamplerConfig, unreachable_tools
from funreason_assets.lib.scenarios.generators import Scenario
from funreason_assets.lib.semantic_gate import gate_metadata, measure_plans
from funreason_assets.lib.state import state_digest

REPLAY_CHECK = CheckSpec(
    "plans_replay_deterministically",
    "Every call replays to the same result and every round to the same state from the initial "
    "config; only injected errors fail.",
    blocking=True,
)
ROUNDS_CHECK = CheckSpec(
    "rounds_well_formed",
    "Every round contains its target; every tool-produced argument has an earlier producer.",
    blocking=True,
)
COVERAGE_CHECK = CheckSpec(
    "tool_coverage",
    "Every tool of the shard's classes is a target at least the configured number of times "
    "(tools no graph probe ever made succeed are listed, not required; a shard with fewer "
    "rounds than `coverage_rounds_per_tool` per tool is too small to require it).",
    blocking=True,
)
DUPLICATES_CHECK = CheckSpec(
    "duplicate_plans",
    "Share of plans repeating the calls and arguments of another plan stays below the "
    "threshold.",
    severity="warn",
)
MEANING_CHECK = CheckSpec(
    "arguments_have_meaning",
    "Every argument of every executed call is a plausible value of its parameter's semantic "
    "type, and every identifier exists in the initial state or an earlier output; the share "
    "of violating arguments stays within the threshold.",
    blocking=True,
)
PLAN_CHECKS = (REPLAY_CHECK, ROUNDS_CHECK, COVERAGE_CHECK, DUPLICATES_CHECK, MEANING_CHECK)

# Plans listed per failing check, and problems per plan: enough to diagnose a divergence.
_LISTED_PLANS = 10
_LISTED_PROBLEMS = 3


class PlanCheckSettings(BaseModel):
    """Thresholds of the checks on ground-truth plans."""

    model_config = ConfigDict(extra="forbid")

    min_target_count: int = Field(
        default=1, ge=0, description="Each tool of the shard's classes targeted this often."
    )
    coverage_rounds_per_tool: float = Field(
        default=3.0, ge=0,
        description="The coverage check applies to shards with at least this many rounds per "
        "tool of their classes.",
    )
    max_duplicate_share: float = Field(default=0.02, ge=0, le=1)
    max_meaning_violation_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of arguments the semantic gate may reject (implausible for their "
        "type, or identifiers that exist nowhere).",
    )
    compare_with_random_walk: bool = True


def replay_problems(registry: ToolRegistry, plan: DialoguePlan) -> list[str]:
    """Replay a plan from its initial config; list every divergence (empty when faithful).

    Checks that every executed call returns the recorded status and output, that each round
    ends in the recorded state digest, and that only injected errors are failures.
    """
    problems: list[str] = []
    environment = registry.environment(
        plan.involved_classes, plan.initial_config, plan.long_context
    )
    for planned in plan.rounds:
        for call in planned.calls:
            if call.injected_error:
                continue
            outcome = execute_call(
                environment, ParsedCall(call.tool, (), call.argument_values())
            )
            if not outcome.ok:
                problems.append(f"round {planned.index} call {call.index}: {outcome.error}")
            elif outcome.output != call.output:  # the executor's output is JSON-able already
                problems.append(f"round {planned.index} call {call.index}: output differs")
        digest = environment.digest()
        if digest != planned.state_digest_after:
            problems.append(f"round {planned.index}: state digest {digest} != recorded")
    return problems


def structure_problems(plan: DialoguePlan) -> list[str]:
    """Round-level rules: target present, producers precede uses, failures only injected."""
    problems = []
    for planned in plan.rounds:
        if not any(c.tool == planned.target and not c.injected_error for c in planned.calls):
            problems.append(f"round {planned.index}: target {planned.target} missing")
        for call in planned.calls:
            if call.status != "ok" and not call.injected_error:
                problems.append(f"round {planned.index} call {call.index}: status {call.status}")
            for argument in call.arguments:
                if argument.provenance != "output":
                    continue
                position = argument.source.split(":", 1)[0]
                producer_round, producer_call = (int(part) for part in position.split("."))
                earlier = producer_round < planned.index or (
                    producer_round == planned.index and producer_call < call.index
                )
                if not earlier:
                    problems.append(
                        f"round {planned.index} call {call.index}: argument {argument.name} "
                        f"uses {position}, which is not earlier"
                    )
    return problems


def plan_fingerprint(plan: DialoguePlan) -> str:
    """Identity of a plan's calls and arguments (for duplicate detection)."""
    return state_digest(
        [[call.call for call in planned.executed_calls()] for planned in plan.rounds]
    )


def _histogram(values: Iterable[int]) -> dict[str, int]:
    counts = Counter(values)
    return {str(key): counts[key] for key in sorted(counts)}


def plan_distributions(plans: Sequence[DialoguePlan]) -> dict[str, Any]:
    """Rounds per dialogue, calls per round, dependency depth and variants."""
    rounds = [planned for plan in plans for planned in plan.rounds]
    return {
        "dialogues": len(plans),
        "rounds": len(rounds),
        "rounds_per_dialogue": _histogram(len(plan.rounds) for plan in plans),
        "calls_per_round": _histogram(len(planned.executed_calls()) for planned in rounds),
        "dependency_depth": _histogram(planned.dependency_depth for planned in rounds),
        "variants": dict(Counter(planned.variant for planned in rounds).most_common()),
        "long_context_dialogues": sum(1 for plan in plans if plan.long_context),
    }


def coverage(plans: Sequence[DialoguePlan], tools: Sequence[str]) -> dict[str, Any]:
    """Share of the given tools ever reached, and mean dependency depth per round."""
    reached = {
        call.tool
        for plan in plans
        for planned in plan.rounds
        for call in planned.executed_calls()
    }
    rounds = [planned for plan in plans for planned in plan.rounds]
    depth = [planned.dependency_depth for planned in rounds]
    universe = set(tools)
    return {
        "tools": len(universe),
        "tools_reached": len(reached & universe),
        "share_reached": round(len(reached & universe) / len(universe), 4) if universe else 0.0,
        "mean_depth": round(sum(depth) / len(depth), 3) if depth else 0.0,
        "share_rounds_depth_2_plus": (
            round(sum(1 for d in depth if d >= 2) / len(depth), 4) if depth else 0.0
        ),
        "dialogues": len(plans),
    }


def target_counts(plans: Sequence[DialoguePlan]) -> Counter[str]:
    """How often each tool was a round's target."""
    return Counter(planned.target for plan in plans for planned in plan.rounds)


def duplicate_share(plans: Sequence[DialoguePlan]) -> tuple[float, int]:
    """Share and count of plans whose calls and arguments repeat an earlier plan."""
    seen: set[str] = set()
    duplicates = 0
    for plan in plans:
        fingerprint = plan_fingerprint(plan)
        if fingerprint in seen:
            duplicates += 1
        seen.add(fingerprint)
    return (duplicates / len(plans) if plans else 0.0), duplicates


COMPARED_METRICS = (
    ("share_reached", "share of tools reached"),
    ("mean_depth", "mean dependency depth"),
    ("share_rounds_depth_2_plus", "rounds with depth >= 2"),
    ("reuse_share", "turns using an earlier turn"),
    ("single_class_share", "dialogues in one class"),
)


def coverage_figure(directed: dict[str, Any], random_walk: dict[str, Any]) -> Any:
    """Bar chart comparing the directed sampler with the random-walk baseline."""
    plt = pyplot()
    shown = [(m, label) for m, label in COMPARED_METRICS if m in directed and m in random_walk]
    metrics = [m for m, _ in shown]
    labels = [label for _, label in shown]
    figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2))
    for axis, metric, label in zip(axes, metrics, labels, strict=True):
        values = [directed[metric], random_walk[metric]]
        bars = axis.bar(["directed", "random walk"], values, color=["#1f77b4", "#999999"])
        axis.bar_label(bars, fmt="%.2f", fontsize=8)
        axis.set_title(label, fontsize=9)
    figure.suptitle("Directed sampler vs random-walk baseline (same seeds)", fontsize=10)
    figure.tight_layout()
    return figure


def _problems_per_plan(found: Iterable[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """The first problems of every plan that has any, by plan id."""
    return {plan_id: problems[:_LISTED_PROBLEMS] for plan_id, problems in found if problems}


def judge_plans(
    registry: ToolRegistry,
    plans: list[DialoguePlan],
    shard_tools: Sequence[str],
    checks: PlanCheckSettings,
    unreachable: Sequence[str] = (),
) -> PhaseResult[list[DialoguePlan]]:
    """The plans with their check verdicts, distributions and coverage of the shard's tools.

    Args:
        registry: Environment classes and tools (for the replay).
        plans: The shard's plans.
        shard_tools: The tools of the shard's classes.
        checks: Thresholds.
        unreachable: Tools no graph probe made succeed (listed by the coverage check, not
            required: `get_outside_temperature_from_weather_com` always answers 404).
    """
    replay = _problems_per_plan((plan.plan_id, replay_problems(registry, plan)) for plan in plans)
    structure = _problems_per_plan((plan.plan_id, structure_problems(plan)) for plan in plans)
    targets = target_counts(plans)
    floor = checks.min_target_count
    rounds = sum(len(plan.rounds) for plan in plans)
    applies = rounds >= checks.coverage_rounds_per_tool * len(shard_tools)
    under_target = sorted(
        tool for tool in shard_tools if targets[tool] < floor and tool not in unreachable
    ) if applies else []
    dup_share, dup_count = duplicate_share(plans)
    meaning = measure_plans(registry, plans)
    return PhaseResult(
        value=plans,
        verdicts=[
            REPLAY_CHECK.verdict(
                not replay, plans=len(plans), diverging=first_items(replay, _LISTED_PLANS)
            ),
            ROUNDS_CHECK.verdict(
                not structure, plans=len(plans), problems=first_items(structure, _LISTED_PLANS)
            ),
            COVERAGE_CHECK.verdict(
                not under_target,
                tools=len(shard_tools),
                min_target_count=floor,
                below=under_target,
                targeted=len([t for t in shard_tools if targets[t] >= floor]),
                unreachable=sorted(set(unreachable) & set(shard_tools)),
                applies=applies,
                rounds=rounds,
            ),
            DUPLICATES_CHECK.verdict(
                dup_share <= checks.max_duplicate_share,
                duplicates=dup_count,
                share=round(dup_share, 4),
                threshold=checks.max_duplicate_share,
            ),
            MEANING_CHECK.verdict(
                meaning.violation_share <= checks.max_meaning_violation_share,
                **gate_metadata(meaning, checks.max_meaning_violation_share),
            ),
        ],
        metrics={
            "distributions": plan_distributions(plans),
            "coverage_directed": {**coverage(plans, shard_tools), **cohesion(plans)},
            "meaning": meaning.metrics(),
        },
    )


def sample_plans(
    sampler: PlanSampler,
    scenarios: Sequence[Scenario],
    shard: str,
    progress: Callable[[int, int], None] | None = None,
) -> list[DialoguePlan]:
    """Run the sampler over a shard's scenarios (dropped dialogues are counted by the sampler)."""
    plans = []
    for done, scenario in enumerate(scenarios, 1):
        plan = sampler.sample(
            scenario.scenario_id,
            scenario.seed,
            scenario.involved_classes,
            scenario.initial_config,
            shard=shard,
            persona=getattr(scenario, "persona", {}),
            key_class=getattr(scenario, "key_class", ""),
        )
        if plan is not None:
            plans.append(plan)
        if progress is not None:
            progress(done, len(scenarios))
    return plans


def top_up_plans(
    sampler: PlanSampler, scenarios: Sequence[Scenario], shard: str
) -> list[DialoguePlan]:
    """Extra dialogues whose goal starts at a tool still below its target quota.

    Goals already favour such tools, but a shard with few scenarios of a class may still
    leave one short. Each tool short of its quota gets a dialogue on the shard's scenarios of
    its class, tried in order until one reaches it (a tool no probe ever made succeed is left
    out); the plan id names the tool, so it never collides with the scenario's own plan.
    """
    quota = sampler.config.target_quota
    unreachable = sampler.unreachable
    classes = sorted({name for scenario in scenarios for name in scenario.involved_classes})
    extra = []
    for tool in [tool.name for tool in sampler.registry.tools(classes)]:
        if tool in unreachable:
            continue
        owner = sampler.class_of.get(tool)
        for scenario in scenarios:
            if sampler.stats.targets.get(tool, 0) >= quota:
                break
            if owner not in scenario.involved_classes:
                continue
            plan = sampler.sample(
                scenario.scenario_id, scenario.seed, scenario.involved_classes,
                scenario.initial_config, shard=shard, persona=getattr(scenario, "persona", {}),
                key_class=owner or "", first_task=tool,
            )
            if plan is not None:
                extra.append(plan)
    return extra


def sample_shard(
    registry: ToolRegistry,
    graph: nx.DiGraph,
    scenarios: Sequence[Scenario],
    shard: str,
    config: SamplerConfig,
    checks: PlanCheckSettings,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseResult[list[DialoguePlan]]:
    """Sample one plan per scenario, judge the plans, and compare with the random walk.

    `progress(done, total)` follows the directed sampler over the scenarios.
    """
    sampler = PlanSampler(registry, graph, config)
    plans = sample_plans(sampler, scenarios, shard, progress)
    shard_classes = sorted({name for s in scenarios for name in s.involved_classes})
    shard_tools = [tool.name for tool in registry.tools(shard_classes)]
    rounds = sum(len(plan.rounds) for plan in plans)
    if (
        config.strategy == "directed" and config.goal.enabled
        and rounds >= checks.coverage_rounds_per_tool * len(shard_tools)
    ):
        # Where the coverage check applies, tools the goals left short get their dialogue.
        plans.extend(top_up_plans(sampler, scenarios, shard))
    result = judge_plans(registry, plans, shard_tools, checks, unreachable_tools(graph))
    result.metrics = {
        "dialogues_attempted": sampler.stats.dialogues_attempted,
        "dialogues_dropped": dict(sampler.stats.dropped),
        "round_retries": dict(sampler.stats.rounds_failed),
        **result.metrics,
    }
    if checks.compare_with_random_walk:
        baseline = PlanSampler(
            registry, graph, config.model_copy(update={"strategy": "random_walk"})
        )
        baseline_plans = sample_plans(baseline, scenarios, shard)
        random_walk = {**coverage(baseline_plans, shard_tools), **cohesion(baseline_plans)}
        directed = result.metrics["coverage_directed"]
        result.metrics["coverage_random_walk"] = random_walk
        result.tables["coverage_comparison"] = [
            {"sampler": name, **{k: v for k, v in values.items() if k != "tools"}}
            for name, values in (("directed", directed), ("random walk", random_walk))
        ]
        result.pictures["coverage_picture"] = Picture(
            "directed vs random walk", figure_png(coverage_figure(directed, random_walk), dpi=90)
        )
    return result
