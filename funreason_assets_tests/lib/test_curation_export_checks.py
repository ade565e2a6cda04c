"""The curation, export and report checks: each with a passing and a failing input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from funreason_assets.lib import bfcl_format, curation, report, training_formats
from funreason_assets.lib.curation import CurationConfig
from funreason_assets.lib.records import (
    VARIANTS,
    DialoguePlan,
    HardQuery,
    ReasonedTurn,
    StepRecord,
    VerifiedDialogue,
)

_REQUESTS = (
    ("Which folder am I working in at the moment?", "notes_for_april.txt"),
    ("Show me everything stored in my current directory, hidden files too.", "budget_q3.csv"),
)


def _dialogue(index: int) -> VerifiedDialogue:
    """A small two-turn file-system dialogue; each index asks differently on its own files."""
    request, file_name = _REQUESTS[index]
    calls = ["pwd()"] if index == 0 else ["ls(a=True)"]
    result: dict[str, Any] = (
        {"current_working_directory": "/alex"} if index == 0
        else {"current_directory_content": [file_name]}
    )

    def turn(round_index: int, user: str) -> ReasonedTurn:
        return ReasonedTurn(
            user=user,
            reasoning="The file system answers this directly, so one call is enough.",
            steps=[
                StepRecord(reasoning="Ask the file system.", calls=calls, results=[result],
                           statuses=["ok"]),
                StepRecord(reasoning="The result answers the request.", calls=[], results=[],
                           statuses=[]),
            ],
            reply=f"Done: {json.dumps(result)}",
            round_index=round_index,
            ground_truth=list(calls),
        )

    return VerifiedDialogue(
        dialogue_id=f"dialogue-test{index}",
        plan_id=f"plan-test{index}",
        scenario_id=f"scenario-test{index}",
        shard="shard-0000",
        involved_classes=["GorillaFileSystem"],
        initial_config={"GorillaFileSystem": {"root": {"alex": {"type": "directory", "contents": {
            file_name: {"type": "file", "content": f"Contents of {file_name} for test {index}."},
        }}}}},
        long_context=False,
        rounds=[0, 1],
        chain_ids=[f"chain-test{index}a", f"chain-test{index}b"],
        turns=[turn(0, request), turn(1, f"Once more please, {request.lower()}")],
    )


@pytest.fixture(scope="module")
def dialogues() -> list[VerifiedDialogue]:
    return [_dialogue(0), _dialogue(1)]


def _accept_all(folder: Path) -> dict[str, Any]:
    """A stand-in for bfcl-eval's checker that accepts every entry it is given."""
    return {
        path.stem.removeprefix("BFCL_v4_"): {"entries": 0, "passed": 0, "failures": []}
        for path in folder.glob("BFCL_v4_*.json")
    }


def _reject(entry_id: str):
    def checker(folder: Path) -> dict[str, Any]:
        summary = _accept_all(folder)
        summary[entry_id.rsplit("_", 1)[0]]["failures"].append({"id": entry_id, "error": "no"})
        return summary

    return checker


# ---------------------------------------------------------------------- curated_expectations


def test_curated_expectations_pass_on_clean_dialogues(dialogues):
    verdict = curation.judge_curated(dialogues, CurationConfig(), VARIANTS)
    assert verdict.passed
    assert verdict.metadata == {"rows": 2, "failed_expectations": []}


def test_curated_expectations_fail_on_a_duplicate_id(dialogues):
    verdict = curation.judge_curated([dialogues[0], dialogues[0]], CurationConfig(), VARIANTS)
    assert not verdict.passed
    assert verdict.metadata["rows"] == 2
    [failed] = verdict.metadata["failed_expectations"]
    assert failed["column"] == "dialogue_id" and failed["unexpected"] == 2


def test_curated_expectations_fail_on_an_empty_reply(dialogues):
    first = dialogues[0]
    silent = first.model_copy(update={"turns": [
        first.turns[0].model_copy(update={"reply": ""}), *first.turns[1:]]})
    verdict = curation.judge_curated([silent, dialogues[1]], CurationConfig(), VARIANTS)
    assert not verdict.passed
    [failed] = verdict.metadata["failed_expectations"]
    assert failed["column"] == "min_reply_chars" and failed["unexpected"] == 1


def test_curation_keeps_the_accepted_digest_and_drops_checker_rejects(dialogues, registry):
    kept = curation.curate_dialogues(
        dialogues, registry, CurationConfig(), VARIANTS, checker=_accept_all
    )
    assert [d.dialogue_id for d in kept.value] == [d.dialogue_id for d in dialogues]
    assert all(d.bfcl_entry_digest for d in kept.value)
    assert kept.metrics["drops_per_rule"] == dict.fromkeys(curation.CURATION_RULES, 0)
    assert kept.verdict("curated_expectations").passed

    rejected = curation.curate_dialogues(
        dialogues, registry, CurationConfig(), VARIANTS, checker=_reject("multi_turn_base_1")
    )
    assert [d.dialogue_id for d in rejected.value] == [dialogues[0].dialogue_id]
    assert rejected.metrics["drops_per_rule"][curation.CHECKER_REJECTS] == 1
    assert rejected.metrics["rejected_by_bfcl_checker"] == [dialogues[1].dialogue_id]
    # The report recomputes the same drops from curation's input and output.
    assert curation.drops_per_rule(dialogues, rejected.value, CurationConfig()) == (
        rejected.metrics["drops_per_rule"]
    )


# ------------------------------------------------------- bfcl_checker_accepts_every_item


@pytest.fixture
def accepted(dialogues, registry) -> list[VerifiedDialogue]:
    replay = curation.replay_in_bfcl(dialogues, registry, checker=_accept_all)
    return [
        d.model_copy(update={"bfcl_entry_digest": replay.accepted[d.dialogue_id]})
        for d in dialogues
    ]


def test_bfcl_export_matches_the_accepted_entries(accepted, registry, tmp_path):
    result = bfcl_format.export_bfcl(accepted, registry, tmp_path)
    verdict = result.verdict("bfcl_checker_accepts_every_item")
    assert verdict.passed
    assert verdict.metadata == {"entries": 2, "matched": 2, "mismatching": []}
    assert bfcl_format.bfcl_manifest(result)["checker"] == {"entries": 2, "passed": 2}


def test_bfcl_evals_replay_and_the_export_agree(dialogues, registry, tmp_path):
    replay = curation.replay_in_bfcl(dialogues, registry)  # the real checker, in a child
    assert replay.rejected == {} and set(replay.accepted) == {d.dialogue_id for d in dialogues}
    curated = [
        d.model_copy(update={"bfcl_entry_digest": replay.accepted[d.dialogue_id]})
        for d in dialogues[::-1]  # another order renumbers the entries: digests still match
    ]
    assert bfcl_format.export_bfcl(curated, registry, tmp_path).verdicts[0].passed


def test_a_tampered_bfcl_entry_fails_the_digest_match(accepted, registry, tmp_path):
    result = bfcl_format.export_bfcl(accepted, registry, tmp_path)
    path = tmp_path / bfcl_format.bfcl_file_name("multi_turn_base")
    rows = bfcl_format.read_jsonl(path)
    rows[1]["question"][0][0]["content"] = "Delete every file I have."
    bfcl_format.write_jsonl(path, rows)
    verdict = bfcl_format.judge_bfcl_export(tmp_path, result.value["id_map"], accepted)
    assert not verdict.passed
    assert verdict.metadata == {"entries": 2, "matched": 1, "mismatching": ["multi_turn_base_1"]}


def test_an_entry_the_checker_never_accepted_fails(dialogues, registry, tmp_path):
    verdict = bfcl_format.export_bfcl(dialogues, registry, tmp_path).verdicts[0]
    assert not verdict.passed
    assert verdict.metadata["matched"] == 0 and len(verdict.metadata["mismatching"]) == 2


def test_the_digest_ignores_the_entry_position_only(accepted, registry):
    per_category, _, _ = bfcl_format.bfcl_entries(accepted, registry)
    question, answer = per_category["multi_turn_base"][0]
    moved = {**question, "id": "multi_turn_base_7"}
    assert bfcl_format.entry_digest(moved, answer) == bfcl_format.entry_digest(question, answer)
    other_category = {**question, "id": "multi_turn_long_context_0"}
    assert bfcl_format.entry_digest(other_category, answer) != (
        bfcl_format.entry_digest(question, answer)
    )


# ---------------------------------------------------------------------- every_row_parses_back


def test_every_written_row_parses_back(dialogues, registry, tmp_path):
    result = training_formats.export_sft(dialogues, registry, tmp_path, split_turns=True)
    verdict = result.verdict("every_row_parses_back")
    assert verdict.passed
    assert verdict.metadata["rows_written"] == verdict.metadata["rows_read_back"] > 6
    assert verdict.metadata["problems"] == {}


def test_a_truncated_row_fails_parse_back(dialogues, registry, tmp_path):
    written = training_formats.export_sft(dialogues, registry, tmp_path).value["files"]
    path = tmp_path / "openai.jsonl"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) - 40], encoding="utf-8")
    verdict = training_formats.judge_written(tmp_path, written)
    assert not verdict.passed
    assert verdict.metadata["rows_read_back"] == verdict.metadata["rows_written"] - 1
    assert verdict.metadata["problems"] == {"openai.jsonl: line is not JSON": 1}


def test_a_malformed_row_fails_parse_back(dialogues, registry, tmp_path):
    written = training_formats.export_sft(dialogues, registry, tmp_path).value["files"]
    path = tmp_path / "sharegpt.jsonl"
    rows = bfcl_format.read_jsonl(path)
    rows[0]["conversations"].insert(1, {"from": "observation", "value": "[]"})
    bfcl_format.write_jsonl(path, rows)
    verdict = training_formats.judge_written(tmp_path, written)
    assert not verdict.passed
    assert verdict.metadata["rows_read_back"] == verdict.metadata["rows_written"]
    assert any(name.startswith("sharegpt.jsonl: ") for name in verdict.metadata["problems"])


# ---------------------------------------------------------------------- report_has_every_section


def _sections(titles) -> list[report.Section]:
    return [report.Section(title, picture_png=b"png") for title in titles]


def test_a_report_with_every_section_passes():
    verdict = report.judge_sections(_sections(report.EXPECTED_SECTIONS))
    assert verdict.passed
    assert verdict.metadata == {"missing": [], "pictures": 8}


def test_a_report_missing_a_section_fails():
    titles = [t for t in report.EXPECTED_SECTIONS if t != "Variant mix"]
    verdict = report.judge_sections(_sections(titles))
    assert not verdict.passed
    assert verdict.metadata == {"missing": ["Variant mix"], "pictures": 7}


def test_query_drops_are_read_from_plans_without_queries():
    def plan(plan_id: str, rounds: int) -> DialoguePlan:
        return DialoguePlan.model_construct(plan_id=plan_id, rounds=[object()] * rounds)

    def query(plan_id: str) -> HardQuery:
        return HardQuery.model_construct(plan_id=plan_id)

    plans = [plan("a", 3), plan("b", 2), plan("c", 1)]
    queries = [query("a"), query("a"), query("a"), query("b")]
    assert report.query_drops(plans, queries) == {report.QUERY_DROP: 2}
    assert report.query_drops(plans[:1], queries) == {}


def test_baseline_rows_average_exactly_the_given_shards():
    shards = [
        {"coverage_directed": {"share_reached": 0.9, "mean_depth": 1.0},
         "coverage_random_walk": {"share_reached": 0.5, "mean_depth": 0.2}},
        {"coverage_directed": {"share_reached": 0.7, "mean_depth": 2.0}},
    ]
    assert report.coverage_rows(shards) == [
        {"sampler": "directed", "share_reached": 0.8, "mean_depth": 1.5, "shards": 2},
        {"sampler": "random walk", "share_reached": 0.5, "mean_depth": 0.2, "shards": 1},
    ]
