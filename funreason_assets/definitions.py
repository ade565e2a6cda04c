"""The code location: every definition under `defs/`, plus project-wide resources."""

from pathlib import Path

import dagster as dg

import funreason_assets.defs
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.io_manager import RecordIOManager


@dg.definitions
def defs() -> dg.Definitions:
    """Autoload `defs/` and bind the resources every asset shares."""
    loaded = dg.load_defs(
        defs_root=funreason_assets.defs, project_root=Path(__file__).resolve().parent.parent
    )
    shared = dg.Definitions(
        resources={
            "io_manager": RecordIOManager(),
            "environment_packs": EnvironmentPacksResource(),
        }
    )
    return dg.Definitions.merge(loaded, shared)
