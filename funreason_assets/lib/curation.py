"""Curation: the filters between verified dialogues and the exported datasets.

Filters, in order, each counted per rule (`CURATION_RULES`):
1. reasoning leakage: kept reasoning that mentions the advanced tool, hints, critiques or a
   previous attempt;
2. length bounds on user turns and reasoning;
3. decontamination against BFCL's multi-turn test data (`BfclTestIndex`): user turns by word
   n-gram overlap with any BFCL question, initial configs (per class) by fingerprint, and call
   paths (the tool sequence per turn) by fingerprint;
4. exact duplicates: the same calls and arguments as an earlier dialogue;
5. near duplicates of the queries: MinHash LSH (datasketch) over word shingles of the user
   turns, Jaccard threshold from config;
6. bfcl-eval's own checker: the BFCL entries are replayed once, here, and the kept dialogues
   it rejects on their own ground truth are dropped. Each kept dialogue remembers the digest
   of the entry the checker accepted, which the BFCL export checks its files against. The
   checker (a child process) replays every verified dialogue while the filters above run in
   this one: a verdict and a digest do not depend on which other entries were replayed.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.bfcl_check import run_checker
from funreason_assets.lib.bfcl_format import (
    bfcl_entries,
    dialogue_category,
    write_bfcl,
    written_digests,
)
from funreason_assets.lib.checks import CheckSpec, PhaseResult, Verdict
from funreason_assets.lib.digests import canonical_digest
from funreason_assets.lib.expectations import Expectation, validate_frame
from funreason_assets.lib.reasoning import LEAKAGE, assemble_dialogue
from funreason_assets.lib.records import DialoguePlan, ReasoningChain, VerifiedDialogue
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenarios.contamination import BfclTestIndex, call_path, ngrams, words

# The filters in the order they are applied; a dropped dialogue counts under the first it breaks.
FILTER_RULES = (
    "reasoning_leakage", "length_bounds", "bfcl_query_overlap", "bfcl_config_match",
    "bfcl_call_path_match", "exact_duplicate", "near_duplicate",
)
CHECKER_REJECTS = "bfcl_checker_rejects"
CURATION_RULES = (*FILTER_RULES, CHECKER_REJECTS)

CURATED_EXPECTATIONS_CHECK = CheckSpec(
    "curated_expectations",
    "Great Expectations: ids unique, turn counts in range, variants from the allowed set, no "
    "empty reasoning or reply.",
    blocking=True,
)
CURATION_CHECKS = (CURATED_EXPECTATIONS_CHECK,)
_FRAME_COLUMNS = [
    "dialogue_id", "turns", "category", "min_reasoning_chars", "min_reply_chars", "variants",
]

# Runs bfcl-eval's checker over a BFCL folder and returns its per-category summary.
Checker = Callable[[Path], Mapping[str, Any]]


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


def verified_dialogues(
    plans: Sequence[DialoguePlan], chains: Sequence[ReasoningChain], min_rounds: int
) -> list[VerifiedDialogue]:
    """Every plan's verified prefix long enough to be a dialogue: what curation considers."""
    return [
        dialogue
        for plan in plans
        if (dialogue := assemble_dialogue(plan, chains, min_rounds)) is not None
    ]


def calls_fingerprint(dialogue: VerifiedDialogue) -> str:
    """Identity of a dialogue's calls and arguments (exact duplicates share it)."""
    calls = [[c for step in turn.steps for c in step.calls] for turn in dialogue.turns]
    return canonical_digest({"config": dialogue.initial_config, "calls": calls})


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
    index: BfclTestIndex,
    progress: Callable[[int, int], None] | None = None,
) -> CurationResult:
    """Apply every filter; the first rule a dialogue breaks is the one it is counted under.

    `progress(done, total)` is called after each dialogue.
    """
    from datasketch import MinHash, MinHashLSH

    dropped: dict[str, list[str]] = {rule: [] for rule in FILTER_RULES}
    kept: list[VerifiedDialogue] = []
    seen_calls: set[str] = set()
    lsh = MinHashLSH(threshold=config.near_duplicate_threshold, num_perm=config.num_perm)
    for done, dialogue in enumerate(dialogues, 1):
        rule = _first_broken_rule(dialogue, config, index)
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
        if progress is not None:
            progress(done, len(dialogues))
    return CurationResult(kept=kept, dropped=dropped, considered=len(dialogues))


def _first_broken_rule(
    dialogue: VerifiedDialogue, config: CurationConfig, index: BfclTestIndex
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
        index.query_overlap(turn.user, config.ngram) >= config.max_ngram_overlap
        for turn in dialogue.turns
    ):
        return "bfcl_query_overlap"
    for name, class_config in dialogue.initial_config.items():
        if index.config_matches(name, class_config):
            return "bfcl_config_match"
    if call_path(turn.ground_truth for turn in dialogue.turns) in index.call_paths:
        return "bfcl_call_path_match"
    return None


@dataclass
class BfclReplay:
    """What bfcl-eval's checker made of the BFCL entries of a set of dialogues.

    Attributes:
        accepted: Dialogue id -> digest of the entry the checker accepted (`entry_digest`).
        rejected: Dialogue id -> the checker's reason, for entries it rejected.
        unexpressible: Dialogues BFCL's format cannot express (kept for training).
    """

    accepted: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    unexpressible: list[str] = field(default_factory=list)


def replay_in_bfcl(
    dialogues: Sequence[VerifiedDialogue], registry: ToolRegistry, checker: Checker = run_checker
) -> BfclReplay:
    """Write the dialogues' BFCL entries to a scratch folder and replay each one in bfcl-eval.

    An entry counts as accepted only when its category was checked and the checker did not
    fail it; its digest is taken from the files the checker read.
    """
    per_category, id_map, skipped = bfcl_entries(dialogues, registry)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_bfcl(folder, per_category)
        summary = checker(folder)
        digests = written_digests(folder)
    failures = {
        failure["id"]: str(failure.get("error"))
        for checked in summary.values() for failure in checked["failures"]
    }
    replay = BfclReplay(unexpressible=list(skipped))
    for dialogue_id, entry_id in id_map.items():
        category = entry_id.rsplit("_", 1)[0]
        if category not in summary:
            replay.rejected[dialogue_id] = "category not checked"
        elif entry_id in failures:
            replay.rejected[dialogue_id] = failures[entry_id]
        else:
            replay.accepted[dialogue_id] = digests[entry_id]
    return replay


def curated_frame(dialogues: Sequence[VerifiedDialogue]) -> pd.DataFrame:
    """One flat row per dialogue, for the Great Expectations suite and the preview."""
    return pd.DataFrame(
        [
            {
                "dialogue_id": d.dialogue_id,
                "turns": len(d.turns),
                "category": dialogue_category(d),
                "min_reasoning_chars": min(len(t.reasoning) for t in d.turns),
                "min_reply_chars": min(len(t.reply) for t in d.turns),
                "variants": ",".join(sorted({t.variant for t in d.turns})),
            }
            for d in dialogues
        ],
        columns=_FRAME_COLUMNS,
    )


def judge_curated(
    dialogues: Sequence[VerifiedDialogue],
    config: CurationConfig,
    allowed_variants: Sequence[str],
) -> Verdict:
    """The Great Expectations suites over the curated dialogues and their turns."""
    frame = curated_frame(dialogues)
    suite = validate_frame(frame, "curated_dialogues", [
        Expectation("ExpectColumnValuesToBeUnique", {"column": "dialogue_id"}),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "dialogue_id"}),
        Expectation("ExpectColumnValuesToBeBetween", {
            "column": "turns", "min_value": config.min_turns, "max_value": config.max_turns}),
        Expectation("ExpectColumnValuesToBeBetween", {
            "column": "min_reasoning_chars", "min_value": 1}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "min_reply_chars", "min_value": 1}),
    ])
    variant_rows = pd.DataFrame(
        [{"variant": turn.variant} for d in dialogues for turn in d.turns], columns=["variant"]
    )
    variant_suite = validate_frame(variant_rows, "curated_turn_variants", [
        Expectation("ExpectColumnValuesToBeInSet", {
            "column": "variant", "value_set": list(allowed_variants)}),
    ])
    failed = [
        {"expectation": o.kind, "column": o.column, "unexpected": o.unexpected_count}
        for o in [*suite.outcomes, *variant_suite.outcomes] if not o.success
    ]
    return CURATED_EXPECTATIONS_CHECK.verdict(
        suite.success and variant_suite.success, rows=len(frame), failed_expectations=failed
    )


def curate_dialogues(
    dialogues: Sequence[VerifiedDialogue],
    registry: ToolRegistry,
    config: CurationConfig,
    allowed_variants: Sequence[str],
    checker: Checker = run_checker,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseResult[list[VerifiedDialogue]]:
    """Every filter and bfcl-eval's replay; kept dialogues carry their accepted entry digest.

    bfcl-eval's checker is the authority on what it can replay: items it rejects on their own
    ground truth are dropped here and counted, so the export can demand that every item it
    writes is one the checker accepted. It replays every verified dialogue, in a thread that
    waits on its child process, while the filters run; what it made of the dialogues the
    filters dropped is not used.
    """
    with ThreadPoolExecutor(max_workers=1) as background:
        replaying = background.submit(replay_in_bfcl, dialogues, registry, checker)
        result = curate(dialogues, config, BfclTestIndex.load(), progress)
        replay = replaying.result()
    filtered = {d.dialogue_id for d in result.kept}
    rejected = sorted(set(replay.rejected) & filtered)
    kept = [
        d.model_copy(update={"bfcl_entry_digest": replay.accepted.get(d.dialogue_id)})
        for d in result.kept
        if d.dialogue_id not in replay.rejected
    ]
    frame = curated_frame(kept)
    return PhaseResult(
        value=kept,
        verdicts=[judge_curated(kept, config, allowed_variants)],
        metrics={
            "verified_dialogues": len(dialogues),
            "drops_per_rule": {**result.counts(), CHECKER_REJECTS: len(rejected)},
            "rejected_by_bfcl_checker": rejected[:20],
            # Kept for training; BFCL's format cannot express them (see bfcl_entries).
            "not_expressible_in_bfcl": len(filtered.intersection(replay.unexpressible)),
            "categories": dict(Counter(dialogue_category(d) for d in kept)),
            "turn_variants": dict(Counter(turn.variant for d in kept for turn in d.turns)),
        },
        tables={"preview": frame.head(10).to_dict("records")},
    )


def drops_per_rule(
    verified: Sequence[VerifiedDialogue],
    curated: Sequence[VerifiedDialogue],
    config: CurationConfig,
) -> dict[str, int]:
    """Curation's drops per rule, recomputed from its input and its output.

    The filters are deterministic, so running them again over the verified dialogues gives
    the same drops; what they kept but the curated set lacks, bfcl-eval's checker rejected.
    """
    result = curate(verified, config, BfclTestIndex.load())
    curated_ids = {d.dialogue_id for d in curated}
    rejected = sum(1 for d in result.kept if d.dialogue_id not in curated_ids)
    return {**result.counts(), CHECKER_REJECTS: rejected}
