"""Shard partitions of the generating assets, sized by the generation config.

Assets that hold one shard carry the `SHARDED` tag instead of a partitions definition, so no
module reads the config when it is imported; `definitions.py` attaches the shard partitions,
sized from the cached config, when it builds the code location.
"""

from __future__ import annotations

import functools
import warnings

import dagster as dg

from funreason_assets.defs.config import generation_settings

SHARD_TAG = "funreason/grain"
SHARDED = {SHARD_TAG: "shard"}


def shard_keys(count: int) -> list[str]:
    """Partition keys `shard-0000`, `shard-0001`, ..."""
    return [f"shard-{index:04d}" for index in range(count)]


@functools.cache
def _shard_partitions(count: int) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(shard_keys(count))


def shard_partitions() -> dg.StaticPartitionsDefinition:
    """The shard partitions of the configured run (one definition per shard count)."""
    return _shard_partitions(generation_settings().shards)


def partition_sharded_assets(definitions: dg.Definitions) -> dg.Definitions:
    """Attach the shard partitions to every asset tagged `SHARDED`."""
    partitions = shard_partitions()
    with warnings.catch_warnings():
        # A preview API in the pinned Dagster; the definitions snapshot test guards its result.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return definitions.map_asset_specs(
            func=lambda spec: (
                spec.replace_attributes(partitions_def=partitions)
                if spec.tags.get(SHARD_TAG) == "shard"
                else spec
            )
        )
