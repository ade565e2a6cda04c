"""Curation phase: verified dialogues through every filter and bfcl-eval's own checker.

Filters: leakage, length, decontamination against BFCL's test data, exact and near duplicates.
"""

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.results import asset_check_specs, materialize, progress_log
from funreason_assets.lib import curation
from funreason_assets.lib.records import VARIANTS, DialoguePlan, ReasoningChain
from funreason_assets.lib.versions import code_version

GROUP = "curation"
ALLOWED_VARIANTS = list(VARIANTS)


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version=code_version(curation.__name__),
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=asset_check_specs("curated_dialogues", curation.CURATION_CHECKS),
)
def curated_dialogues(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    ground_truth_plans: list[DialoguePlan],
    reasoning_chains: list[ReasoningChain],
):
    """One record per accepted dialogue, over every shard, after every filter."""
    settings = generation_settings()
    dialogues = curation.verified_dialogues(
        ground_truth_plans, reasoning_chains, settings.reasoning.min_rounds
    )
    result = curation.curate_dialogues(
        dialogues, environment_packs.registry(), settings.curation, ALLOWED_VARIANTS,
        progress=progress_log(context, "dialogues filtered"),
    )
    context.log.info(
        "curated %d of %d verified dialogues: %s",
        len(result.value), len(dialogues), result.metrics["drops_per_rule"],
    )
    return materialize(result, curation.CURATION_CHECKS)
