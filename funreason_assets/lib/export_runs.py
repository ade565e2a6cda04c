"""A run's export folder: when it is complete, which folder `LATEST` names, which ones to keep.

Exports go to `<base>/<run id>/` (`bfcl/`, `sft/`, `report/`, `manifest.json`). A folder is
complete once its last step has checked every file the manifest promises and written
`COMPLETE.json` (rows and sha256 of every file); only then does `<base>/LATEST` move to it.
A run killed or failing half-way therefore leaves `LATEST` on the previous complete export.

Retention (`prune_exports`), after each completed export:
- complete folders beyond the newest `keep_runs` are deleted (the one `LATEST` names counts
  among them and is never deleted);
- a folder without `COMPLETE.json` (an export that was killed or failed) is deleted once
  nothing in it has changed for a day, so an export still being written is never touched;
- only folders named like a Dagster run id are ever deleted; anything else is left alone.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from funreason_assets.lib.atomic import TEMP_SUFFIX, atomic_write_text

LATEST_FILE = "LATEST"
COMPLETE_FILE = "COMPLETE.json"
MANIFEST_FILE = "manifest.json"
REQUIRED_SECTIONS = ("bfcl", "sft", "report")
ABANDONED_AFTER_SECONDS = 24 * 3600
RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class IncompleteExportError(ValueError):
    """An export folder misses a file or holds one that is truncated (the message names it)."""


def file_rows(path: Path) -> int | None:
    """Rows of a data file (JSON lines, a JSON document, Parquet); None for other files.

    Raises:
        IncompleteExportError: If the file does not parse (a truncated write, for example).
    """
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_metadata(path).num_rows
        except Exception as error:
            raise IncompleteExportError(f"{path}: not a readable Parquet file ({error})") from error
    if path.suffix not in (".json", ".jsonl"):
        return None
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        for line in lines:
            json.loads(line)
        return len(lines)
    except json.JSONDecodeError:
        pass
    # A pretty-printed document (the manifest) spans several lines.
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise IncompleteExportError(f"{path}: not valid JSON lines or JSON ({error})") from error
    return len(document) if isinstance(document, list) else 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def promised_rows(manifest: Mapping[str, Any]) -> dict[str, int | None]:
    """Every file the manifest promises (path in the run folder) -> its row count, if known."""
    promised: dict[str, int | None] = {}
    bfcl = manifest["bfcl"]
    for category, file in bfcl["files"].items():
        name = Path(file).name
        promised[f"bfcl/{name}"] = bfcl["entries"][category]
        promised[f"bfcl/possible_answer/{name}"] = bfcl["entries"][category]
    for name, rows in manifest["sft"]["files"].items():
        promised[f"sft/{name}"] = rows
    for file in manifest["report"].values():
        promised[f"report/{Path(file).name}"] = None
    return promised


def _export_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and path.name != COMPLETE_FILE and not path.name.endswith(TEMP_SUFFIX)
    )


def completion_marker(folder: Path, run_id: str) -> dict[str, Any]:
    """Check a run's export folder and describe every file in it (rows and sha256).

    Raises:
        IncompleteExportError: If the manifest lacks a section, or a promised file is missing,
            does not parse, or holds another number of rows than the manifest says.
    """
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise IncompleteExportError(f"{folder}: no {MANIFEST_FILE}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    missing = [section for section in REQUIRED_SECTIONS if section not in manifest]
    if missing:
        raise IncompleteExportError(f"{manifest_path}: no {', '.join(missing)} section")
    files: dict[str, dict[str, Any]] = {}
    for path in _export_files(folder):
        entry: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        rows = file_rows(path)
        if rows is not None:
            entry["rows"] = rows
        files[path.relative_to(folder).as_posix()] = entry
    for name, rows in promised_rows(manifest).items():
        if name not in files:
            raise IncompleteExportError(f"{folder / name}: promised by the manifest, not written")
        if rows is not None and files[name].get("rows") != rows:
            raise IncompleteExportError(
                f"{folder / name}: {files[name].get('rows')} rows, the manifest says {rows}"
            )
    now = time.time()
    return {
        "run_id": run_id,
        "completed_at": datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat(),
        "completed_unix": now,
        "files": files,
    }


def verify_complete(folder: Path) -> list[str]:
    """Files of a complete folder that differ from its `COMPLETE.json` (empty: all intact)."""
    marker = json.loads((folder / COMPLETE_FILE).read_text(encoding="utf-8"))
    problems = []
    for name, entry in marker["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{name}: sha256 differs")
    return problems


def latest_run(base: Path) -> str | None:
    """The run id `LATEST` names, or None."""
    latest = base / LATEST_FILE
    if not latest.is_file():
        return None
    return latest.read_text(encoding="utf-8").strip() or None


def is_complete(folder: Path) -> bool:
    """Whether a run folder carries its completion marker."""
    return (folder / COMPLETE_FILE).is_file()


def complete_export(base: Path, run_id: str, keep_runs: int) -> dict[str, Any]:
    """Check the run's folder, write `COMPLETE.json`, repoint `LATEST`, prune old folders.

    Returns:
        The marker's path, the files it lists, and the run folders retention removed.

    Raises:
        IncompleteExportError: If the folder is not a complete export (`LATEST` stays).
    """
    folder = base / run_id
    marker = completion_marker(folder, run_id)
    atomic_write_text(folder / COMPLETE_FILE, json.dumps(marker, indent=2, sort_keys=True))
    atomic_write_text(base / LATEST_FILE, run_id + "\n")
    return {
        "marker": str(folder / COMPLETE_FILE),
        "files": len(marker["files"]),
        "removed": prune_exports(base, keep_runs),
    }


def _last_change(folder: Path) -> float:
    return max(
        [folder.stat().st_mtime, *(path.stat().st_mtime for path in folder.rglob("*"))]
    )


def _completed_unix(folder: Path) -> float:
    try:
        marker = json.loads((folder / COMPLETE_FILE).read_text(encoding="utf-8"))
        return float(marker["completed_unix"])
    except (OSError, ValueError, KeyError, TypeError):
        return (folder / COMPLETE_FILE).stat().st_mtime


def prune_exports(base: Path, keep_runs: int, now: float | None = None) -> list[str]:
    """Delete old run folders (see the module docstring); returns the removed run ids."""
    now = time.time() if now is None else now
    latest = latest_run(base)
    complete: list[tuple[float, Path]] = []
    abandoned: list[Path] = []
    for folder in sorted(base.iterdir()):
        if folder.is_symlink() or not folder.is_dir() or not RUN_ID.match(folder.name):
            continue
        if folder.name == latest:
            continue
        if is_complete(folder):
            complete.append((_completed_unix(folder), folder))
        elif now - _last_change(folder) > ABANDONED_AFTER_SECONDS:
            abandoned.append(folder)
    kept_others = max(keep_runs - (1 if latest and is_complete(base / latest) else 0), 0)
    complete.sort(key=lambda item: item[0], reverse=True)
    removed = [folder for _, folder in complete[kept_others:]] + abandoned
    for folder in removed:
        # A file another process holds open must not stop the export that completed.
        shutil.rmtree(folder, ignore_errors=True)
    return sorted(folder.name for folder in removed if not folder.exists())
