"""The quality report of a run: funnel, coverage, distributions, cost, meaning, baseline.

Every figure comes from the run's records (plans, queries, chains, curated dialogues and the
export summaries), except two that no record holds, which the caller passes in: the directed
sampler's and the random-walk baseline's coverage per shard (the baseline's plans are sampled
for comparison and never stored), and the model clients' cost and cache hits per shard.

Written twice from the same sections: Markdown (shown in the Dagster UI) and a self-contained
HTML file (pictures inlined as data URIs) that opens anywhere without the UI. The HTML file also
carries the sample browser (`lib/sample_browser.py`): whole dialogues picked by variant, class
and filter outcome, each with its lineage story.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funreason_assets.lib.atomic import atomic_write_text
from funreason_assets.lib.bfcl_format import dialogue_category
from funreason_assets.lib.checks import CheckSpec, PhaseResult, Verdict
from funreason_assets.lib.curation import (
    CHECKER_REJECTS,
    CurationConfig,
    CurationResult,
    curate,
    verified_dialogues,
)
from funreason_assets.lib.figures import figure_png, pyplot
from funreason_assets.lib.language_stats import (
    LANGUAGE_CHECKS,
    LanguageFigures,
    judge_language,
    language_rows,
    measure_dialogues,
)
from funreason_assets.lib.lineage_story import LineageSources
from funreason_assets.lib.records import (
    DialoguePlan,
    HardQuery,
    ReasoningChain,
    VerifiedDialogue,
)
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.sample_browser import STYLE as BROWSER_STYLE
from funreason_assets.lib.sample_browser import build_browser
from funreason_assets.lib.scenarios.contamination import BfclTestIndex
from funreason_assets.lib.semantic_gate import (
    MeaningStats,
    measure_plans,
    reject_rows,
    source_rows,
    summary_rows,
)

REPORT_CHECK = CheckSpec(
    "report_has_every_section",
    "The report has the funnel, coverage, distributions, variant mix, cost, meaning, language "
    "and baseline sections, with pictures.",
)
# The language figures' WARN checks (`language_stats`) are checks of the report too.
REPORT_CHECKS = (REPORT_CHECK, *LANGUAGE_CHECKS)
EXPECTED_SECTIONS = (
    "Funnel", "Tool and class coverage", "Distributions", "Variant mix",
    "Model calls, tokens and cost", "Meaning", "Language",
    "Directed sampler vs random-walk baseline",
)
MIN_PICTURES = 5
MARKDOWN_FILE = "quality_report.md"
HTML_FILE = "quality_report.html"
# The reason a hard-query drop is counted under: records show that a round was dropped (a
# plan round without a query), not which query rule dropped it.
QUERY_DROP = "round dropped by a query rule"


@dataclass
class Section:
    """One titled part of the report: text, a table and/or a picture."""

    title: str
    text: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    picture_png: bytes | None = None
    # Markup for the HTML file only (built escaped by its maker), e.g. the sample browser.
    html: str = ""


@dataclass
class ReportInputs:
    """What the report is computed from.

    Attributes:
        plans: Every ground-truth plan of the run.
        queries: Every hard query.
        chains: Every reasoning chain.
        curated: The curated dialogues.
        bfcl_summary: The `bfcl_dataset` value (entries per category).
        sft_summary: The `sft_dataset` value (rows per file).
        shard_coverage: Per shard, `ground_truth_plans`' metadata holding `coverage_directed`
            and `coverage_random_walk` (the baseline's plans are not stored).
        model_accounting: Per shard and phase, the model client's totals (`cost_usd`, `cached`).
        lineage: The records joined for lineage stories (scenario fingerprints, graph edges);
            the sample browser is written only when given.
        stories: Curated dialogue id -> its lineage story (as the lineage index holds it).
    """

    plans: Sequence[DialoguePlan]
    queries: Sequence[HardQuery]
    chains: Sequence[ReasoningChain]
    curated: Sequence[VerifiedDialogue]
    bfcl_summary: Mapping[str, Any] = field(default_factory=dict)
    sft_summary: Mapping[str, Any] = field(default_factory=dict)
    shard_coverage: Sequence[Mapping[str, Any]] = ()
    model_accounting: Sequence[Mapping[str, Any]] = ()
    lineage: LineageSources | None = None
    stories: Mapping[str, str] = field(default_factory=dict)


def _histogram(values: Sequence[int]) -> dict[str, int]:
    counts = Counter(values)
    return {str(key): counts[key] for key in sorted(counts)}


def query_drops(plans: Sequence[DialoguePlan], queries: Sequence[HardQuery]) -> dict[str, int]:
    """Rounds dropped at the hard-query stage, seen in the records.

    A dropped round ends its dialogue's queries, so a plan with fewer queries than rounds had
    exactly one round dropped (the rounds after it are never written).
    """
    written = Counter(query.plan_id for query in queries)
    dropped = sum(1 for plan in plans if written[plan.plan_id] < len(plan.rounds))
    return {QUERY_DROP: dropped} if dropped else {}


# The directed-vs-random figures a shard's plans metadata carries (`lib.sampling`).
_COMPARED = (
    "share_reached", "mean_depth", "share_rounds_depth_2_plus", "reuse_share",
    "single_class_share",
)


def coverage_rows(shard_coverage: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Directed sampler and random-walk baseline coverage, averaged over shards."""
    rows = []
    for name, key in (("directed", "coverage_directed"), ("random walk", "coverage_random_walk")):
        values = [meta[key] for meta in shard_coverage if key in meta]
        if values:
            row: dict[str, Any] = {"sampler": name}
            for metric in _COMPARED:
                found = [v[metric] for v in values if metric in v]
                if found:
                    row[metric] = round(sum(found) / len(found), 3)
            rows.append({**row, "shards": len(values)})
    return rows


def accounting_totals(model_accounting: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """The numeric model-client totals summed over shards and phases."""
    totals: Counter[str] = Counter()
    for calls in model_accounting:
        totals.update({k: v for k, v in calls.items()
                       if isinstance(v, int | float) and not isinstance(v, bool)})
    return totals


def _funnel(
    inputs: ReportInputs, verified: int, curation_drops: Mapping[str, int]
) -> Section:
    plt = pyplot()
    plans, chains, curated = inputs.plans, inputs.chains, inputs.curated
    funnel = [
        ("dialogue plans", len(plans)),
        ("rounds planned", sum(len(p.rounds) for p in plans)),
        ("rounds with a hard query", len(inputs.queries)),
        ("rounds verified", sum(1 for c in chains if c.passed)),
        ("verified dialogues", verified),
        ("curated dialogues", len(curated)),
    ]
    figure, axis = plt.subplots(figsize=(7, 2.8))
    axis.barh([name for name, _ in funnel][::-1], [v for _, v in funnel][::-1], color="#1f77b4")
    for index, (_, value) in enumerate(funnel[::-1]):
        axis.text(value, index, f" {value}", va="center", fontsize=8)
    axis.set_title("Funnel", fontsize=10)
    chain_drops = Counter(c.drop_reason for c in chains if c.drop_reason)
    drop_rows = (
        [{"stage": "hard query", "reason": k, "count": v}
         for k, v in query_drops(plans, inputs.queries).items()]
        + [{"stage": "reasoning", "reason": k, "count": v} for k, v in chain_drops.items()]
        + [{"stage": "curation", "reason": k, "count": v} for k, v in curation_drops.items()]
    )
    return Section(
        "Funnel",
        "From plans to curated dialogues; every drop is counted with its reason.",
        [{"stage": name, "count": value} for name, value in funnel] + drop_rows,
        figure_png(figure),
    )


def _coverage(
    curated: Sequence[VerifiedDialogue], tools_by_class: Mapping[str, Sequence[str]]
) -> Section:
    plt = pyplot()
    reached = Counter(
        call for d in curated for turn in d.turns for step in turn.steps
        for call in (c.split("(", 1)[0] for c in step.calls)
    )
    class_rows = []
    for class_name, tools in sorted(tools_by_class.items()):
        used = [t for t in tools if reached[t]]
        class_rows.append({"class": class_name, "tools": len(tools), "tools_used": len(used),
                           "share": round(len(used) / len(tools), 3) if tools else 0.0,
                           "calls": sum(reached[t] for t in tools)})
    figure, axis = plt.subplots(figsize=(7, 2.8))
    axis.bar([r["class"] for r in class_rows], [r["share"] for r in class_rows], color="#2ca02c")
    axis.set_ylim(0, 1)
    axis.set_title("Share of each class's tools used in curated dialogues", fontsize=10)
    axis.tick_params(axis="x", labelrotation=30, labelsize=7)
    return Section("Tool and class coverage", "", class_rows, figure_png(figure))


def _distributions(inputs: ReportInputs) -> Section:
    plt = pyplot()
    plans, chains, curated = inputs.plans, inputs.chains, inputs.curated
    distributions = {
        "rounds per dialogue": _histogram([len(d.rounds) for d in curated]),
        "calls per round": _histogram(
            [len(r.executed_calls()) for p in plans for r in p.rounds]),
        "dependency depth": _histogram([r.dependency_depth for p in plans for r in p.rounds]),
        "attempts per round": _histogram([len(c.attempts) for c in chains if c.attempts]),
        "reasoning length (chars, /100)": _histogram(
            [len(t.reasoning) // 100 for d in curated for t in d.turns]),
    }
    figure, axes = plt.subplots(1, len(distributions), figsize=(13, 2.6))
    for axis, (name, histogram) in zip(axes, distributions.items(), strict=True):
        axis.bar(list(histogram), list(histogram.values()), color="#9467bd")
        axis.set_title(name, fontsize=8)
        axis.tick_params(labelsize=7)
    return Section(
        "Distributions",
        "",
        [{"distribution": k, **{"values": ", ".join(f"{a}: {b}" for a, b in v.items())}}
         for k, v in distributions.items()],
        figure_png(figure),
    )


def _variant_mix(curated: Sequence[VerifiedDialogue]) -> Section:
    plt = pyplot()
    variants = Counter(turn.variant for d in curated for turn in d.turns)
    categories = Counter(dialogue_category(d) for d in curated)
    figure, axes = plt.subplots(1, 2, figsize=(10, 2.6))
    for axis, counts, name in ((axes[0], variants, "turns per variant"),
                               (axes[1], categories, "dialogues per BFCL category")):
        axis.bar(list(counts), list(counts.values()), color="#ff7f0e")
        axis.set_title(name, fontsize=9)
        axis.tick_params(axis="x", labelrotation=25, labelsize=7)
    return Section(
        "Variant mix",
        "Turns per variant and dialogues per BFCL category in the curated set.",
        [{"kind": "turn variant", "name": k, "count": v} for k, v in variants.most_common()]
        + [{"kind": "BFCL category", "name": k, "count": v} for k, v in categories.most_common()],
        figure_png(figure),
    )


def _model_calls(inputs: ReportInputs) -> Section:
    chains, queries = inputs.chains, inputs.queries
    totals = accounting_totals(inputs.model_accounting)
    accepted = max(len(inputs.curated), 1)
    # Every role: the tool abstractor and query writer per query, the others per chain.
    calls = sum(c.model_calls for c in chains) + sum(q.model_calls for q in queries)
    tokens = sum(c.tokens for c in chains) + sum(q.tokens for q in queries)
    return Section(
        "Model calls, tokens and cost",
        "Generators per role: "
        + ", ".join(f"{k}={v}" for k, v in (chains[0].generators if chains else {}).items()),
        [
            {"measure": "model calls per curated dialogue", "value": round(calls / accepted, 2)},
            {"measure": "tokens per curated dialogue", "value": round(tokens / accepted, 1)},
            {"measure": "cost per curated dialogue (USD)",
             "value": round(float(totals.get("cost_usd", 0.0)) / accepted, 6)},
            {"measure": "cache hits", "value": totals.get("cached", 0)},
        ],
    )


def _meaning(stats: MeaningStats) -> Section:
    plt = pyplot()
    sources = source_rows(stats)
    figure, axis = plt.subplots(figsize=(7, 2.6))
    bars = axis.bar([r["source"] for r in sources], [r["arguments"] for r in sources],
                    color="#17becf")
    axis.bar_label(bars, fontsize=8)
    axis.set_title("Arguments of ground-truth calls by source", fontsize=10)
    axis.tick_params(labelsize=8)
    rows = (
        summary_rows(stats)
        + [{"measure": f"arguments from {r['source']}", "value": r["arguments"]}
           for r in sources]
        + [{"measure": f"rejected as {r['type']}", "value": f"{r['rejected']} of {r['checked']}",
            "example": r["example"]} for r in reject_rows(stats)[:10]]
    )
    return Section(
        "Meaning",
        "The semantic gate over the ground-truth plans: where arguments came from, which "
        "types it rejects, how often searches find something, and the share of error and "
        "login calls.",
        rows,
        figure_png(figure),
    )


def _language(figures: LanguageFigures) -> Section:
    plt = pyplot()
    shown = {
        "distinct-3": figures.distinct_3, "4-word prefixes": figures.distinct_prefixes,
        "top-10 openers": figures.top_opener_share, "dictation": figures.dictation_share,
        "top reasoning tpl": figures.reasoning_template_share,
        "top reply tpl": figures.reply_template_share, "cut replies": figures.cut_reply_share,
    }
    figure, axis = plt.subplots(figsize=(8, 2.6))
    bars = axis.bar(list(shown), list(shown.values()), color="#9467bd")
    axis.bar_label(bars, fmt="%.2f", fontsize=8)
    axis.set_ylim(0, 1.1)
    axis.set_title("Language of the curated dialogues (shares)", fontsize=10)
    axis.tick_params(labelsize=7)
    return Section(
        "Language",
        f"Measured on {figures.user_turns} user turns, {figures.reasoning_messages} reasoning "
        f"messages and {figures.replies} closing replies of the curated dialogues (a "
        "content-seeded sample of each). For reference, BFCL's own multi-turn user turns: "
        "distinct-2/3 0.67/0.90, distinct 4-word prefixes 0.98, top-10 openers 8%, dictation 11%.",
        language_rows(figures),
        figure_png(figure),
    )


def _baseline(rows: Sequence[Mapping[str, Any]]) -> Section:
    plt = pyplot()
    metrics = [m for m in _COMPARED if all(m in r for r in rows)]
    figure, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 2.6))
    for axis, metric in zip(axes, metrics, strict=True):
        axis.bar([r["sampler"] for r in rows], [r[metric] for r in rows],
                 color=["#1f77b4", "#999999"][: len(rows)])
        axis.set_title(metric.replace("_", " "), fontsize=9)
    return Section(
        "Directed sampler vs random-walk baseline",
        "Same seeds, per shard, averaged over shards: share of tools reached, mean dependency "
        "depth per round (calls of the round chained before its target), share of rounds at "
        "depth 2 or more, share of turns after the first that use a value an earlier turn's "
        "calls passed or returned, and share of dialogues whose calls stay in one class.",
        list(rows),
        figure_png(figure),
    )


def build_sections(
    inputs: ReportInputs,
    registry: ToolRegistry,
    curation: CurationConfig,
    min_rounds: int,
) -> list[Section]:
    """Every section of the report from the run's records.

    The verified dialogues are assembled again from plans and chains, as curation assembled
    them, and curation's filters run again over them (they are deterministic): their drops per
    rule feed the funnel, and the dialogue each dropped feeds the sample browser.
    """
    verified = verified_dialogues(inputs.plans, inputs.chains, min_rounds)
    filtered = curate(verified, curation, BfclTestIndex.load())
    classes = sorted({c for plan in inputs.plans for c in plan.involved_classes})
    sections = [
        _funnel(inputs, len(verified), _curation_drops(filtered, inputs.curated)),
        _coverage(inputs.curated, {c: [t.name for t in registry.tools([c])] for c in classes}),
        _distributions(inputs),
        _variant_mix(inputs.curated),
        _model_calls(inputs),
        _meaning(measure_plans(registry, inputs.plans)),
        _language(measure_dialogues(inputs.curated)),
    ]
    baseline = coverage_rows(inputs.shard_coverage)
    if baseline:
        sections.append(_baseline(baseline))
    exports = {
        **{f"bfcl/{k}": v for k, v in inputs.bfcl_summary.get("entries", {}).items()},
        **{f"sft/{k}": v for k, v in inputs.sft_summary.get("files", {}).items()},
    }
    if exports:
        sections.append(Section(
            "Exports", "", [{"file": k, "rows": v} for k, v in exports.items()]))
    if inputs.lineage is not None:
        sections.append(_sample_browser(inputs, inputs.lineage, verified, filtered))
    return sections


def _curation_drops(
    filtered: CurationResult, curated: Sequence[VerifiedDialogue]
) -> dict[str, int]:
    """Drops per filter rule, and bfcl-eval's rejects: kept by the filters, not curated."""
    curated_ids = {d.dialogue_id for d in curated}
    rejected = sum(1 for d in filtered.kept if d.dialogue_id not in curated_ids)
    return {**filtered.counts(), CHECKER_REJECTS: rejected}


def _sample_browser(
    inputs: ReportInputs,
    lineage: LineageSources,
    verified: Sequence[VerifiedDialogue],
    filtered: CurationResult,
) -> Section:
    markup, samples = build_browser(lineage, verified, filtered, inputs.curated, inputs.stories)
    return Section(
        "Sample browser",
        f"{len(samples)} whole dialogues of {len(lineage.plans)} plans (a stratified sample by "
        "filter outcome and variant), each with its goal, queries, ground truth, reasoning "
        "attempts, replies and lineage story; in the HTML report.",
        html=markup,
    )


def judge_sections(sections: Sequence[Section]) -> Verdict:
    """Every expected section is present, and enough of them carry a picture."""
    present = {section.title for section in sections}
    pictures = sum(1 for section in sections if section.picture_png)
    missing = sorted(set(EXPECTED_SECTIONS) - present)
    return REPORT_CHECK.verdict(
        not missing and pictures >= MIN_PICTURES, missing=missing, pictures=pictures
    )


def report_files(folder: Path) -> dict[str, str]:
    """The report's files in a folder, as the run manifest lists them."""
    return {"markdown": str(folder / MARKDOWN_FILE), "html": str(folder / HTML_FILE)}


def write_report(
    folder: Path,
    run_id: str,
    inputs: ReportInputs,
    registry: ToolRegistry,
    curation: CurationConfig,
    min_rounds: int,
) -> PhaseResult[dict[str, Any]]:
    """Build the report, write it as Markdown and HTML under `folder`, and judge it."""
    sections = build_sections(inputs, registry, curation, min_rounds)
    title = f"FunReason-MT quality report, run {run_id[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / MARKDOWN_FILE, to_markdown(title, sections))
    atomic_write_text(folder / HTML_FILE, to_html(title, sections))
    return PhaseResult(
        value={"folder": str(folder), "sections": sorted({s.title for s in sections})},
        verdicts=[judge_sections(sections), *judge_language(measure_dialogues(inputs.curated))],
        tables={"sections": [
            {"section": s.title, "rows": len(s.rows), "picture": bool(s.picture_png)}
            for s in sections
        ]},
    )


def _table_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines.extend("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows)
    return "\n".join(lines)


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    """The report as Markdown with inlined pictures."""
    parts = [f"# {title}"]
    for section in sections:
        parts.append(f"## {section.title}")
        if section.text:
            parts.append(section.text)
        if section.rows:
            parts.append(_table_markdown(section.rows))
        if section.picture_png:
            encoded = base64.b64encode(section.picture_png).decode()
            parts.append(f"![{section.title}](data:image/png;base64,{encoded})")
    return "\n\n".join(parts) + "\n"


def to_html(title: str, sections: Sequence[Section]) -> str:
    """The report as one self-contained HTML page."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text and not section.html:
            body.append(f"<p>{html.escape(section.text)}</p>")
        if section.html:
            body.append(section.html)
        if section.rows:
            columns = list(dict.fromkeys(key for row in section.rows for key in row))
            head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns)
                + "</tr>"
                for r in section.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        if section.picture_png:
            encoded = base64.b64encode(section.picture_png).decode()
            body.append(
                f'<img alt="{html.escape(section.title)}" src="data:image/png;base64,{encoded}">'
            )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:2px 8px;font-size:13px}img{max-width:100%}" + BROWSER_STYLE
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
