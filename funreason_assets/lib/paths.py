"""The ground floor: where the project's files are, and how a config file is read.

Every other module may import this one; it imports nothing from the package, so a module that
needs only a path (the IO manager, the export folder) does not load any phase.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

PROJECT_ROOT_ENV = "FUNREASON_PROJECT_ROOT"
# Where everything the pipeline writes lives (default `<project>/data/outputs`). Workers on
# several machines point it at one shared folder, so every run sees every shard's records, the
# completion cache and the exports.
OUTPUTS_ROOT_ENV = "FUNREASON_OUTPUTS_ROOT"
# The asset store alone may live elsewhere: a folder or an fsspec URL (`s3://bucket/assets`).
ASSET_STORE_ENV = "FUNREASON_ASSET_STORE"

GENERATION_CONFIG = "data/config/generation.yaml"
PACK_CONFIG = "data/config/environment_packs.yaml"
MODELS_CONFIG = "data/config/models.yaml"
OUTPUTS = "data/outputs"
ASSET_STORE = "data/outputs/assets"
MODEL_CACHE = "data/outputs/model_cache"
EXPORTS = "data/outputs/exports"

ConfigModel = TypeVar("ConfigModel", bound=BaseModel)


class SettingsError(ValueError):
    """A config file is missing or malformed (the message names the file and the field)."""


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


def outputs_root() -> Path:
    """The folder the pipeline writes to: `FUNREASON_OUTPUTS_ROOT`, else `data/outputs`.

    A relative override is taken from the project root.
    """
    override = os.environ.get(OUTPUTS_ROOT_ENV)
    if override:
        candidate = Path(override).expanduser()
        return candidate if candidate.is_absolute() else project_root() / candidate
    return project_root() / OUTPUTS


def resolve(path: str | Path) -> Path:
    """Resolve a project-relative path (absolute paths pass through).

    Paths under `data/outputs/` resolve under the outputs root (`outputs_root`).
    """
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    if candidate.parts[:2] == Path(OUTPUTS).parts:
        return outputs_root().joinpath(*candidate.parts[2:])
    return project_root() / candidate


def is_url(location: str) -> bool:
    """Whether a location is a URL (`s3://...`, `file:///...`) rather than a local path."""
    scheme, separator, _ = location.partition("://")
    return bool(separator) and scheme.replace("+", "").replace("-", "").isalnum()


def asset_store(base_path: str = ASSET_STORE) -> str:
    """Where the asset store lives: a local folder (absolute) or an fsspec URL.

    `FUNREASON_ASSET_STORE` replaces the default location; an explicitly configured base path
    wins over both.
    """
    override = os.environ.get(ASSET_STORE_ENV)
    location = override if override and base_path == ASSET_STORE else base_path
    return location if is_url(location) else str(resolve(location))


def field_error(file: Path | str, error: ValidationError) -> SettingsError:
    """A `SettingsError` naming the file and the first invalid field of a validation error."""
    first = error.errors()[0]
    # A rule across fields fails on the whole model (no location); it names its field itself.
    field_path = ".".join(str(part) for part in first["loc"]) or str(
        (first.get("ctx") or {}).get("field", "")
    )
    return SettingsError(f"{file}: field '{field_path}': {first['msg']}")


def load_config_file(path: str | Path, model: type[ConfigModel], what: str) -> ConfigModel:
    """Read a YAML config file and validate it against its pydantic model.

    Args:
        path: The file, project-relative or absolute.
        model: The pydantic model of the file's content.
        what: What the file is, for messages ("generation config").

    Raises:
        SettingsError: Naming the file and the offending field.
    """
    file = resolve(path)
    if not file.is_file():
        raise SettingsError(f"{file}: {what} file does not exist")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{file}: cannot read {what} ({exc})") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise field_error(file, exc) from exc
