"""Decontamination index of BFCL's multi-turn test data (shipped inside bfcl-eval).

The synthesized data trains models that BFCL then evaluates, so no generated initial config
(per class) or notable content string may equal one of BFCL's test entries.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar

from funreason_assets.lib.scenarios.generators import Scenario, config_fingerprint

# Content strings shorter than this are common words and names, not test content.
MIN_CONTENT_LENGTH = 20


def _content_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if len(value) >= MIN_CONTENT_LENGTH:
            yield value.strip()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _content_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _content_strings(item)


def bfcl_multi_turn_entries() -> list[dict[str, Any]]:
    """Every multi-turn test entry shipped in bfcl-eval (all four categories)."""
    import funreason_assets  # noqa: F401  (bfcl-eval settings)

    data = resources.files("bfcl_eval") / "data"
    entries = []
    for item in sorted(data.iterdir(), key=lambda path: path.name):
        if "multi_turn" in item.name and item.name.endswith(".json"):
            entries.extend(
                json.loads(line)
                for line in item.read_text(encoding="utf-8").splitlines()
                if line.strip()
            )
    return entries


@dataclass
class BfclTestIndex:
    """Fingerprints of BFCL test configs per class and of their content strings."""

    config_fingerprints: dict[str, set[str]] = field(default_factory=dict)
    contents: set[str] = field(default_factory=set)
    entries: int = 0

    _cached: ClassVar[BfclTestIndex | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(cls) -> BfclTestIndex:
        """Build (once per process) the index from the test files bfcl-eval ships."""
        with cls._lock:
            if cls._cached is None:
                index = cls()
                for entry in bfcl_multi_turn_entries():
                    index.entries += 1
                    for class_name, config in entry.get("initial_config", {}).items():
                        index.config_fingerprints.setdefault(class_name, set()).add(
                            config_fingerprint(config)
                        )
                        index.contents.update(_content_strings(config))
                cls._cached = index
            return cls._cached

    def size(self) -> int:
        """Number of test entries indexed."""
        return self.entries

    def config_overlaps(self, scenario: Scenario) -> list[str]:
        """What a scenario shares with the test set (empty when clean)."""
        found = []
        for class_name, config in scenario.initial_config.items():
            if config_fingerprint(config) in self.config_fingerprints.get(class_name, set()):
                found.append(f"{class_name}: initial config equals a BFCL test config")
            found.extend(
                f"{class_name}: content {text[:40]!r} appears in BFCL tests"
                for text in _content_strings(config)
                if text in self.contents
            )
        return found
