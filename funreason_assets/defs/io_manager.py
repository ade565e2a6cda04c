"""One IO manager for every asset: records as Parquet, documents as JSON, under one base path."""


import json
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from funreason_assets.lib.atomic import atomic_path, atomic_write_text
from funreason_assets.lib.paths import ASSET_STORE, resolve
from funreason_assets.lib.record_tables import records_to_table, table_to_records


class RecordIOManager(dg.ConfigurableIOManager):
    """Stores lists of pydantic records as Parquet and dicts as JSON.

    Files land at `<base_path>/<asset key>/<partition or "all">.<ext>`. The base path is a
    project-relative or absolute folder; tests point it at a temporary directory.
    """

    base_path: str = Field(
        default=ASSET_STORE, description="Folder (project-relative or absolute)."
    )

    def _path(self, context: dg.OutputContext | dg.InputContext, partition: str | None) -> Path:
        key_path = Path(*context.asset_key.path)
        return resolve(self.base_path) / key_path / (partition or "all")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the asset value and attach path and row count metadata."""
        if obj is None:
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        stem = self._path(context, partition)
        stem.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, list) and all(isinstance(item, BaseModel) for item in obj):
            path = stem.with_suffix(".parquet")
            table = records_to_table(obj)
            # A run killed mid-write must not leave a half file that a later run loads.
            with atomic_path(path) as temporary:
                if not obj:
                    # Remember the record class even for an empty shard, so loads stay typed.
                    pq.write_table(table, temporary)
                else:
                    pq.write_table(table, temporary, compression="zstd")
            context.add_output_metadata({
                "path": dg.MetadataValue.path(str(path)),
                "stored_rows": len(obj),
                "dagster/column_schema": dg.TableSchema(columns=[
                    dg.TableColumn(name=column.name, type=str(column.type))
                    for column in table.schema
                ]),
            })
        elif isinstance(obj, dict):
            path = stem.with_suffix(".json")
            atomic_write_text(path, json.dumps(obj, sort_keys=True, default=str))
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})
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
            stem = self._path(context, partition)
            parquet, document = stem.with_suffix(".parquet"), stem.with_suffix(".json")
            if parquet.exists():
                loaded.append(table_to_records(pq.read_table(parquet)))
            elif document.exists():
                loaded.append(json.loads(document.read_text(encoding="utf-8")))
            else:
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} partition {partition or '-'} has not "
                    f"been materialized (expected {parquet} or {document})"
                )
        if len(loaded) == 1:
            return loaded[0]
        return [record for part in loaded for record in part]
