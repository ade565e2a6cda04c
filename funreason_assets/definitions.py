"""The code location: every definition under `defs/`, plus project-wide resources."""

from pathlib import Path

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.export.resources import ExportsResource
from funreason_assets.defs.io_manager import RecordIOManager
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import partition_sharded_assets


@dg.definitions
def defs() -> dg.Definitions:
    """Autoload `defs/`, bind the shared resources, and partition the shard assets."""
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
    shared = dg.Definitions(
        # Runs launched from the asset graph (the implicit asset job) would otherwise use the
        # multiprocess executor: one process per step, each loading the code location again,
        # which on a small machine costs more than the steps themselves (see the README).
        executor=dg.in_process_executor,
        resources={
            "io_manager": RecordIOManager(),
            "environment_packs": EnvironmentPacksResource(),
            "models": ModelsResource(),
            "exports": ExportsResource(),
        }
    )
    return partition_sharded_assets(dg.Definitions.merge(loaded, shared))
