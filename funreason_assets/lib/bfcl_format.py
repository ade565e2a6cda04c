"""The BFCL export: evaluation files in bfcl-eval's format, and the check they must pass.

BFCL format (what bfcl-eval reads): one JSON object per line with `id`, `question` (a list of
turns, each a list of messages), `initial_config`, `involved_classes`, `path` and, for the
missing-function category, `missed_function` ({turn index: [functions added at that turn]});
a possible-answer file per category with `ground_truth`: per turn, a list of call strings.

bfcl-eval's checker replays each entry once per run, during curation (`lib/curation.py`), which
keeps the digest of the entry it accepted on the curated dialogue; the export writes the same
entries again and its check compares every written entry with the digest the checker accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from funreason_assets.lib.atomic import atomic_writer
from funreason_assets.lib.checks import CheckSpec, PhaseResult, Verdict
from funreason_assets.lib.digests import canonical_digest
from funreason_assets.lib.records import VerifiedDialogue
from funreason_assets.lib.registry import ToolRegistry

BFCL_CHECK = CheckSpec(
    "bfcl_checker_accepts_every_item",
    "Every exported item equals, by digest, the item bfcl-eval's multi_turn_checker accepted "
    "(answered with its own ground truth) during curation.",
)
BFCL_CHECKS = (BFCL_CHECK,)

BFCL_CATEGORIES = {
    "base": "multi_turn_base",
    "missing_parameter": "multi_turn_miss_param",
    "missing_function": "multi_turn_miss_func",
    "long_context": "multi_turn_long_context",
}

# Question and answer entries per category, in the order they are numbered and written.
EntriesByCategory = Mapping[str, Sequence[tuple[dict[str, Any], dict[str, Any]]]]


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


def _bfcl_turns(dialogue: VerifiedDialogue) -> tuple[list[list[dict[str, str]]], list[list[str]],
                                                     dict[str, list[str]]]:
    questions: list[list[dict[str, str]]] = []
    answers: list[list[str]] = []
    missed: dict[str, list[str]] = {}
    hidden_next: list[str] = []
    for turn in dialogue.turns:
        if hidden_next and turn.mode == "act":
            # BFCL adds a withheld function back at a turn with no new user message.
            missed[str(len(questions))] = hidden_next
            questions.append([])
            hidden_next = []
        else:
            questions.append([{"role": "user", "content": turn.user}])
        answers.append(list(turn.ground_truth))
        if turn.mode == "decline":
            hidden_next = list(turn.tools_hidden)
    return questions, answers, missed


def bfcl_entries(
    dialogues: Sequence[VerifiedDialogue], registry: ToolRegistry
) -> tuple[dict[str, list[tuple[dict[str, Any], dict[str, Any]]]], dict[str, str], list[str]]:
    """Question and answer entries per BFCL category, the id map, and skipped dialogue ids.

    A missing-function dialogue whose withheld function was already used before it is
    withheld cannot be expressed in BFCL's format (a function is missing from the start until
    it is added) and is skipped.
    """
    per_category: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    id_map: dict[str, str] = {}
    skipped: list[str] = []
    for dialogue in dialogues:
        category = dialogue_category(dialogue)
        questions, answers, missed = _bfcl_turns(dialogue)
        if missed:
            added_at = min(int(index) for index in missed)
            withheld = {name for names in missed.values() for name in names}
            used_before = {
                call.split("(", 1)[0] for calls in answers[:added_at] for call in calls
            }
            if withheld & used_before:
                skipped.append(dialogue.dialogue_id)
                continue
        entries = per_category.setdefault(category, [])
        entry_id = f"{category}_{len(entries)}"
        id_map[dialogue.dialogue_id] = entry_id
        path = []
        for calls in answers:
            for call in calls:
                name = call.split("(", 1)[0]
                owner = registry.owner(name) or "?"
                if f"{owner}.{name}" not in path:
                    path.append(f"{owner}.{name}")
        question: dict[str, Any] = {
            "id": entry_id,
            "question": questions,
            "initial_config": dialogue.initial_config,
            "involved_classes": list(dialogue.involved_classes),
            "path": path,
        }
        if missed:
            question["missed_function"] = missed
        entries.append((question, {"id": entry_id, "ground_truth": answers}))
    return per_category, id_map, skipped


def bfcl_file_name(category: str) -> str:
    """The file name bfcl-eval uses for a category."""
    return f"BFCL_v4_{category}.json"


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSON lines (non-ASCII kept), atomically; returns the number of rows."""
    count = 0
    with atomic_writer(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every row of a JSONL file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_bfcl(folder: Path, per_category: EntriesByCategory) -> dict[str, str]:
    """Write question and possible-answer files; returns file paths per category."""
    (folder / "possible_answer").mkdir(parents=True, exist_ok=True)
    written = {}
    for category, pairs in sorted(per_category.items()):
        name = bfcl_file_name(category)
        write_jsonl(folder / name, (question for question, _ in pairs))
        write_jsonl(folder / "possible_answer" / name, (answer for _, answer in pairs))
        written[category] = str(folder / name)
    return written


def entry_digest(question: Mapping[str, Any], answer: Mapping[str, Any] | None) -> str:
    """Identity of one BFCL entry: its question and possible answer, without its position.

    An entry id is `<category>_<position>`; the position depends on which dialogues precede it
    in the file (curation replays before its rejects are removed), and bfcl-eval uses it only
    to name the entry's instances, so the digest keeps the category and drops the position.
    """
    canonical = {
        "category": str(question.get("id", "")).rsplit("_", 1)[0],
        "question": {key: value for key, value in question.items() if key != "id"},
        "answer": None if answer is None else {
            key: value for key, value in answer.items() if key != "id"
        },
    }
    return canonical_digest(canonical)


def written_digests(folder: Path) -> dict[str, str]:
    """Entry id -> `entry_digest` of every entry as written in a BFCL folder, read back."""
    digests = {}
    for question_file in sorted(folder.glob(bfcl_file_name("*"))):
        answer_file = folder / "possible_answer" / question_file.name
        answers = {row.get("id"): row for row in read_jsonl(answer_file)}
        for question in read_jsonl(question_file):
            digests[question["id"]] = entry_digest(question, answers.get(question["id"]))
    return digests


def judge_bfcl_export(
    folder: Path, id_map: Mapping[str, str], dialogues: Sequence[VerifiedDialogue]
) -> Verdict:
    """Every written entry must carry exactly the content the checker accepted in curation."""
    accepted = {d.dialogue_id: d.bfcl_entry_digest for d in dialogues}
    by_entry = {entry_id: dialogue_id for dialogue_id, entry_id in id_map.items()}
    written = written_digests(folder)
    matching = {
        entry_id for entry_id, digest in written.items()
        if entry_id in by_entry and accepted.get(by_entry[entry_id]) == digest
    }
    # An entry the id map names but no file holds is as wrong as a changed one.
    mismatching = sorted((set(written) | set(by_entry)) - matching)
    matched = len(matching)
    return BFCL_CHECK.verdict(
        not mismatching and matched == len(id_map),
        entries=len(written),
        matched=matched,
        mismatching=mismatching[:20],
    )


def export_bfcl(
    dialogues: Sequence[VerifiedDialogue], registry: ToolRegistry, folder: Path
) -> PhaseResult[dict[str, Any]]:
    """Write the BFCL files of the curated dialogues under `folder`, and judge them."""
    per_category, id_map, skipped = bfcl_entries(dialogues, registry)
    files = write_bfcl(folder, per_category)
    counts = {category: len(pairs) for category, pairs in per_category.items()}
    verdict = judge_bfcl_export(folder, id_map, dialogues)
    return PhaseResult(
        value={"folder": str(folder), "files": files, "entries": counts, "id_map": id_map,
               "skipped_unexpressible": skipped},
        verdicts=[verdict],
        metrics={"entries": counts, "dagster/row_count": verdict.metadata["entries"],
                 "skipped_unexpressible": len(skipped)},
    )


def bfcl_manifest(result: PhaseResult[dict[str, Any]]) -> dict[str, Any]:
    """The run manifest's BFCL part: entries, files, the id map and the checker's count."""
    summary, verdict = result.value, result.verdict(BFCL_CHECK.name)
    return {
        "entries": summary["entries"], "files": summary["files"], "id_map": summary["id_map"],
        "checker": {"entries": verdict.metadata["entries"], "passed": verdict.metadata["matched"]},
    }
