"""Sampling phase (METHOD.md Phase I): ground-truth dialogue plans per shard."""

from typing import Any

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.partitions import SHARDED
from funreason_assets.defs.results import asset_check_specs, materialize, progress_log
from funreason_assets.lib import sampling
from funreason_assets.lib.graph import graph_from_json
from funreason_assets.lib.scenarios.generators import Scenario
from funreason_assets.lib.versions import code_version

GROUP = "sampling"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version=code_version(sampling.__name__),
    tags=SHARDED,
    check_specs=asset_check_specs("ground_truth_plans", sampling.PLAN_CHECKS),
)
def ground_truth_plans(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    scenario_seeds: list[Scenario],
    api_graph: dict[str, Any],
):
    """One record per dialogue: N rounds of executed traces walking toward target tools."""
    settings = generation_settings()
    result = sampling.sample_shard(
        environment_packs.registry(),
        graph_from_json(api_graph),
        scenario_seeds,
        context.partition_key,
        settings.sampler,
        settings.plan_checks,
        progress=progress_log(context, "scenarios sampled"),
    )
    context.log.info(
        "shard %s: %d plans, coverage %s",
        context.partition_key,
        len(result.value),
        result.metrics["coverage_directed"],
    )
    return materialize(result, sampling.PLAN_CHECKS)
