"""Synthesis phase (METHOD.md Phase II): advanced tools and hard queries per round."""

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import SHARDED
from funreason_assets.defs.results import asset_check_specs, materialize, progress_log
from funreason_assets.lib import synthesis
from funreason_assets.lib.records import DialoguePlan
from funreason_assets.lib.versions import code_version

GROUP = "synthesis"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version=code_version(synthesis.__name__),
    tags=SHARDED,
    check_specs=asset_check_specs("hard_queries", synthesis.QUERY_CHECKS),
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
        result = synthesis.build_queries(
            ground_truth_plans, registry, roles, generation_settings().synthesis,
            progress=progress_log(context, "plans with queries"),
        )
    finally:
        roles.close()
    return materialize(result, synthesis.QUERY_CHECKS)
