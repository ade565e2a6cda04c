"""The environment pack resource: the tool registry every phase executes against."""


from functools import lru_cache

import dagster as dg
from pydantic import Field

from funreason_assets.lib.paths import PACK_CONFIG, resolve
from funreason_assets.lib.registry import ToolRegistry


@lru_cache(maxsize=8)
def _registry(path: str) -> ToolRegistry:
    return ToolRegistry.from_config(resolve(path))


class EnvironmentPacksResource(dg.ConfigurableResource):
    """Loads the environment packs named in the pack config file.

    Loading happens when a run starts (before any asset writes output), so a malformed pack,
    doc or config fails the run at once with a message naming the file and field.
    """

    pack_config: str = Field(
        default=PACK_CONFIG, description="Pack config file (YAML or JSON), project-relative."
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Validate the packs up front."""
        self.registry()

    def registry(self) -> ToolRegistry:
        """The registry of every configured class (cached per process)."""
        return _registry(self.pack_config)
