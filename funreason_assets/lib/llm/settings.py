"""Model settings: a model per role, client limits, and where they are read from.

`data/config/models.yaml` names a model per role. The model string is anything litellm accepts
(`openai/gpt-4o-mini`, `anthropic/claude-...`, `hosted_vllm/<name>` with `api_base`,
`ollama/<name>`), or `scripted` for the deterministic offline implementation of the role, which
is the default and needs no network. API keys are read only from environment variables named in
the config, never from files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.paths import SettingsError, load_config_file, resolve

SCRIPTED = "scripted"

# The roles of METHOD.md, named for what they do, and the optional judge of queries and
# replies (scripted: no judging).
ROLES = ("tool_abstractor", "query_writer", "reasoner", "critic", "replier", "judge")


class RoleSettings(BaseModel):
    """How one role calls its model."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(SCRIPTED, description="litellm model string, or 'scripted' (offline)")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, gt=0)
    api_base: str | None = Field(None, description="endpoint of a self-hosted or proxy server")
    api_key_env: str | None = Field(
        None, description="name of the environment variable holding the API key"
    )
    timeout_s: float = Field(60.0, gt=0, description="per-call timeout")
    response_format: Literal["none", "json_object", "json_schema"] = Field(
        "none",
        description="ask the server for JSON output; 'none' relies on the prompt and validation",
    )
    extra: dict[str, object] = Field(
        default_factory=dict, description="further litellm parameters passed through"
    )

    @property
    def scripted(self) -> bool:
        """Whether this role runs offline without a model."""
        return self.model == SCRIPTED

    def api_key(self) -> str | None:
        """The key from the environment (None when unset or not configured)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class ClientSettings(BaseModel):
    """Limits of the model client for a run."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(16, gt=0, description="calls in flight at once")
    max_retries: int = Field(5, ge=0, description="retries on 429, 5xx, timeouts, drops")
    backoff_base_s: float = Field(0.5, ge=0, description="first backoff; doubles per retry")
    backoff_max_s: float = Field(30.0, ge=0, description="cap of one backoff")
    structured_retries: int = Field(
        2, ge=0, description="re-asks with the validation error when output is invalid"
    )
    budget_tokens: int | None = Field(None, gt=0, description="stop new calls past this")
    budget_usd: float | None = Field(None, gt=0, description="stop new calls past this cost")
    cache: bool = Field(True, description="content-addressed completion cache on disk")


class ModelSettings(BaseModel):
    """The whole models config."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    client: ClientSettings = Field(default_factory=ClientSettings)

    def role(self, name: str) -> RoleSettings:
        """Settings of a role (scripted when the config does not name it)."""
        return self.roles.get(name, RoleSettings())

    @property
    def all_scripted(self) -> bool:
        """True when no role needs a model (the offline default)."""
        return all(self.role(name).scripted for name in ROLES)

    def generators(self) -> dict[str, str]:
        """Which generator makes each role's output (recorded on every record)."""
        return {name: self.role(name).model for name in ROLES}


def load_model_settings(path: str | Path) -> ModelSettings:
    """Read and validate a models config.

    Raises:
        SettingsError: Naming the file and the offending field.
    """
    settings = load_config_file(path, ModelSettings, "models config")
    unknown = sorted(set(settings.roles) - set(ROLES))
    if unknown:
        raise SettingsError(
            f"{resolve(path)}: field 'roles.{unknown[0]}': unknown role (known: {ROLES})"
        )
    return settings
