"""Phase results into Dagster: check specs, check results and materialization metadata.

Phases declare their checks and judge them in `lib/` (`lib/checks.py`); this is the one place
that turns those declarations and verdicts into `AssetCheckSpec`s and `AssetCheckResult`s.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import BaseModel

from funreason_assets.lib.checks import CheckSpec, PhaseResult, Verdict, missing_verdicts
from funreason_assets.lib.column_schemas import Column, record_rows

# Records shown in an asset's `preview` metadata.
PREVIEW_RECORDS = 5

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


def table_schema(columns: Sequence[Column]) -> dg.TableSchema:
    """A column schema (`dagster/column_schema`) from (name, type, description) triples."""
    return dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=kind, description=description)
        for name, kind, description in columns
    ])


def preview(rows: Sequence[Mapping[str, Any]]) -> dg.MarkdownMetadataValue:
    """A few rows as a markdown table."""
    return dg.MetadataValue.md(markdown_table(rows, limit=PREVIEW_RECORDS))


def progress_log(
    context: dg.AssetExecutionContext, what: str, step: float = 0.1
) -> Callable[[int, int], None]:
    """A progress callback for a phase's loop: logs `what: done / total` every `step` of it.

    The run page shows each line as the asset's step runs, so a long shard shows how far it is.
    """
    last_mark = [-1]

    def report(done: int, total: int) -> None:
        mark = int(done / total / step + 1e-9) if total else 0
        if mark > last_mark[0]:
            last_mark[0] = mark
            percent = 100 * done // total if total else 100
            context.log.info("%s: %d / %d done (%d%%)", what, done, total, percent)

    return report


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
    records = result.value if isinstance(result.value, list) else []
    if records and isinstance(records[0], BaseModel) and "preview" not in metadata:
        metadata["preview"] = preview(record_rows(records, PREVIEW_RECORDS))
    metadata.update(extra_metadata or {})
    return dg.MaterializeResult(
        value=result.value,
        metadata=metadata,
        check_results=[check_result(verdict) for verdict in result.verdicts],
    )
