"""Export phase: BFCL files, training formats, and the run's quality report."""

from pathlib import Path
from typing import Any

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.export.resources import ExportsResource
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import shard_keys
from funreason_assets.defs.results import (
    asset_check_specs,
    materialize,
    preview,
    progress_log,
    table_schema,
)
from funreason_assets.lib import (
    bfcl_format,
    column_schemas,
    lineage_story,
    report,
    training_formats,
)
from funreason_assets.lib.records import (
    DialoguePlan,
    HardQuery,
    ReasoningChain,
    VerifiedDialogue,
)
from funreason_assets.lib.scenarios.generators import Scenario
from funreason_assets.lib.settings import GenerationSettings
from funreason_assets.lib.versions import code_version

GROUP = "export"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "json"},
    code_version=code_version(bfcl_format.__name__),
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=asset_check_specs("bfcl_dataset", bfcl_format.BFCL_CHECKS),
)
def bfcl_dataset(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    exports: ExportsResource,
    curated_dialogues: list[VerifiedDialogue],
):
    """BFCL question and possible-answer files, one per category, under the run's folder."""
    folder = exports.run_folder(context.run_id) / "bfcl"
    result = bfcl_format.export_bfcl(curated_dialogues, environment_packs.registry(), folder)
    exports.update_manifest(context.run_id, "bfcl", bfcl_format.bfcl_manifest(result))
    first = next(iter(result.value["files"].values()), "")
    return materialize(result, bfcl_format.BFCL_CHECKS, {
        "folder": dg.MetadataValue.path(str(folder)),
        "dagster/column_schema": table_schema(column_schemas.BFCL_ENTRIES),
        "preview": preview(column_schemas.jsonl_rows(Path(first), ["id", "question", "path"])),
    }, row_count=False)


def _sft_manifest(
    result: Any, models: ModelsResource, settings: GenerationSettings
) -> dict[str, Any]:
    """The run manifest's training part: files, generators, models and seeds."""
    model_settings = models.settings()
    return {
        "files": result.value["files"],
        "generators": model_settings.generators(),
        "models": {role: s.model for role, s in model_settings.roles.items()},
        "seeds": {"base_seed": settings.base_seed, "shards": settings.shards,
                  "scenarios_per_shard": settings.scenarios_per_shard},
        "error_tool_response_dialogues": result.metrics["error_tool_response_dialogues"],
    }


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet", "json"},
    code_version=code_version(training_formats.__name__),
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=asset_check_specs("sft_dataset", training_formats.SFT_CHECKS),
)
def sft_dataset(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    exports: ExportsResource,
    models: ModelsResource,
    curated_dialogues: list[VerifiedDialogue],
):
    """Training files: FunReason-MT layout, OpenAI chat (JSONL + Parquet), ShareGPT."""
    settings = generation_settings()
    folder = exports.run_folder(context.run_id) / "sft"
    result = training_formats.export_sft(
        curated_dialogues, environment_packs.registry(), folder, settings.exports.split_turns,
        progress=progress_log(context, "training rows"),
    )
    manifest = exports.update_manifest(
        context.run_id, "sft", _sft_manifest(result, models, settings)
    )
    result.value["manifest"] = str(manifest)
    return materialize(result, training_formats.SFT_CHECKS, {
        "folder": dg.MetadataValue.path(str(folder)),
        "manifest": dg.MetadataValue.path(str(manifest)),
        "dagster/column_schema": table_schema(column_schemas.SFT_ROWS),
        "preview": preview(column_schemas.jsonl_rows(
            folder / "openai.jsonl", ["id", "category", "messages"])),
    }, row_count=False)


def _shard_metadata(
    instance: dg.DagsterInstance, asset: str, shards: list[str]
) -> list[dict[str, Any]]:
    """Metadata of the newest materialization of each of exactly these shards of an asset."""
    found = []
    for shard in shards:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[shard]),
            limit=1,
        ).records  # newest first
        materialization = records[0].asset_materialization if records else None
        if materialization is not None:
            found.append({key: value.value for key, value in materialization.metadata.items()})
    return found


def _run_metadata(
    instance: dg.DagsterInstance, shard_count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The plans' shard metadata and the model-call accounting of the configured shards.

    No record holds the baseline's coverage or the clients' cost, so they come from the
    materializations of exactly the current shards (never a shard a larger config left).
    """
    shards = shard_keys(shard_count)
    accounting = [
        meta.get("model_calls") or {}
        for asset in ("hard_queries", "reasoning_chains")
        for meta in _shard_metadata(instance, asset, shards)
    ]
    return _shard_metadata(instance, "ground_truth_plans", shards), accounting


def _lineage(
    run_folder: Path,
    records: tuple[list[DialoguePlan], list[HardQuery], list[ReasoningChain]],
    curated: list[VerifiedDialogue],
    scenarios: list[Scenario],
    graph: dict[str, Any],
) -> tuple[lineage_story.LineageSources, Path, dict[str, str]]:
    """The run's records joined for lineage, and the lineage index written with the exports."""
    sources = lineage_story.lineage_sources(*records, scenarios, graph)
    index, stories = lineage_story.write_lineage_index(run_folder, curated, sources)
    return sources, index, stories


@dg.asset(
    group_name=GROUP,
    kinds={"python", "html", "markdown"},
    code_version=code_version(report.__name__),
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=asset_check_specs("quality_report", report.REPORT_CHECKS),
)
def quality_report(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    exports: ExportsResource,
    ground_truth_plans: list[DialoguePlan],
    hard_queries: list[HardQuery],
    reasoning_chains: list[ReasoningChain],
    curated_dialogues: list[VerifiedDialogue],
    bfcl_dataset: dict[str, Any],
    sft_dataset: dict[str, Any],
    scenario_seeds: list[Scenario],
    api_graph: dict[str, Any],
):
    """One report per run, with a sample browser; and the lineage index of every dialogue."""
    settings = generation_settings()
    lineage, index, stories = _lineage(
        exports.run_folder(context.run_id), (ground_truth_plans, hard_queries, reasoning_chains),
        curated_dialogues, scenario_seeds, api_graph,
    )
    inputs = report.ReportInputs(
        ground_truth_plans, hard_queries, reasoning_chains, curated_dialogues,
        bfcl_dataset, sft_dataset, *_run_metadata(context.instance, settings.shards),
        lineage=lineage, stories=stories,
    )
    folder = exports.run_folder(context.run_id) / "report"
    result = report.write_report(
        folder, context.run_id, inputs, environment_packs.registry(), settings.curation,
        settings.reasoning.min_rounds,
    )
    exports.update_manifest(context.run_id, "report", report.report_files(folder))
    # The last export step: only now, with every file written and checked, may LATEST move.
    completion = exports.complete(context.run_id, settings.exports.keep_runs)
    context.log.info("export complete: %s", completion)
    return materialize(result, report.REPORT_CHECKS, {
        "report": dg.MetadataValue.md((folder / report.MARKDOWN_FILE).read_text("utf-8")),
        "html": dg.MetadataValue.path(str(folder / report.HTML_FILE)),
        "complete": dg.MetadataValue.path(completion["marker"]),
        "lineage_index": dg.MetadataValue.path(str(index)),
        "dagster/column_schema": table_schema(column_schemas.REPORT_SECTIONS),
    }, row_count=False)
