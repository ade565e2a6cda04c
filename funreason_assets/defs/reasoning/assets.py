"""Reasoning phase (METHOD.md Phase III): the guided iterative chain per round."""

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import SHARDED
from funreason_assets.defs.results import asset_check_specs, materialize, progress_log
from funreason_assets.lib import reasoning
from funreason_assets.lib.records import DialoguePlan, HardQuery
from funreason_assets.lib.versions import code_version

GROUP = "reasoning"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version=code_version(reasoning.__name__),
    tags=SHARDED,
    check_specs=asset_check_specs("reasoning_chains", reasoning.CHAIN_CHECKS),
)
def reasoning_chains(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    models: ModelsResource,
    ground_truth_plans: list[DialoguePlan],
    hard_queries: list[HardQuery],
):
    """One record per round: every reasoning attempt with its verdict, and the kept turns."""
    settings = generation_settings()
    config = settings.reasoning
    registry = environment_packs.registry()
    roles = models.roles(registry, seed=settings.base_seed, slip_rate=config.slip_rate)
    try:
        result = reasoning.build_chains(
            ground_truth_plans, hard_queries, registry, roles, config,
            progress=progress_log(context, "plans reasoned"),
        )
    finally:
        roles.close()
    return materialize(result, reasoning.CHAIN_CHECKS)
