"""Jobs over the asset graph, the regeneration schedule, and the config-change sensor.

`generate_dataset` materializes the shard-partitioned phases (and the catalog and graph they
need) for one shard; `export_dataset` curates every shard and writes the exports and the
report. The curation and export assets also carry an eager automation condition, so when
shard runs finish (from a backfill, the schedule or the sensor) they refresh on their own.
"""

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.export.resources import config_hash
from funreason_assets.defs.partitions import shard_keys

DOWNSTREAM_GROUPS = ("curation", "export")

# The in-process executor avoids a process per step, which on a small machine costs more than
# the steps themselves.
generate_dataset = dg.define_asset_job(
    "generate_dataset",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(*DOWNSTREAM_GROUPS),
    executor_def=dg.in_process_executor,
    description="Every generating phase for one shard: seeds, plans, queries, reasoning.",
)

export_dataset = dg.define_asset_job(
    "export_dataset",
    selection=dg.AssetSelection.groups(*DOWNSTREAM_GROUPS),
    executor_def=dg.in_process_executor,
    description="Curate every shard, write BFCL and training exports and the quality report.",
)


def shard_run_requests(reason: str, key: str) -> list[dg.RunRequest]:
    """One run of `generate_dataset` per shard."""
    return [
        dg.RunRequest(
            run_key=f"{reason}:{key}:{shard}",
            partition_key=shard,
            tags={"funreason/trigger": reason},
        )
        for shard in shard_keys(generation_settings().shards)
    ]


def regeneration_schedule() -> dg.ScheduleDefinition:
    """Regenerate every shard on the configured cron (off unless `schedule.enabled`)."""
    settings = generation_settings().schedule

    @dg.schedule(
        name="regenerate_dataset",
        job=generate_dataset,
        cron_schedule=settings.cron,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING
            if settings.enabled
            else dg.DefaultScheduleStatus.STOPPED
        ),
        description="Regenerate every shard (off unless `schedule.enabled` in generation.yaml).",
    )
    def regenerate_dataset(context: dg.ScheduleEvaluationContext):
        """Every shard, once per tick."""
        return shard_run_requests("schedule", context.scheduled_execution_time.isoformat())

    return regenerate_dataset


@dg.sensor(
    job=generate_dataset,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Regenerate every shard when the environment packs, generation or models "
    "config change.",
)
def config_change_sensor(context: dg.SensorEvaluationContext):
    """Compare the configs' hash with the last one seen (the cursor)."""
    current = config_hash()
    if context.cursor is None:
        # First evaluation: remember the state, do not regenerate what already exists.
        context.update_cursor(current)
        return dg.SkipReason("recorded the current configuration")
    if context.cursor == current:
        return dg.SkipReason("configuration unchanged")
    context.update_cursor(current)
    return shard_run_requests("config-change", current[:16])


@dg.definitions
def defs() -> dg.Definitions:
    """The jobs, the schedule (built from the config when the code location loads) and sensor."""
    return dg.Definitions(
        jobs=[generate_dataset, export_dataset],
        schedules=[regeneration_schedule()],
        sensors=[config_change_sensor],
    )
