"""The environment pack resource: the tool registry every phase executes against."""


from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import Field

from funreason_assets.lib.paths import PACK_CONFIG, resolve
from funreason_assets.lib.registry import ToolRegistry


@lru_cache(maxsize=8)
def _registry(path: str) -> ToolRegistry:
    return ToolRegistry.from_config(Path(path))


class EnvironmentPacksResource(dg.ConfigurableResource):
    """Loads the environment packs named in the pack config file.

    Loading happens when a run starts (before any asset writes output), so a malformed pack,
    doc or config fails the run at once with a message naming the file and field.
    """

    pack_config: str = Field(
        default=PACK_CONFIG, description="Pack config file (YAML or JSON), project-relative."
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Validate the packs (every user class constructs and loads a scenario) up front."""
        self.registry()

    def registry(self) -> ToolRegistry:
        """The registry of every configured class (cached per process and resolved file)."""
        # Keyed by the resolved file, so a process that moves the project root (tests, the
        # CLI's checks) never gets the registry of another project's config.
        return _registry(str(resolve(self.pack_config)))
