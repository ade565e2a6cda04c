"""Metadata helpers shared by every asset: previews, schemas and embedded pictures."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd


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


def record_metadata(frame: pd.DataFrame) -> dict[str, Any]:
    """`dagster/column_schema` and a markdown preview of a frame."""
    columns = [
        dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()
    ]
    return {
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "preview": dg.MetadataValue.md(markdown_table(frame.to_dict("records"))),
    }


def png_markdown(figure: Any, alt: str) -> dg.MarkdownMetadataValue:
    """Embed a matplotlib figure in markdown metadata (the UI renders data URIs)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")
