"""Environments phase: the tool catalog and the generated scenario seeds."""

import dagster as dg
from pydantic import Field

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.partitions import SHARDED
from funreason_assets.defs.results import asset_check_specs, materialize
from funreason_assets.lib import catalog
from funreason_assets.lib.scenarios import seeds
from funreason_assets.lib.versions import code_version

GROUP = "environments"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version=code_version(catalog.__name__),
    check_specs=asset_check_specs("tool_catalog", catalog.CATALOG_CHECKS),
)
def tool_catalog(
    context: dg.AssetExecutionContext, environment_packs: EnvironmentPacksResource
):
    """One record per tool of every configured environment class, with its JSON Schema."""
    result = catalog.build_catalog(environment_packs.registry())
    context.log.info("catalog: %d tools", len(result.value))
    return materialize(result, catalog.CATALOG_CHECKS)


class ScenarioSeedsConfig(dg.Config):
    """Run-time knobs of scenario generation (defaults from the generation config)."""

    scenarios_per_shard: int | None = Field(
        default=None, description="Scenarios per shard; None takes the generation config value."
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version=code_version(seeds.__name__),
    tags=SHARDED,
    deps=["tool_catalog"],
    check_specs=asset_check_specs("scenario_seeds", seeds.SEED_CHECKS),
)
def scenario_seeds(
    context: dg.AssetExecutionContext,
    config: ScenarioSeedsConfig,
    environment_packs: EnvironmentPacksResource,
):
    """One record per generated initial state (for 1-3 involved classes) of this shard."""
    settings = generation_settings()
    result = seeds.build_seeds(
        environment_packs.registry(),
        context.partition_key,
        config.scenarios_per_shard or settings.scenarios_per_shard,
        settings.base_seed,
        settings.involved_classes,
        settings.scenario_mix,
    )
    return materialize(result, seeds.SEED_CHECKS)
