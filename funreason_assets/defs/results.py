"""Phase results into Dagster: check specs, check results and materialization metadata.

Phases declare their checks and judge them in `lib/` (`lib/checks.py`); this is the one place
that turns those declarations and verdicts into `AssetCheckSpec`s and `AssetCheckResult`s.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from funreason_assets.lib.checks import CheckSpec, PhaseResult, Verdict, missing_verdicts

_SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def markdown_table(rows: Sequence[Mapping[str, Any]], limit: int = 20) -> str:
    """A small markdown table of the first rows (cells escaped, long cells cut)."""
    if not rows:
        return "_empty_"
    columns = list(rows[0])

    def cell(value: Any) -> str:
        text = str(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 else text[:77] + "..."

    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines.extend(
        "| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows[:limit]
    )
    return "\n".join(lines)


def asset_check_specs(asset: str, specs: Sequence[CheckSpec]) -> list[dg.AssetCheckSpec]:
    """The Dagster check specs of an asset's declared checks."""
    return [
        dg.AssetCheckSpec(
            spec.name, asset=asset, blocking=spec.blocking, description=spec.description
        )
        for spec in specs
    ]


def check_result(verdict: Verdict) -> dg.AssetCheckResult:
    """One verdict as an asset check result, with its measured numbers."""
    return dg.AssetCheckResult(
        check_name=verdict.name,
        passed=verdict.passed,
        severity=_SEVERITY[verdict.severity],
        metadata=dict(verdict.metadata),
    )


def png_metadata(png: bytes, alt: str) -> dg.MarkdownMetadataValue:
    """A PNG image inline in markdown metadata (the UI renders data URIs)."""
    encoded = base64.b64encode(png).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def materialize(
    result: PhaseResult[Any],
    specs: Sequence[CheckSpec],
    extra_metadata: Mapping[str, Any] | None = None,
    row_count: bool = True,
) -> dg.MaterializeResult:
    """The materialization of a phase result: value, metadata and every check's result.

    Raises:
        ValueError: If the phase left a declared check without a verdict.
    """
    unjudged = missing_verdicts(specs, result.verdicts)
    if unjudged:
        raise ValueError(f"checks without a verdict: {unjudged}")
    metadata: dict[str, Any] = {}
    if row_count and isinstance(result.value, list):
        metadata["dagster/row_count"] = len(result.value)
    metadata.update(result.metrics)
    for name, rows in result.tables.items():
        metadata[name] = dg.MetadataValue.md(markdown_table(rows, limit=200))
    for name, picture in result.pictures.items():
        metadata[name] = png_metadata(picture.png, picture.caption)
    metadata.update(extra_metadata or {})
    return dg.MaterializeResult(
        value=result.value,
        metadata=metadata,
        check_results=[check_result(verdict) for verdict in result.verdicts],
    )
