"""The model resource: which generator plays each role, and the client that calls models."""

import dagster as dg
from pydantic import Field, PrivateAttr

from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.llm.client import ModelClient
from funreason_assets.lib.llm.settings import ModelSettings, load_model_settings
from funreason_assets.lib.paths import MODEL_CACHE, MODELS_CONFIG, resolve
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.dispatch import RoleSet


class ModelsResource(dg.ConfigurableResource):
    """Roles from `data/config/models.yaml`: scripted (offline default) or any litellm model.

    No client is built, and litellm is not imported, unless some role names a model, so the
    offline default never touches the network. Keys come from the environment variables the
    config names; they never enter records, metadata or logs.
    """

    models_config: str = Field(
        default=MODELS_CONFIG, description="Models config file, project-relative."
    )
    cache_dir: str = Field(
        default=MODEL_CACHE, description="Completion cache folder (shared by reruns/backfills)."
    )
    _settings: ModelSettings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Validate the config before any asset runs."""
        self.settings()

    def settings(self) -> ModelSettings:
        """The parsed models config."""
        if self._settings is None:
            self._settings = load_model_settings(resolve(self.models_config))
        return self._settings

    def client(self) -> ModelClient | None:
        """A fresh client for one asset run (None when every role is scripted)."""
        settings = self.settings()
        if settings.all_scripted:
            return None
        roles = {name: settings.role(name) for name in settings.generators()}
        return ModelClient(roles, settings.client, CompletionCache(resolve(self.cache_dir)))

    def roles(self, registry: ToolRegistry, seed: int = 0, slip_rate: float = 0.15) -> RoleSet:
        """The role implementations, sharing one client."""
        return RoleSet(self.settings(), registry, self.client(), slip_rate=slip_rate, seed=seed)
