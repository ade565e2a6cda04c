"""One IO manager for every asset: records as Parquet, documents as JSON, under one base path."""


import json
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from funreason_assets.lib.atomic import atomic_write_bytes, atomic_write_url
from funreason_assets.lib.column_schemas import record_columns
from funreason_assets.lib.paths import ASSET_STORE, asset_store, is_url
from funreason_assets.lib.record_tables import json_columns, records_to_table, table_to_records


def _parquet_bytes(table: pa.Table, compressed: bool) -> bytes:
    sink = pa.BufferOutputStream()
    if compressed:
        pq.write_table(table, sink, compression="zstd")
    else:
        # An empty shard keeps its record class in the schema, so loads stay typed.
        pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


class RecordIOManager(dg.ConfigurableIOManager):
    """Stores lists of pydantic records as Parquet and dicts as JSON.

    Files land at `<base_path>/<asset key>/<partition or "all">.<ext>`. The base path is a
    project-relative or absolute folder, or an fsspec URL (`s3://bucket/assets`); by default
    `data/outputs/assets` under the outputs root, or `FUNREASON_ASSET_STORE`. Tests point it at
    a temporary directory.

    Every write is atomic (a temporary file, then a rename) and idempotent: the same records
    give the same bytes, so a run that is retried or redelivered rewrites identical files.
    """

    base_path: str = Field(
        default=ASSET_STORE,
        description="Folder (project-relative or absolute) or fsspec URL of the asset store.",
    )

    def _location(self, context: dg.OutputContext | dg.InputContext, partition: str | None,
                  suffix: str) -> str:
        key_path = "/".join(context.asset_key.path)
        return f"{asset_store(self.base_path).rstrip('/')}/{key_path}/{partition or 'all'}{suffix}"

    @staticmethod
    def _write(location: str, data: bytes) -> None:
        # A run killed mid-write must not leave a half file that a later run loads.
        if is_url(location):
            atomic_write_url(location, data)
        else:
            atomic_write_bytes(Path(location), data)

    @staticmethod
    def _open(location: str) -> Any:
        return fsspec.open(location, "rb")

    @staticmethod
    def _exists(location: str) -> bool:
        filesystem, path = fsspec.core.url_to_fs(location)
        return filesystem.exists(path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the asset value and attach path and row count metadata."""
        if obj is None:
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        if isinstance(obj, list) and all(isinstance(item, BaseModel) for item in obj):
            location = self._location(context, partition, ".parquet")
            table = records_to_table(obj)
            self._write(location, _parquet_bytes(table, compressed=bool(obj)))
            context.add_output_metadata({
                "path": dg.MetadataValue.path(location),
                "stored_rows": len(obj),
                "dagster/column_schema": dg.TableSchema(columns=[
                    dg.TableColumn(name=name, type=kind, description=description)
                    for name, kind, description in record_columns(
                        type(obj[0]), {c.name: str(c.type) for c in table.schema},
                        json_columns(table),
                    )
                ]) if obj else dg.TableSchema(columns=[
                    dg.TableColumn(name=c.name, type=str(c.type)) for c in table.schema
                ]),
            })
        elif isinstance(obj, dict):
            location = self._location(context, partition, ".json")
            self._write(location, json.dumps(obj, sort_keys=True, default=str).encode("utf-8"))
            context.add_output_metadata({"path": dg.MetadataValue.path(location)})
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: cannot store {type(obj).__name__}; "
                "return a list of pydantic records or a dict"
            )

    def load_input(self, context: dg.InputContext) -> Any:
        """Load one partition, several partitions (concatenated), or the whole asset.

        Only the partitions Dagster names are read, never every file in the folder: after
        `shards` shrinks, the files of the dropped shards stay on disk but are not current
        partitions, so curation and the report never mix them in.
        """
        partitions: list[str | None]
        if context.has_asset_partitions:
            partitions = list(context.asset_partition_keys)
        else:
            partitions = [None]
        loaded: list[Any] = []
        for partition in partitions:
            parquet = self._location(context, partition, ".parquet")
            document = self._location(context, partition, ".json")
            if self._exists(parquet):
                with self._open(parquet) as handle:
                    loaded.append(table_to_records(pq.read_table(handle)))
            elif self._exists(document):
                with self._open(document) as handle:
                    loaded.append(json.loads(handle.read().decode("utf-8")))
            else:
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} partition {partition or '-'} has not "
                    f"been materialized (expected {parquet} or {document})"
                )
        if len(loaded) == 1:
            return loaded[0]
        return [record for part in loaded for record in part]
