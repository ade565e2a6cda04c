"""The quality report of a run: funnel, coverage, distributions, cost, baseline comparison.

Written twice from the same sections: Markdown (shown in the Dagster UI) and a self-contained
HTML file (pictures inlined as data URIs) that opens anywhere without the UI.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from funreason_assets.lib.curation import dialogue_category
from funreason_assets.lib.records import (
    DialoguePlan,
    HardQuery,
    ReasoningChain,
    VerifiedDialogue,
)


@dataclass
class Section:
    """One titled part of the report: text, a table and/or a picture."""

    title: str
    text: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    picture_png: bytes | None = None


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _histogram(values: Sequence[int]) -> dict[str, int]:
    counts = Counter(values)
    return {str(key): counts[key] for key in sorted(counts)}


def build_sections(
    plans: Sequence[DialoguePlan],
    queries: Sequence[HardQuery],
    query_drops: Mapping[str, int],
    chains: Sequence[ReasoningChain],
    verified_dialogues: int,
    curated: Sequence[VerifiedDialogue],
    curation_drops: Mapping[str, int],
    coverage_rows: Sequence[Mapping[str, Any]],
    tools_by_class: Mapping[str, Sequence[str]],
    model_totals: Mapping[str, Any],
    exports: Mapping[str, Any],
) -> list[Section]:
    """Every section of the report from the run's records."""
    plt = _pyplot()
    sections = []

    rounds_planned = sum(len(p.rounds) for p in plans)
    verified_rounds = sum(1 for c in chains if c.passed)
    funnel = [
        ("dialogue plans", len(plans)),
        ("rounds planned", rounds_planned),
        ("rounds with a hard query", len(queries)),
        ("rounds verified", verified_rounds),
        ("verified dialogues", verified_dialogues),
        ("curated dialogues", len(curated)),
    ]
    figure, axis = plt.subplots(figsize=(7, 2.8))
    axis.barh([name for name, _ in funnel][::-1], [v for _, v in funnel][::-1], color="#1f77b4")
    for index, (_, value) in enumerate(funnel[::-1]):
        axis.text(value, index, f" {value}", va="center", fontsize=8)
    axis.set_title("Funnel", fontsize=10)
    chain_drops = Counter(c.drop_reason for c in chains if c.drop_reason)
    drop_rows = (
        [{"stage": "hard query", "reason": k, "count": v} for k, v in query_drops.items()]
        + [{"stage": "reasoning", "reason": k, "count": v} for k, v in chain_drops.items()]
        + [{"stage": "curation", "reason": k, "count": v} for k, v in curation_drops.items()]
    )
    sections.append(Section(
        "Funnel",
        "From plans to curated dialogues; every drop is counted with its reason.",
        [{"stage": name, "count": value} for name, value in funnel] + drop_rows,
        _png(figure),
    ))

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
    sections.append(Section("Tool and class coverage", "", class_rows, _png(figure)))

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
    sections.append(Section(
        "Distributions",
        "",
        [{"distribution": k, **{"values": ", ".join(f"{a}: {b}" for a, b in v.items())}}
         for k, v in distributions.items()],
        _png(figure),
    ))

    variants = Counter(turn.variant for d in curated for turn in d.turns)
    categories = Counter(dialogue_category(d) for d in curated)
    figure, axes = plt.subplots(1, 2, figsize=(10, 2.6))
    for axis, counts, name in ((axes[0], variants, "turns per variant"),
                               (axes[1], categories, "dialogues per BFCL category")):
        axis.bar(list(counts), list(counts.values()), color="#ff7f0e")
        axis.set_title(name, fontsize=9)
        axis.tick_params(axis="x", labelrotation=25, labelsize=7)
    sections.append(Section(
        "Variant mix",
        "Turns per variant and dialogues per BFCL category in the curated set.",
        [{"kind": "turn variant", "name": k, "count": v} for k, v in variants.most_common()]
        + [{"kind": "BFCL category", "name": k, "count": v} for k, v in categories.most_common()],
        _png(figure),
    ))

    accepted = max(len(curated), 1)
    calls = sum(c.model_calls for c in chains)
    tokens = sum(c.tokens for c in chains)
    sections.append(Section(
        "Model calls, tokens and cost",
        "Generators per role: "
        + ", ".join(f"{k}={v}" for k, v in (chains[0].generators if chains else {}).items()),
        [
            {"measure": "model calls per curated dialogue", "value": round(calls / accepted, 2)},
            {"measure": "tokens per curated dialogue", "value": round(tokens / accepted, 1)},
            {"measure": "cost per curated dialogue (USD)",
             "value": round(float(model_totals.get("cost_usd", 0.0)) / accepted, 6)},
            {"measure": "cache hits", "value": model_totals.get("cached", 0)},
        ],
    ))

    if coverage_rows:
        figure, axes = plt.subplots(1, 2, figsize=(8, 2.6))
        for axis, metric in zip(axes, ("share_reached", "mean_depth"), strict=True):
            axis.bar([r["sampler"] for r in coverage_rows], [r[metric] for r in coverage_rows],
                     color=["#1f77b4", "#999999"][: len(coverage_rows)])
            axis.set_title(metric.replace("_", " "), fontsize=9)
        sections.append(Section(
            "Directed sampler vs random-walk baseline",
            "Same seeds, per shard, averaged over shards.",
            list(coverage_rows),
            _png(figure),
        ))
    if exports:
        sections.append(Section(
            "Exports", "", [{"file": k, "rows": v} for k, v in exports.items()]))
    return sections


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
        if section.text:
            body.append(f"<p>{html.escape(section.text)}</p>")
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
        "padding:2px 8px;font-size:13px}img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
