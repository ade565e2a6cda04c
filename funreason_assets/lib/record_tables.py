"""Typed records as Arrow tables: one column per field, nested values as JSON text.

The table's schema metadata names the record class, so a table reads back into the same typed
records (also for an empty shard) without knowing what it holds.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

_RECORD_CLASS = b"funreason.record_class"
_JSON_COLUMNS = b"funreason.json_columns"


def records_to_table(records: list[BaseModel]) -> pa.Table:
    """An Arrow table of records, with the record class in its schema metadata."""
    record_class = type(records[0]) if records else None
    rows = [record.model_dump(mode="json") for record in records]
    fields = list(record_class.model_fields) if record_class else []
    json_columns = sorted(
        {name for row in rows for name, value in row.items() if isinstance(value, dict | list)}
    )
    columns: dict[str, list[Any]] = {name: [] for name in fields}
    for row in rows:
        for name in fields:
            value = row.get(name)
            columns[name].append(
                json.dumps(value, sort_keys=True) if name in json_columns else value
            )
    table = pa.table(columns) if fields else pa.table({})
    metadata = {
        _RECORD_CLASS: (
            f"{record_class.__module__}:{record_class.__qualname__}" if record_class else ""
        ).encode(),
        _JSON_COLUMNS: json.dumps(json_columns).encode(),
    }
    return table.replace_schema_metadata(metadata)


def json_columns(table: pa.Table) -> list[str]:
    """The columns of a table this module wrote that hold nested values as JSON text."""
    return json.loads((table.schema.metadata or {}).get(_JSON_COLUMNS, b"[]").decode())


def table_to_records(table: pa.Table) -> list[BaseModel]:
    """The typed records of a table this IO manager wrote (empty for an empty shard)."""
    metadata = table.schema.metadata or {}
    class_path = metadata.get(_RECORD_CLASS, b"").decode()
    if not class_path:
        return []
    module_name, _, qualname = class_path.partition(":")
    record_class = getattr(importlib.import_module(module_name), qualname)
    json_columns = set(json.loads(metadata.get(_JSON_COLUMNS, b"[]").decode()))
    records = []
    for row in table.to_pylist():
        for name in json_columns:
            if row.get(name) is not None:
                row[name] = json.loads(row[name])
        records.append(record_class.model_validate(row))
    return records
