"""The generation config as the definitions see it: read once per process, on first use."""

from __future__ import annotations

import functools

from funreason_assets.lib.paths import GENERATION_CONFIG, resolve
from funreason_assets.lib.settings import GenerationSettings, load_generation_settings


@functools.cache
def _load(file: str) -> GenerationSettings:
    return load_generation_settings(file)


def generation_settings() -> GenerationSettings:
    """The validated generation config (cached per resolved file, so tests may move the root)."""
    return _load(str(resolve(GENERATION_CONFIG)))
