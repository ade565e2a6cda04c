"""The generation config file (`data/config/generation.yaml`) and its settings model."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.curation import CurationConfig
from funreason_assets.lib.graph import GraphProbeSettings
from funreason_assets.lib.paths import GENERATION_CONFIG, load_config_file
from funreason_assets.lib.reasoning import ChainConfig
from funreason_assets.lib.sampler import SamplerConfig
from funreason_assets.lib.sampling import PlanCheckSettings
from funreason_assets.lib.scenarios.seeds import InvolvedClassesRange


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


def load_generation_settings(path: str | Path = GENERATION_CONFIG) -> GenerationSettings:
    """Read and validate the generation config.

    Raises:
        SettingsError: Naming the file and the offending field.
    """
    return load_config_file(path, GenerationSettings, "generation config")
