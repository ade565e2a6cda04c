"""Content digests: the one definition of how a JSON-able value becomes a stable hash.

Ids, state digests, config fingerprints, cache keys and duplicate fingerprints all hash the
canonical JSON of a value (sorted keys, compact separators, `str` for anything else), so equal
content always gets an equal digest, whatever the order in which a mapping was built.
Seeds and task keys hash an ordered tuple of parts instead (`parts_digest`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a value: sorted keys, compact, `str` for unknown types."""
    return _CANONICAL.encode(value)


def text_digest(text: str, length: int = 64) -> str:
    """sha256 of a text, as the first `length` hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def canonical_digest(value: Any, length: int = 64) -> str:
    """sha256 of a value's canonical JSON, as the first `length` hex digits."""
    return text_digest(canonical_json(value), length)


def parts_digest(*parts: Any) -> bytes:
    """sha256 of an ordered tuple of parts (positions matter; `str` for unknown types)."""
    return hashlib.sha256(json.dumps(parts, default=str).encode("utf-8")).digest()
