"""The generation config file (`data/config/generation.yaml`) and its settings model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from funreason_assets.lib.curation import CurationConfig
from funreason_assets.lib.graph import GraphProbeSettings
from funreason_assets.lib.paths import GENERATION_CONFIG, load_config_file
from funreason_assets.lib.reasoning import ChainConfig
from funreason_assets.lib.records import VARIANTS
from funreason_assets.lib.sampler import SamplerConfig, VariantMix
from funreason_assets.lib.sampling import PlanCheckSettings
from funreason_assets.lib.scenarios.generators import ScenarioMix
from funreason_assets.lib.scenarios.seeds import InvolvedClassesRange
from funreason_assets.lib.synthesis import QueryConfig


class ExportSettings(BaseModel):
    """What the export assets write."""

    model_config = ConfigDict(extra="forbid")

    split_turns: bool = Field(
        default=False, description="Also write one sample per assistant turn (reasoning of "
        "earlier turns stripped)."
    )
    keep_runs: int = Field(
        default=5, ge=1, description="Complete export folders kept (the newest ones; the one "
        "`LATEST` names is always kept); older complete ones are deleted after each export."
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
    scenario_mix: ScenarioMix = Field(default_factory=ScenarioMix)
    graph_probe: GraphProbeSettings = Field(default_factory=GraphProbeSettings)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    plan_checks: PlanCheckSettings = Field(default_factory=PlanCheckSettings)
    synthesis: QueryConfig = Field(default_factory=QueryConfig)
    reasoning: ChainConfig = Field(default_factory=ChainConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)
    exports: ExportSettings = Field(default_factory=lambda: ExportSettings())
    schedule: ScheduleSettings = Field(default_factory=lambda: ScheduleSettings())

    @model_validator(mode="after")
    def _fields_agree(self) -> GenerationSettings:
        """Rules across fields and phases, checked when the file loads (before any run)."""
        problem = cross_field_problem(self)
        if problem is not None:
            field, message = problem
            # The error's context carries the field, so `field_error` names it like any other.
            raise PydanticCustomError(
                "cross_field", "{message}", {"field": field, "message": message}
            )
        return self


# The dialogue categories the sampler draws by weight (the sampler's own selection).
CATEGORY_SHARES = tuple(name for name in VARIANTS if name in VariantMix.model_fields)


def _value(settings: GenerationSettings, path: str) -> Any:
    found: Any = settings
    for part in path.split("."):
        found = getattr(found, part)
    return found


def _not_above(settings: GenerationSettings, low: str, high: str) -> tuple[str, str] | None:
    """`low` <= `high`, both dotted paths into the settings; the problem names `low`."""
    low_value, high_value = _value(settings, low), _value(settings, high)
    if low_value > high_value:
        return low, f"{low_value} is more than {high} ({high_value}); lower it or raise {high}"
    return None


def cross_field_problem(settings: GenerationSettings) -> tuple[str, str] | None:
    """The first rule across fields the settings break, as (field, message), or None.

    Each field alone may be valid while their combination cannot run: a minimum above its
    maximum, a verified-prefix minimum longer than any sampled dialogue, a variant mix that
    weighs no category.
    """
    sampler, variants = settings.sampler, settings.sampler.variants
    for name in CATEGORY_SHARES:
        share = getattr(variants, name)
        if share < 0:
            return f"sampler.variants.{name}", f"a share cannot be negative, got {share}"
    if not any(getattr(variants, name) > 0 for name in CATEGORY_SHARES):
        return "sampler.variants", (
            f"every category share ({', '.join(CATEGORY_SHARES)}) is 0; give at least one a "
            "positive share"
        )
    for path, value in (
        ("sampler.variants.error_recovery_rounds", variants.error_recovery_rounds),
        ("sampler.tail_stop_probability", sampler.tail_stop_probability),
    ):
        if not 0 <= value <= 1:
            return path, f"a probability must be between 0 and 1, got {value}"
    if sampler.depth_oversampling < 0:
        return "sampler.depth_oversampling", (
            f"a target weight bonus cannot be negative, got {sampler.depth_oversampling}"
        )
    pairs = (
        ("involved_classes.min", "involved_classes.max"),
        ("sampler.min_calls", "sampler.max_calls"),
        ("sampler.min_rounds", "sampler.max_rounds"),
        # A dialogue keeps a verified prefix of `reasoning.min_rounds` rounds: no sampled
        # dialogue could ever have that many if the sampler stops earlier.
        ("reasoning.min_rounds", "sampler.max_rounds"),
        ("curation.min_turns", "curation.max_turns"),
        ("curation.min_query_chars", "curation.max_query_chars"),
        ("curation.min_reasoning_chars", "curation.max_reasoning_chars"),
    )
    for low, high in pairs:
        problem = _not_above(settings, low, high)
        if problem is not None:
            return problem
    return None


def load_generation_settings(path: str | Path = GENERATION_CONFIG) -> GenerationSettings:
    """Read and validate the generation config.

    Raises:
        SettingsError: Naming the file and the offending field.
    """
    return load_config_file(path, GenerationSettings, "generation config")
