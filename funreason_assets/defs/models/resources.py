"""The model resource: which generator plays each role, and the client that calls models."""

import dagster as dg
from pydantic import Field, PrivateAttr

from funreason_assets.lib.llm.budget import Budget, ledger_path, run_group
from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.llm.client import ModelClient
from funreason_assets.lib.llm.preflight import preflight
from funreason_assets.lib.llm.settings import ModelSettings, load_model_settings
from funreason_assets.lib.paths import MODEL_CACHE, MODELS_CONFIG, resolve
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.dispatch import RoleSet


class ModelsResource(dg.ConfigurableResource):
    """Roles from `data/config/models.yaml`: scripted (offline default) or any litellm model.

    No client is built, and litellm is not imported, unless some role names a model, so the
    offline default never touches the network. Keys come from the environment variables the
    config names; their values are redacted from records, metadata and logs.

    When some role names a model, setting the resource up checks the config (`preflight`:
    provider, key variable, reachable `api_base`) and fails the run before any asset writes.
    A token or cost cap is one budget for the whole run: every client of every asset and shard
    of the run's budget group shares a ledger under the cache folder (see `lib/llm/budget.py`:
    the `funreason/run_group` run tag, `FUNREASON_RUN_GROUP`, the backfill id, or the run id).
    """

    models_config: str = Field(
        default=MODELS_CONFIG, description="Models config file, project-relative."
    )
    cache_dir: str = Field(
        default=MODEL_CACHE, description="Completion cache folder (shared by reruns/backfills)."
    )
    _settings: ModelSettings | None = PrivateAttr(default=None)
    _budget_group: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Validate the config, and check every model role can be called, before any asset."""
        settings = self.settings()
        run = context.run
        self._budget_group = run_group(run.tags if run else {}, run.run_id if run else None)
        if not settings.all_scripted:
            preflight(settings, self.models_config)

    def settings(self) -> ModelSettings:
        """The parsed models config."""
        if self._settings is None:
            self._settings = load_model_settings(resolve(self.models_config))
        return self._settings

    def budget(self) -> Budget:
        """The run's budget: shared through a ledger when capped and the run is known."""
        client = self.settings().client
        capped = client.budget_tokens is not None or client.budget_usd is not None
        ledger = None
        if capped and self._budget_group is not None:
            ledger = ledger_path(resolve(self.cache_dir), self._budget_group)
        return Budget(client.budget_tokens, client.budget_usd, ledger)

    def client(self) -> ModelClient | None:
        """A fresh client for one asset run (None when every role is scripted)."""
        settings = self.settings()
        if settings.all_scripted:
            return None
        roles = {name: settings.role(name) for name in settings.generators()}
        return ModelClient(
            roles, settings.client, CompletionCache(resolve(self.cache_dir)), budget=self.budget()
        )

    def roles(self, registry: ToolRegistry, seed: int = 0, slip_rate: float = 0.15) -> RoleSet:
        """The role implementations, sharing one client."""
        return RoleSet(self.settings(), registry, self.client(), slip_rate=slip_rate, seed=seed)
