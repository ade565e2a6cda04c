"""Project paths and the generation config file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from funreason_assets.lib.curation import CurationConfig
from funreason_assets.lib.reasoning import ChainConfig
from funreason_assets.lib.sampler import SamplerConfig

PROJECT_ROOT_ENV = "FUNREASON_PROJECT_ROOT"


def project_root() -> Path:
    """The folder that holds `data/` (the repository root in a checkout).

    `FUNREASON_PROJECT_ROOT` overrides it; otherwise the checkout that contains this package,
    falling back to the working directory for installed copies.
    """
    override = os.environ.get(PROJECT_ROOT_ENV)
    if override:
        return Path(override).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "data" / "config").is_dir():
        return checkout
    return Path.cwd()


def resolve(path: str | Path) -> Path:
    """Resolve a project-relative path (absolute paths pass through)."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else project_root() / candidate


class InvolvedClassesRange(BaseModel):
    """How many environment classes a scenario involves."""

    model_config = ConfigDict(extra="forbid")

    min: int = Field(default=1, ge=1)
    max: int = Field(default=3, ge=1)


class GraphProbeSettings(BaseModel):
    """Budget of the execution probes that build the API graph."""

    model_config = ConfigDict(extra="forbid")

    scenarios_per_class: int = Field(default=4, ge=1)
    binds_per_tool: int = Field(default=8, ge=1)


class PlanCheckSettings(BaseModel):
    """Thresholds of the checks on ground-truth plans."""

    model_config = ConfigDict(extra="forbid")

    min_target_count: int = Field(
        default=1, ge=0, description="Each tool of the shard's classes targeted this often."
    )
    max_duplicate_share: float = Field(default=0.02, ge=0, le=1)
    compare_with_random_walk: bool = True


class ExportSettings(BaseModel):
    """What the export assets write."""

    model_config = ConfigDict(extra="forbid")

    split_turns: bool = Field(
        default=False, description="Also write one sample per assistant turn (reasoning of "
        "earlier turns stripped)."
    )


class ScheduleSettings(BaseModel):
    """Scheduled regeneration (off by default)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    cron: str = Field(default="0 3 * * 1", description="When to regenerate every shard.")


class GenerationSettings(BaseModel):
    """The generation config file (`data/config/generation.yaml`)."""

    model_config = ConfigDict(extra="forbid")

    shards: int = Field(default=4, ge=1, le=10_000)
    scenarios_per_shard: int = Field(default=250, ge=1)
    base_seed: int = 0
    involved_classes: InvolvedClassesRange = Field(default_factory=InvolvedClassesRange)
    graph_probe: GraphProbeSettings = Field(default_factory=GraphProbeSettings)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    plan_checks: PlanCheckSettings = Field(default_factory=PlanCheckSettings)
    reasoning: ChainConfig = Field(default_factory=ChainConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)
    exports: ExportSettings = Field(default_factory=lambda: ExportSettings())
    schedule: ScheduleSettings = Field(default_factory=lambda: ScheduleSettings())


GENERATION_CONFIG = "data/config/generation.yaml"
PACK_CONFIG = "data/config/environment_packs.yaml"
MODELS_CONFIG = "data/config/models.yaml"
MODEL_CACHE = "data/outputs/model_cache"
EXPORTS = "data/outputs/exports"


class SettingsError(ValueError):
    """The generation config is malformed (the message names the file and field)."""


def load_generation_settings(path: str | Path = GENERATION_CONFIG) -> GenerationSettings:
    """Read and validate the generation config.

    Raises:
        SettingsError: Naming the file and the offending field.
    """
    file = resolve(path)
    if not file.is_file():
        raise SettingsError(f"{file}: generation config file does not exist")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{file}: cannot parse YAML ({exc})") from exc
    try:
        return GenerationSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_path = ".".join(str(part) for part in first["loc"])
        raise SettingsError(f"{file}: field '{field_path}': {first['msg']}") from exc
