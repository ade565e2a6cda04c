"""Synthesis phase (METHOD.md Phase II): advanced tools and hard queries per round."""


from collections import Counter

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.metadata import markdown_table
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import shard_partitions
from funreason_assets.lib.reasoning import synthesize_queries
from funreason_assets.lib.records import DialoguePlan
from funreason_assets.lib.synthesis import check_query

GROUP = "synthesis"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    partitions_def=shard_partitions,
    check_specs=[
        dg.AssetCheckSpec(
            "queries_obey_rules", asset="hard_queries", blocking=True,
            description="Every kept query carries every input value, names no intermediate "
            "tool, states no tool-produced value, and really omits what it claims to omit.",
        ),
        dg.AssetCheckSpec(
            "query_drop_share", asset="hard_queries",
            description="Share of rounds whose query was dropped by a rule stays below 20%.",
        ),
    ],
)
def hard_queries(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    models: ModelsResource,
    ground_truth_plans: list[DialoguePlan],
):
    """One record per round: its advanced tool (inputs, output, decomposition) and hard query."""
    registry = environment_packs.registry()
    roles = models.roles(registry)
    try:
        outcomes = synthesize_queries(ground_truth_plans, registry, roles)
    finally:
        roles.close()
    queries = [query for outcome in outcomes for query in outcome.queries]
    drops = [drop for outcome in outcomes for drop in outcome.drops]
    plans = {plan.plan_id: plan for plan in ground_truth_plans}
    violations = {}
    for query in queries:
        plan = plans[query.plan_id]
        found = check_query(query.query, query.follow_up, plan, plan.rounds[query.round_index],
                            query.advanced_tool, query.omitted)
        if found:
            violations[query.query_id] = [f"{v.rule}: {v.detail}" for v in found]
    rounds = sum(len(plan.rounds) for plan in ground_truth_plans)
    dropped_rounds = len({(d.plan_id, d.round_index) for d in drops})
    drop_share = dropped_rounds / rounds if rounds else 0.0
    preview = [
        {"variant": q.variant, "target": q.target, "query": q.query[:120]} for q in queries[:8]
    ]
    metadata = {
        "dagster/row_count": len(queries),
        "rounds_in_plans": rounds,
        "drops_per_rule": dict(Counter(d.rule for d in drops)),
        "rounds_dropped": dropped_rounds,
        "variants": dict(Counter(q.variant for q in queries)),
        "generators": roles.generators(),
        "model_calls": roles.accounting_metadata(),
        "preview": dg.MetadataValue.md(markdown_table(preview)),
    }
    return dg.MaterializeResult(
        value=queries,
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="queries_obey_rules", passed=not violations,
                metadata={"queries": len(queries),
                          "violating": dict(list(violations.items())[:10])},
            ),
            dg.AssetCheckResult(
                check_name="query_drop_share", passed=drop_share <= 0.2,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rounds": rounds, "dropped": dropped_rounds,
                          "share": round(drop_share, 4), "threshold": 0.2},
            ),
        ],
    )
