"""Export phase: BFCL files, training formats, and the run's quality report."""


from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.export.resources import ExportsResource
from funreason_assets.defs.metadata import markdown_table
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.lib import export
from funreason_assets.lib.bfcl_check import run_checker
from funreason_assets.lib.records import (
    DialoguePlan,
    HardQuery,
    ReasoningChain,
    VerifiedDialogue,
)
from funreason_assets.lib.report import build_sections, to_html, to_markdown
from funreason_assets.lib.settings import load_generation_settings

GROUP = "export"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "json"},
    code_version="1",
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "bfcl_checker_accepts_every_item", asset="bfcl_dataset",
            description="Every exported item, answered with its own ground truth, passes "
            "bfcl-eval's multi_turn_checker.",
        ),
    ],
)
def bfcl_dataset(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    exports: ExportsResource,
    curated_dialogues: list[VerifiedDialogue],
):
    """BFCL question and possible-answer files, one per category, under the run's folder."""
    registry = environment_packs.registry()
    folder = exports.run_folder(context.run_id) / "bfcl"
    per_category, id_map, skipped = export.bfcl_entries(curated_dialogues, registry)
    files = export.write_bfcl(folder, per_category)
    verdicts = run_checker(folder)
    entries = sum(v["entries"] for v in verdicts.values())
    passed = sum(v["passed"] for v in verdicts.values())
    failures = [f for v in verdicts.values() for f in v["failures"]]
    counts = {category: len(pairs) for category, pairs in per_category.items()}
    summary = {"folder": str(folder), "files": files, "entries": counts, "id_map": id_map,
               "skipped_unexpressible": skipped}
    exports.update_manifest(context.run_id, "bfcl", {
        "entries": counts, "files": files, "id_map": id_map, "checker": {
            "entries": entries, "passed": passed}})
    return dg.MaterializeResult(
        value=summary,
        metadata={"folder": dg.MetadataValue.path(str(folder)), "entries": counts,
                  "dagster/row_count": entries, "skipped_unexpressible": len(skipped)},
        check_results=[
            dg.AssetCheckResult(
                check_name="bfcl_checker_accepts_every_item",
                passed=entries == passed and entries == len(id_map),
                metadata={"entries": entries, "passed": passed, "failures": failures[:10]},
            )
        ],
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet", "json"},
    code_version="1",
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "every_row_parses_back", asset="sft_dataset",
            description="Every written row of every training format is read back and "
            "validated against its layout.",
        ),
    ],
)
def sft_dataset(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    exports: ExportsResource,
    models: ModelsResource,
    curated_dialogues: list[VerifiedDialogue],
):
    """Training files: FunReason-MT layout, OpenAI chat (JSONL + Parquet), ShareGPT."""
    settings = load_generation_settings()
    registry = environment_packs.registry()
    folder = exports.run_folder(context.run_id) / "sft"
    layouts = {
        "funreason": [export.funreason_row(d, registry) for d in curated_dialogues],
        "openai": [export.openai_row(d, registry) for d in curated_dialogues],
        "sharegpt": [export.sharegpt_row(d, registry) for d in curated_dialogues],
    }
    written: dict[str, int] = {}
    files: dict[str, tuple[str, Path]] = {}
    for layout, rows in layouts.items():
        path = folder / f"{layout}.jsonl"
        written[path.name] = export.write_rows(path, rows)
        files[path.name] = (layout, path)
        if settings.exports.split_turns and layout != "sharegpt":
            split = [s for row in rows for s in export.split_at_assistant_turns(row)]
            path = folder / f"{layout}_per_turn.jsonl"
            written[path.name] = export.write_rows(path, split)
            files[path.name] = (layout, path)
    parquet = folder / "openai.parquet"
    export.write_openai_parquet(parquet, layouts["openai"])
    written[parquet.name] = len(layouts["openai"])

    problems: Counter[str] = Counter()
    read_back = 0
    for name, (layout, path) in files.items():
        for row in export.read_jsonl(path):
            read_back += 1
            for problem in export.row_problems(row, layout):
                problems[f"{name}: {problem}"] += 1
    for row in export.read_openai_parquet(parquet):
        read_back += 1
        for problem in export.row_problems(row, "openai"):
            problems[f"openai.parquet: {problem}"] += 1
    manifest = exports.update_manifest(context.run_id, "sft", {
        "files": written,
        "generators": models.settings().generators(),
        "models": {role: s.model for role, s in models.settings().roles.items()},
        "seeds": {"base_seed": settings.base_seed, "shards": settings.shards,
                  "scenarios_per_shard": settings.scenarios_per_shard},
        "error_tool_response_dialogues": sum(
            1 for row in layouts["funreason"] if row["error_tool_response"]),
    })
    summary = {"folder": str(folder), "files": written, "manifest": str(manifest)}
    return dg.MaterializeResult(
        value=summary,
        metadata={"folder": dg.MetadataValue.path(str(folder)), "files": written,
                  "dagster/row_count": len(curated_dialogues),
                  "manifest": dg.MetadataValue.path(str(manifest))},
        check_results=[
            dg.AssetCheckResult(
                check_name="every_row_parses_back",
                passed=not problems and read_back == sum(written.values()),
                metadata={"rows_written": sum(written.values()), "rows_read_back": read_back,
                          "problems": dict(problems.most_common(10))},
            )
        ],
    )


def _latest_metadata(instance: dg.DagsterInstance, asset: str) -> list[dict[str, Any]]:
    """Metadata of the newest materialization of each partition of an asset."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=1000
    ).records
    latest: dict[str | None, dict[str, Any]] = {}
    for record in records:  # newest first
        materialization = record.asset_materialization
        if materialization is None or materialization.partition in latest:
            continue
        latest[materialization.partition] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return list(latest.values())


@dg.asset(
    group_name=GROUP,
    kinds={"python", "html", "markdown"},
    code_version="1",
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "report_has_every_section", asset="quality_report",
            description="The report has the funnel, coverage, distributions, variant mix, "
            "cost and baseline sections, with pictures.",
        ),
    ],
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
):
    """One report per run: funnel, coverage, distributions, variants, cost, baseline."""
    registry = environment_packs.registry()
    query_meta = _latest_metadata(context.instance, "hard_queries")
    query_drops: Counter[str] = Counter()
    for meta in query_meta:
        query_drops.update(meta.get("drops_per_rule") or {})
    plan_meta = _latest_metadata(context.instance, "ground_truth_plans")
    coverage_rows = []
    for name, key in (("directed", "coverage_directed"), ("random walk", "coverage_random_walk")):
        values = [meta[key] for meta in plan_meta if key in meta]
        if values:
            coverage_rows.append({
                "sampler": name,
                "share_reached": round(sum(v["share_reached"] for v in values) / len(values), 3),
                "mean_depth": round(sum(v["mean_depth"] for v in values) / len(values), 3),
                "shards": len(values),
            })
    model_totals: Counter[str] = Counter()
    for asset in ("hard_queries", "reasoning_chains"):
        for meta in _latest_metadata(context.instance, asset):
            calls = meta.get("model_calls") or {}
            model_totals.update({k: v for k, v in calls.items()
                                 if isinstance(v, int | float) and not isinstance(v, bool)})
    curated_meta = _latest_metadata(context.instance, "curated_dialogues")
    # Curation assembled and counted the verified dialogues; its metadata is the record.
    curated_summary = curated_meta[0] if curated_meta else {}
    curation_drops = curated_summary.get("drops_per_rule") or {}
    verified = int(curated_summary.get("verified_dialogues", 0))
    classes = sorted({c for plan in ground_truth_plans for c in plan.involved_classes})
    sections = build_sections(
        ground_truth_plans, hard_queries, dict(query_drops), reasoning_chains, verified,
        curated_dialogues, curation_drops, coverage_rows,
        {c: [t.name for t in registry.tools([c])] for c in classes}, dict(model_totals),
        {**{f"bfcl/{k}": v for k, v in bfcl_dataset.get("entries", {}).items()},
         **{f"sft/{k}": v for k, v in sft_dataset.get("files", {}).items()}},
    )
    title = f"FunReason-MT quality report, run {context.run_id[:8]}"
    folder = exports.run_folder(context.run_id) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(title, sections)
    (folder / "quality_report.md").write_text(markdown, encoding="utf-8")
    (folder / "quality_report.html").write_text(to_html(title, sections), encoding="utf-8")
    expected = {"Funnel", "Tool and class coverage", "Distributions", "Variant mix",
                "Model calls, tokens and cost", "Directed sampler vs random-walk baseline"}
    present = {s.title for s in sections}
    pictures = sum(1 for s in sections if s.picture_png)
    exports.update_manifest(context.run_id, "report", {
        "markdown": str(folder / "quality_report.md"),
        "html": str(folder / "quality_report.html")})
    summary_rows = [{"section": s.title, "rows": len(s.rows), "picture": bool(s.picture_png)}
                    for s in sections]
    return dg.MaterializeResult(
        value={"folder": str(folder), "sections": sorted(present)},
        metadata={
            "report": dg.MetadataValue.md(markdown),
            "html": dg.MetadataValue.path(str(folder / "quality_report.html")),
            "sections": dg.MetadataValue.md(markdown_table(summary_rows)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="report_has_every_section",
                passed=expected <= present and pictures >= 5,
                metadata={"missing": sorted(expected - present), "pictures": pictures},
            )
        ],
    )
