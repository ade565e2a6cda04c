"""Shard partitions of the generating assets, sized by the generation config."""

from __future__ import annotations

import dagster as dg

from funreason_assets.lib.settings import load_generation_settings


def shard_keys(count: int) -> list[str]:
    """Partition keys `shard-0000`, `shard-0001`, ..."""
    return [f"shard-{index:04d}" for index in range(count)]


shard_partitions = dg.StaticPartitionsDefinition(shard_keys(load_generation_settings().shards))
