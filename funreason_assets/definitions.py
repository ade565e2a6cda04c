"""The code location: every definition under `defs/`, plus project-wide resources."""

from pathlib import Path

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.export.resources import ExportsResource
from funreason_assets.defs.io_manager import RecordIOManager
from funreason_assets.defs.models.resources import ModelsResource


@dg.definitions
def defs() -> dg.Definitions:
    """Autoload `defs/` and bind the resources every asset shares."""
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
    shared = dg.Definitions(
        resources={
            "io_manager": RecordIOManager(),
            "environment_packs": EnvironmentPacksResource(),
            "models": ModelsResource(),
            "exports": ExportsResource(),
        }
    )
    return dg.Definitions.merge(loaded, shared)
