"""Sampling phase (METHOD.md Phase I): ground-truth dialogue plans per shard."""


from typing import Any

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.metadata import markdown_table, png_markdown
from funreason_assets.defs.partitions import shard_partitions
from funreason_assets.lib.graph import graph_from_json
from funreason_assets.lib.plan_stats import (
    coverage,
    coverage_figure,
    duplicate_share,
    plan_distributions,
    target_counts,
)
from funreason_assets.lib.records import DialoguePlan
from funreason_assets.lib.sampler import PlanSampler, replay_problems, structure_problems
from funreason_assets.lib.scenarios.generators import Scenario
from funreason_assets.lib.settings import load_generation_settings

GROUP = "sampling"


def sample_plans(
    sampler: PlanSampler, scenarios: list[Scenario], shard: str
) -> list[DialoguePlan]:
    """Run the sampler over a shard's scenarios (dropped dialogues are counted by the sampler)."""
    plans = []
    for scenario in scenarios:
        plan = sampler.sample(
            scenario.scenario_id,
            scenario.seed,
            scenario.involved_classes,
            scenario.initial_config,
            shard=shard,
        )
        if plan is not None:
            plans.append(plan)
    return plans


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    partitions_def=shard_partitions,
    check_specs=[
        dg.AssetCheckSpec("plans_replay_deterministically", asset="ground_truth_plans",
                          blocking=True,
                          description="Every call replays to the same result and every round "
                          "to the same state from the initial config; only injected errors "
                          "fail."),
        dg.AssetCheckSpec("rounds_well_formed", asset="ground_truth_plans", blocking=True,
                          description="Every round contains its target; every tool-produced "
                          "argument has an earlier producer."),
        dg.AssetCheckSpec("tool_coverage", asset="ground_truth_plans",
                          description="Every tool of the shard's classes is a target at least "
                          "the configured number of times."),
        dg.AssetCheckSpec("duplicate_plans", asset="ground_truth_plans",
                          description="Share of plans repeating the calls and arguments of "
                          "another plan stays below the threshold."),
    ],
)
def ground_truth_plans(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    scenario_seeds: list[Scenario],
    api_graph: dict[str, Any],
):
    """One record per dialogue: N rounds of executed traces walking toward target tools."""
    settings = load_generation_settings()
    registry = environment_packs.registry()
    graph = graph_from_json(api_graph)
    shard = context.partition_key
    sampler = PlanSampler(registry, graph, settings.sampler)
    plans = sample_plans(sampler, scenario_seeds, shard)
    stats = sampler.stats

    replay = {plan.plan_id: replay_problems(registry, plan) for plan in plans}
    replay = {key: value[:3] for key, value in replay.items() if value}
    structure = {plan.plan_id: structure_problems(plan) for plan in plans}
    structure = {key: value[:3] for key, value in structure.items() if value}

    shard_classes = sorted({name for s in scenario_seeds for name in s.involved_classes})
    shard_tools = [tool.name for tool in registry.tools(shard_classes)]
    targets = target_counts(plans)
    floor = settings.plan_checks.min_target_count
    under_target = sorted(tool for tool in shard_tools if targets[tool] < floor)
    dup_share, dup_count = duplicate_share(plans)

    distributions = plan_distributions(plans)
    directed = coverage(plans, shard_tools)
    metadata: dict[str, Any] = {
        "dagster/row_count": len(plans),
        "dialogues_attempted": stats.dialogues_attempted,
        "dialogues_dropped": dict(stats.dropped),
        "round_retries": dict(stats.rounds_failed),
        "distributions": distributions,
        "coverage_directed": directed,
    }
    if settings.plan_checks.compare_with_random_walk:
        baseline = PlanSampler(
            registry, graph, settings.sampler.model_copy(update={"strategy": "random_walk"})
        )
        random_plans = sample_plans(baseline, scenario_seeds, shard)
        random_walk = coverage(random_plans, shard_tools)
        rows = [
            {"sampler": name, **{k: v for k, v in values.items() if k != "tools"}}
            for name, values in (("directed", directed), ("random walk", random_walk))
        ]
        metadata["coverage_random_walk"] = random_walk
        metadata["coverage_comparison"] = dg.MetadataValue.md(markdown_table(rows))
        metadata["coverage_picture"] = png_markdown(
            coverage_figure(directed, random_walk), "directed vs random walk"
        )
    context.log.info("shard %s: %d plans, coverage %s", shard, len(plans), directed)
    return dg.MaterializeResult(
        value=plans,
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="plans_replay_deterministically",
                passed=not replay,
                metadata={"plans": len(plans), "diverging": dict(list(replay.items())[:10])},
            ),
            dg.AssetCheckResult(
                check_name="rounds_well_formed",
                passed=not structure,
                metadata={"plans": len(plans), "problems": dict(list(structure.items())[:10])},
            ),
            dg.AssetCheckResult(
                check_name="tool_coverage",
                passed=not under_target,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "tools": len(shard_tools),
                    "min_target_count": floor,
                    "below": under_target,
                    "targeted": len([t for t in shard_tools if targets[t] >= floor]),
                },
            ),
            dg.AssetCheckResult(
                check_name="duplicate_plans",
                passed=dup_share <= settings.plan_checks.max_duplicate_share,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "duplicates": dup_count,
                    "share": round(dup_share, 4),
                    "threshold": settings.plan_checks.max_duplicate_share,
                },
            ),
        ],
    )
