"""A content-addressed on-disk cache of model completions.

The key is the sha256 of everything that determines a completion: the model string, the
rendered messages, the sampling parameters, the tools, the response schema and the prompt
version. A rerun or a resumed backfill therefore makes no call it already made. Entries are
JSON files written atomically (temp file + rename), so concurrent writers in several processes
or on several machines sharing the folder never leave a torn entry; two writers of the same
key write the same content. Entries get the permissions of a plain file (not a temp file's
owner-only ones), so workers running as other users on a shared folder can read them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from funreason_assets.lib.atomic import atomic_write_text
from funreason_assets.lib.digests import canonical_digest


def cache_key(fields: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the fields that determine a completion."""
    return canonical_digest(fields)


class CompletionCache:
    """Completions stored as `<root>/<key[:2]>/<key>.json`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None when absent or unreadable (a bad entry is a miss)."""
        try:
            with self._path(key).open(encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        """Store an entry atomically."""
        # Not fsynced: an entry lost to a power cut is a miss, and the call is made again.
        text = json.dumps({**entry, "key": key}, ensure_ascii=False)
        atomic_write_text(self._path(key), text, durable=False)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("??/*.json")) if self.root.exists() else 0
