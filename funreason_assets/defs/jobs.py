"""Jobs over the asset graph."""

import dagster as dg

from funreason_assets.defs.partitions import shard_partitions

# The whole pipeline for one shard. Unpartitioned assets (catalog, graph) are materialized
# in the same run; the in-process executor avoids a process per step, which on a small
# machine costs more than the steps themselves.
generate_dataset = dg.define_asset_job(
    "generate_dataset",
    selection=dg.AssetSelection.all(),
    partitions_def=shard_partitions,
    executor_def=dg.in_process_executor,
    description="Materialize every phase of the pipeline for one shard.",
)
