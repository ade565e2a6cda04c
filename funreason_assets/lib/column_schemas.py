"""The columns of the assets stored as documents, and short previews of their records.

Record tables get their column schema from their Arrow schema when stored; the graph, the
exports and the report are documents or files, so their tabular parts are described here:
(name, type, description) per column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

Column = tuple[str, str, str]

API_GRAPH_EDGES: tuple[Column, ...] = (
    ("source", "string", "the tool whose call comes first"),
    ("target", "string", "the tool that depends on it"),
    ("kinds", "list<string>", "data_flow and/or state_prerequisite"),
    ("evidence", "list<struct>", "the probe calls that showed the dependency"),
)
BFCL_ENTRIES: tuple[Column, ...] = (
    ("id", "string", "BFCL entry id (`multi_turn_<category>_<n>`)"),
    ("question", "list<list<struct<role, content>>>", "user turns, one list per turn"),
    ("initial_config", "map<string, struct>", "the starting state per involved class"),
    ("path", "list<string>", "the ground-truth tool path"),
    ("involved_classes", "list<string>", "BFCL classes the entry uses"),
    ("ground_truth", "list<list<string>>",
     "in `possible_answer/`, same id: the ground-truth calls per turn"),
)
SFT_ROWS: tuple[Column, ...] = (
    ("id", "string", "the dialogue id"),
    ("category", "string", "the BFCL category the dialogue belongs to"),
    ("messages", "list<struct<role, content, reasoning_content, tool_calls, tool_call_id>>",
     "OpenAI chat messages: system, user, assistant (with reasoning) and tool results"),
    ("tools", "list<struct>", "the function schemas offered"),
    ("error_tool_response", "bool", "a tool answered with an error the assistant recovered from"),
)
REPORT_SECTIONS: tuple[Column, ...] = (
    ("section", "string", "the report section's title"),
    ("rows", "int", "rows of its table"),
    ("picture", "bool", "whether it carries a picture"),
)


def record_rows(records: Sequence[BaseModel], limit: int = 5) -> list[dict[str, Any]]:
    """The first records as flat rows (nested values as compact JSON)."""
    rows = []
    for record in records[:limit]:
        dumped = record.model_dump(mode="json")
        rows.append({
            key: value if isinstance(value, str | int | float | bool) or value is None
            else json.dumps(value, separators=(",", ":"), default=str)
            for key, value in dumped.items()
        })
    return rows


def graph_edge_rows(graph: Mapping[str, Any], limit: int = 5) -> list[dict[str, Any]]:
    """The first edges of a node-link graph with the number of probes behind each."""
    edges = graph.get("edges", graph.get("links", []))
    return [
        {"source": e["source"], "target": e["target"], "kinds": ", ".join(e.get("kinds", [])),
         "probes": len(e.get("evidence", []))}
        for e in edges[:limit]
    ]


def jsonl_rows(path: Path, fields: Sequence[str], limit: int = 3) -> list[dict[str, Any]]:
    """The first rows of a JSON-lines file, with only these fields."""
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if len(rows) >= limit:
                break
            if line.strip():
                row = json.loads(line)
                rows.append({name: row.get(name) for name in fields})
    return rows


def _annotation(record_class: type[BaseModel], name: str) -> str:
    annotation = record_class.model_fields[name].annotation
    if not get_args(annotation):
        return getattr(annotation, "__name__", str(annotation))
    # `list[funreason_assets.lib.records.PlannedRound]` -> `list[PlannedRound]`
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation))


def record_columns(
    record_class: type[BaseModel],
    stored_types: Mapping[str, str],
    json_columns: Sequence[str] = (),
) -> list[Column]:
    """The columns of a stored record table, described from the record's fields.

    A column's type is its stored type, or for nested values stored as JSON text the record
    field's type; its description is the field's, where it has one.

    Args:
        record_class: The record model of the table.
        stored_types: Column name -> its type in the stored (Arrow) table.
        json_columns: The columns stored as JSON text.
    """
    columns = []
    for name, stored in stored_types.items():
        field = record_class.model_fields.get(name)
        annotation = _annotation(record_class, name) if field is not None else ""
        kind = f"json {annotation}" if name in json_columns and annotation else stored
        columns.append((name, kind, (field.description or "") if field is not None else ""))
    return columns
