"""Where export files land: one folder per run under a base folder."""


import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

import funreason_assets
from funreason_assets.lib import export_runs
from funreason_assets.lib.atomic import atomic_write_text
from funreason_assets.lib.paths import (
    EXPORTS,
    GENERATION_CONFIG,
    MODELS_CONFIG,
    PACK_CONFIG,
    project_root,
    resolve,
)


def config_hash() -> str:
    """sha256 over the generation, models and environment-pack configs."""
    digest = hashlib.sha256()
    for path in (GENERATION_CONFIG, MODELS_CONFIG, PACK_CONFIG):
        file = resolve(path)
        digest.update(path.encode())
        digest.update(file.read_bytes() if file.exists() else b"")
    return digest.hexdigest()


def code_version() -> str:
    """The git commit of the checkout (with `+dirty` for local changes), else the version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True,
            check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_root(),
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"funreason-assets {getattr(funreason_assets, '__version__', 'unknown')}"


class ExportsResource(dg.ConfigurableResource):
    """Exports go to `<folder>/<run id>/`; `<folder>/LATEST` names the newest complete one.

    `LATEST` moves only in `complete`, which the last export step calls once every file is
    written (see `lib/export_runs.py`), so a failed or killed export never becomes the latest.
    """

    folder: str = Field(default=EXPORTS, description="Base folder of export runs.")

    def run_folder(self, run_id: str) -> Path:
        """The folder of one run (created)."""
        path = resolve(self.folder) / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def update_manifest(self, run_id: str, section: str, content: dict[str, Any]) -> Path:
        """Merge one asset's part into the run's manifest."""
        path = self.run_folder(run_id) / export_runs.MANIFEST_FILE
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
            "run_id": run_id,
            "config_hash": config_hash(),
            "code_version": code_version(),
        }
        manifest[section] = content
        atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True))
        return path

    def complete(self, run_id: str, keep_runs: int) -> dict[str, Any]:
        """Check the run's export, mark it complete, point `LATEST` at it, prune old ones.

        Raises:
            IncompleteExportError: If a promised file is missing or truncated.
        """
        return export_runs.complete_export(resolve(self.folder), run_id, keep_runs)
