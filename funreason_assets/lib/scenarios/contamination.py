"""The one index of BFCL's multi-turn test data (shipped inside bfcl-eval).

The synthesized data trains models that BFCL then evaluates, so two phases compare against the
test set, both through `BfclTestIndex`: scenario seeds (no generated initial config, per class,
or notable content string may equal a test entry's) and curation (user turns by word n-gram
overlap with any test question, initial configs per class, and call paths: the tool sequence
per turn of a possible answer).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar

from funreason_assets.lib.digests import canonical_digest
from funreason_assets.lib.scenarios.generators import Scenario, config_fingerprint

# Content strings shorter than this are common words and names, not test content.
MIN_CONTENT_LENGTH = 20
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case word tokens."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Word n-grams of a token list."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def call_path(turn_calls: Iterable[Sequence[str]]) -> str:
    """Fingerprint of the tool-name sequence per turn."""
    names = [[call.split("(", 1)[0].strip() for call in calls] for calls in turn_calls]
    return canonical_digest(names)


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


def _multi_turn_rows(folder: Any) -> Iterator[dict[str, Any]]:
    """Every row of the multi-turn JSONL files of one bfcl-eval data folder, by file name."""
    for item in sorted(folder.iterdir(), key=lambda path: path.name):
        if "multi_turn" in item.name and item.name.endswith(".json"):
            for line in item.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    yield json.loads(line)


def bfcl_multi_turn_entries() -> list[dict[str, Any]]:
    """Every multi-turn test entry shipped in bfcl-eval (all four categories)."""
    import funreason_assets  # noqa: F401  (bfcl-eval settings)

    return list(_multi_turn_rows(resources.files("bfcl_eval") / "data"))


@dataclass
class BfclTestIndex:
    """What BFCL's multi-turn tests contain: configs, content strings, questions, call paths.

    Attributes:
        config_fingerprints: Per class, the fingerprints of the test entries' initial configs.
        contents: Content strings of the test configs (at least `MIN_CONTENT_LENGTH` long).
        user_turns: The word tokens of every user message of every test question.
        call_paths: `call_path` of every possible answer's ground truth.
        entries: Number of test entries indexed.
    """

    config_fingerprints: dict[str, set[str]] = field(default_factory=dict)
    contents: set[str] = field(default_factory=set)
    user_turns: list[list[str]] = field(default_factory=list)
    call_paths: set[str] = field(default_factory=set)
    entries: int = 0
    _question_ngrams: dict[int, set[tuple[str, ...]]] = field(
        default_factory=dict, repr=False
    )

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
                    for turn in entry.get("question", []):
                        index.user_turns.extend(
                            words(message.get("content", ""))
                            for message in turn
                            if message.get("role") == "user"
                        )
                    for class_name, config in entry.get("initial_config", {}).items():
                        index.config_fingerprints.setdefault(class_name, set()).add(
                            config_fingerprint(config)
                        )
                        index.contents.update(_content_strings(config))
                answers = resources.files("bfcl_eval") / "data" / "possible_answer"
                index.call_paths = {
                    call_path(row["ground_truth"]) for row in _multi_turn_rows(answers)
                }
                cls._cached = index
            return cls._cached

    def size(self) -> int:
        """Number of test entries indexed."""
        return self.entries

    def config_matches(self, class_name: str, config: Any) -> bool:
        """Whether one class's initial config equals a test entry's config of that class."""
        return config_fingerprint(config) in self.config_fingerprints.get(class_name, set())

    def config_overlaps(self, scenario: Scenario) -> list[str]:
        """What a scenario shares with the test set (empty when clean)."""
        found = []
        for class_name, config in scenario.initial_config.items():
            if self.config_matches(class_name, config):
                found.append(f"{class_name}: initial config equals a BFCL test config")
            found.extend(
                f"{class_name}: content {text[:40]!r} appears in BFCL tests"
                for text in _content_strings(config)
                if text in self.contents
            )
        return found

    def question_ngrams(self, n: int) -> set[tuple[str, ...]]:
        """Word n-grams of every user message of the test questions (computed once per n)."""
        with self._lock:
            if n not in self._question_ngrams:
                grams: set[tuple[str, ...]] = set()
                for tokens in self.user_turns:
                    grams |= ngrams(tokens, n)
                self._question_ngrams[n] = grams
            return self._question_ngrams[n]

    def query_overlap(self, text: str, n: int) -> float:
        """Share of a text's word n-grams found in the test questions."""
        grams = ngrams(words(text), n)
        return len(grams & self.question_ngrams(n)) / len(grams) if grams else 0.0
