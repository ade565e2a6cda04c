"""Curation phase: verified dialogues through every filter and bfcl-eval's own checker.

Filters: leakage, length, decontamination against BFCL's test data, exact and near duplicates.
"""


import tempfile
from collections import Counter
from pathlib import Path

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.metadata import markdown_table
from funreason_assets.lib.bfcl_check import run_checker
from funreason_assets.lib.curation import (
    BfclContamination,
    curate,
    curated_frame_rows,
    dialogue_category,
    variant_counts,
)
from funreason_assets.lib.export import bfcl_entries, write_bfcl
from funreason_assets.lib.reasoning import assemble_dialogue
from funreason_assets.lib.records import DialoguePlan, ReasoningChain
from funreason_assets.lib.settings import load_generation_settings

GROUP = "curation"
ALLOWED_VARIANTS = ["base", "missing_parameter", "missing_function", "long_context",
                    "error_recovery"]


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "curated_expectations", asset="curated_dialogues", blocking=True,
            description="Great Expectations: ids unique, turn counts in range, variants from "
            "the allowed set, no empty reasoning or reply.",
        ),
    ],
)
def curated_dialogues(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    ground_truth_plans: list[DialoguePlan],
    reasoning_chains: list[ReasoningChain],
):
    """One record per accepted dialogue, over every shard, after every filter."""
    import pandas as pd

    from funreason_assets.lib.expectations import Expectation, validate_frame

    settings = load_generation_settings()
    registry = environment_packs.registry()
    min_rounds = settings.reasoning.min_rounds
    dialogues = [
        dialogue
        for plan in ground_truth_plans
        if (dialogue := assemble_dialogue(plan, reasoning_chains, min_rounds)) is not None
    ]
    contamination = BfclContamination.load(settings.curation.ngram)
    result = curate(dialogues, settings.curation, contamination)
    # bfcl-eval's checker is the authority on what it can replay: items it rejects on their
    # own ground truth are filtered here and counted, so the export check can demand 100%.
    with tempfile.TemporaryDirectory() as scratch:
        per_category, id_map, skipped = bfcl_entries(result.kept, registry)
        write_bfcl(Path(scratch), per_category)
        verdicts = run_checker(Path(scratch))
    rejected = {
        failure["id"] for summary in verdicts.values() for failure in summary["failures"]
    }
    back = {entry_id: dialogue_id for dialogue_id, entry_id in id_map.items()}
    rejected_ids = {back[entry_id] for entry_id in rejected}
    kept = [d for d in result.kept if d.dialogue_id not in rejected_ids]
    drops = {**result.counts(), "bfcl_checker_rejects": len(rejected_ids)}

    rows = curated_frame_rows(kept)
    frame = pd.DataFrame(rows, columns=["dialogue_id", "turns", "category",
                                        "min_reasoning_chars", "min_reply_chars", "variants"])
    variant_rows = pd.DataFrame(
        [{"variant": turn.variant} for d in kept for turn in d.turns], columns=["variant"]
    )
    suite = validate_frame(frame, "curated_dialogues", [
        Expectation("ExpectColumnValuesToBeUnique", {"column": "dialogue_id"}),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "dialogue_id"}),
        Expectation("ExpectColumnValuesToBeBetween", {
            "column": "turns", "min_value": settings.curation.min_turns,
            "max_value": settings.curation.max_turns}),
        Expectation("ExpectColumnValuesToBeBetween", {
            "column": "min_reasoning_chars", "min_value": 1}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "min_reply_chars", "min_value": 1}),
    ])
    variant_suite = validate_frame(variant_rows, "curated_turn_variants", [
        Expectation("ExpectColumnValuesToBeInSet", {
            "column": "variant", "value_set": ALLOWED_VARIANTS}),
    ])
    failed = [
        {"expectation": o.kind, "column": o.column, "unexpected": o.unexpected_count}
        for o in [*suite.outcomes, *variant_suite.outcomes] if not o.success
    ]
    metadata = {
        "dagster/row_count": len(kept),
        "verified_dialogues": len(dialogues),
        "drops_per_rule": drops,
        "rejected_by_bfcl_checker": sorted(rejected_ids)[:20],
        # Kept for training; BFCL's format cannot express them (see export.bfcl_entries).
        "not_expressible_in_bfcl": len(skipped),
        "categories": dict(Counter(dialogue_category(d) for d in kept)),
        "turn_variants": variant_counts(kept),
        "preview": dg.MetadataValue.md(markdown_table(rows[:10])),
    }
    context.log.info("curated %d of %d verified dialogues: %s", len(kept), len(dialogues), drops)
    return dg.MaterializeResult(
        value=kept,
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="curated_expectations",
                passed=suite.success and variant_suite.success,
                metadata={"rows": len(frame), "failed_expectations": failed},
            )
        ],
    )
