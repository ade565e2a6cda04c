"""Curation: the filters between verified dialogues and the exported datasets.

Filters, in order, each counted per rule:
1. reasoning leakage: kept reasoning that mentions the advanced tool, hints, critiques or a
   previous attempt;
2. length bounds on user turns and reasoning;
3. decontamination against BFCL's multi-turn test data shipped in bfcl-eval: user turns by
   word n-gram overlap with any BFCL question, initial configs (per class) by fingerprint,
   and call paths (the tool sequence per turn) by fingerprint;
4. exact duplicates: the same calls and arguments as an earlier dialogue;
5. near duplicates of the queries: MinHash LSH (datasketch) over word shingles of the user
   turns, Jaccard threshold from config.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.reasoning import LEAKAGE
from funreason_assets.lib.records import VerifiedDialogue
from funreason_assets.lib.scenarios.contamination import bfcl_multi_turn_entries
from funreason_assets.lib.scenarios.generators import config_fingerprint

BFCL_CATEGORIES = {
    "base": "multi_turn_base",
    "missing_parameter": "multi_turn_miss_param",
    "missing_function": "multi_turn_miss_func",
    "long_context": "multi_turn_long_context",
}
_WORD = re.compile(r"[a-z0-9]+")


class CurationConfig(BaseModel):
    """Thresholds of the curation filters."""

    model_config = ConfigDict(extra="forbid")

    ngram: int = Field(8, ge=3, description="word n-gram length for query decontamination")
    max_ngram_overlap: float = Field(
        0.5, ge=0, le=1, description="drop a turn sharing this share of its n-grams with BFCL"
    )
    near_duplicate_threshold: float = Field(
        0.85, gt=0, le=1, description="MinHash Jaccard above which queries are near duplicates"
    )
    num_perm: int = Field(128, ge=16, description="MinHash permutations")
    min_query_chars: int = Field(12, ge=1)
    max_query_chars: int = Field(2000, ge=1)
    min_reasoning_chars: int = Field(10, ge=0)
    max_reasoning_chars: int = Field(6000, ge=1)
    min_turns: int = Field(2, ge=1)
    max_turns: int = Field(12, ge=1)


def words(text: str) -> list[str]:
    """Lower-case word tokens."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Word n-grams of a token list."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def dialogue_category(dialogue: VerifiedDialogue) -> str:
    """The BFCL category a dialogue belongs to."""
    variants = {turn.variant for turn in dialogue.turns}
    if "missing_function" in variants:
        return BFCL_CATEGORIES["missing_function"]
    if "missing_parameter" in variants:
        return BFCL_CATEGORIES["missing_parameter"]
    if dialogue.long_context:
        return BFCL_CATEGORIES["long_context"]
    return BFCL_CATEGORIES["base"]


def call_path(turn_calls: Iterable[Sequence[str]]) -> str:
    """Fingerprint of the tool-name sequence per turn."""
    names = [[call.split("(", 1)[0].strip() for call in calls] for calls in turn_calls]
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()


def calls_fingerprint(dialogue: VerifiedDialogue) -> str:
    """Identity of a dialogue's calls and arguments (exact duplicates share it)."""
    calls = [[c for step in turn.steps for c in step.calls] for turn in dialogue.turns]
    canonical = json.dumps(
        {"config": dialogue.initial_config, "calls": calls}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class BfclContamination:
    """What BFCL's multi-turn tests contain: question n-grams, configs and call paths."""

    n: int
    question_ngrams: set[tuple[str, ...]] = field(default_factory=set)
    configs: dict[str, set[str]] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)
    entries: int = 0

    @classmethod
    def load(cls, n: int) -> BfclContamination:
        """Index every multi-turn entry and possible answer bfcl-eval ships."""
        index = cls(n)
        for entry in bfcl_multi_turn_entries():
            index.entries += 1
            for turn in entry.get("question", []):
                for message in turn:
                    if message.get("role") == "user":
                        index.question_ngrams |= ngrams(words(message.get("content", "")), n)
            for name, config in entry.get("initial_config", {}).items():
                index.configs.setdefault(name, set()).add(config_fingerprint(config))
        answers = resources.files("bfcl_eval") / "data" / "possible_answer"
        for item in answers.iterdir():
            if "multi_turn" in item.name and item.name.endswith(".json"):
                for line in item.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        index.paths.add(call_path(json.loads(line)["ground_truth"]))
        return index

    def query_overlap(self, text: str) -> float:
        """Share of a text's n-grams found in BFCL questions."""
        grams = ngrams(words(text), self.n)
        return len(grams & self.question_ngrams) / len(grams) if grams else 0.0


@dataclass
class CurationResult:
    """Kept dialogues and what each filter removed."""

    kept: list[VerifiedDialogue]
    dropped: dict[str, list[str]]
    considered: int

    def counts(self) -> dict[str, int]:
        """Drops per rule."""
        return {rule: len(ids) for rule, ids in self.dropped.items()}


def curate(
    dialogues: Sequence[VerifiedDialogue],
    config: CurationConfig,
    contamination: BfclContamination,
) -> CurationResult:
    """Apply every filter; the first rule a dialogue breaks is the one it is counted under."""
    from datasketch import MinHash, MinHashLSH

    dropped: dict[str, list[str]] = {
        rule: []
        for rule in (
            "reasoning_leakage", "length_bounds", "bfcl_query_overlap", "bfcl_config_match",
            "bfcl_call_path_match", "exact_duplicate", "near_duplicate",
        )
    }
    kept: list[VerifiedDialogue] = []
    seen_calls: set[str] = set()
    lsh = MinHashLSH(threshold=config.near_duplicate_threshold, num_perm=config.num_perm)
    for dialogue in dialogues:
        rule = _first_broken_rule(dialogue, config, contamination)
        if rule is None:
            fingerprint = calls_fingerprint(dialogue)
            if fingerprint in seen_calls:
                rule = "exact_duplicate"
            else:
                signature = MinHash(num_perm=config.num_perm, seed=1)
                shingles = ngrams(words(" ".join(t.user for t in dialogue.turns)), 3)
                for shingle in shingles or {("",)}:
                    signature.update(" ".join(shingle).encode())
                if lsh.query(signature):
                    rule = "near_duplicate"
                else:
                    lsh.insert(dialogue.dialogue_id, signature)
                    seen_calls.add(fingerprint)
        if rule is None:
            kept.append(dialogue)
        else:
            dropped[rule].append(dialogue.dialogue_id)
    return CurationResult(kept=kept, dropped=dropped, considered=len(dialogues))


def _first_broken_rule(
    dialogue: VerifiedDialogue, config: CurationConfig, contamination: BfclContamination
) -> str | None:
    if any(LEAKAGE.search(turn.reasoning) for turn in dialogue.turns):
        return "reasoning_leakage"
    if not config.min_turns <= len(dialogue.turns) <= config.max_turns:
        return "length_bounds"
    for turn in dialogue.turns:
        if not config.min_query_chars <= len(turn.user) <= config.max_query_chars:
            return "length_bounds"
        if not config.min_reasoning_chars <= len(turn.reasoning) <= config.max_reasoning_chars:
            return "length_bounds"
    if any(
        contamination.query_overlap(turn.user) >= config.max_ngram_overlap
        for turn in dialogue.turns
    ):
        return "bfcl_query_overlap"
    for name, class_config in dialogue.initial_config.items():
        if config_fingerprint(class_config) in contamination.configs.get(name, set()):
            return "bfcl_config_match"
    if call_path(turn.ground_truth for turn in dialogue.turns) in contamination.paths:
        return "bfcl_call_path_match"
    return None


def curated_frame_rows(dialogues: Sequence[VerifiedDialogue]) -> list[dict[str, Any]]:
    """One flat row per dialogue for the Great Expectations suite."""
    return [
        {
            "dialogue_id": d.dialogue_id,
            "turns": len(d.turns),
            "category": dialogue_category(d),
            "min_reasoning_chars": min(len(t.reasoning) for t in d.turns),
            "min_reply_chars": min(len(t.reply) for t in d.turns),
            "variants": ",".join(sorted({t.variant for t in d.turns})),
        }
        for d in dialogues
    ]


def variant_counts(dialogues: Sequence[VerifiedDialogue]) -> dict[str, int]:
    """Turns per variant."""
    return dict(Counter(turn.variant for d in dialogues for turn in d.turns))
