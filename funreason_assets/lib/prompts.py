"""Prompts of the model roles, their versions and their typed responses.

Each role is a pure prompt builder plus the pydantic model its reply must validate against. The
version of a role's prompt enters the completion cache key and the records it produces, so a
prompt change never serves stale cached replies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from funreason_assets.lib.records import FailureKind, Variant

PROMPT_VERSIONS = {
    "tool_abstractor": "tool_abstractor/1",
    "query_writer": "query_writer/3",
    "reasoner": "reasoner/2",
    "critic": "critic/1",
    "replier": "replier/2",
    "judge": "judge/1",
}

class ToolNaming(BaseModel):
    """Tool abstractor reply: a name and the user-level goal of the advanced tool."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    description: str = Field(min_length=8, max_length=400)


class QueryDraft(BaseModel):
    """Query writer reply: the user's turn, and for split rounds the next user turn."""

    query: str = Field(min_length=8, max_length=1200)
    follow_up: str | None = Field(default=None, max_length=600)


class ReasonerStep(BaseModel):
    """Reasoner reply for one step: its reasoning and the calls to run (empty = answer now)."""

    reasoning: str = Field(min_length=1)
    calls: list[str] = Field(default_factory=list)
    answer: str | None = Field(default=None, description="Text to the user when calling nothing")


class Critique(BaseModel):
    """Critic reply: the kind of error and a hint that pastes no ground-truth value."""

    failure_kind: FailureKind
    hint: str = Field(min_length=8, max_length=600)


class ClosingReply(BaseModel):
    """Replier reply: the closing message to the user, grounded in the tool results."""

    reply: str = Field(min_length=2, max_length=1500)


class JudgeScores(BaseModel):
    """Judge reply: how natural and how faithful one query or reply is (1 = bad, 5 = good)."""

    naturalness: int = Field(ge=1, le=5)
    faithfulness: int = Field(ge=1, le=5)
    reason: str = Field(default="", max_length=400)


def _schema_note(model: type[BaseModel]) -> str:
    return (
        "Answer with only a JSON object that validates against this JSON Schema:\n"
        + json.dumps(model.model_json_schema(), separators=(",", ":"))
    )


def tool_abstractor_messages(
    target_description: str, trace: Sequence[str], inputs: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Messages asking for the advanced tool's name and goal."""
    return [
        {
            "role": "system",
            "content": (
                "You abstract a trace of tool calls into ONE advanced tool. Its inputs are the "
                "given free values; its output is the last target's output; intermediate steps "
                "are hidden. Name it in snake_case and describe the user-level goal in one or "
                "two sentences, without naming the intermediate tools. " + _schema_note(ToolNaming)
            ),
        },
        {
            "role": "user",
            "content": (
                f"Target tool: {target_description}\nTrace:\n"
                + "\n".join(trace)
                + f"\nFree inputs: {json.dumps(inputs, default=str)}"
            ),
        },
    ]


def _persona_note(persona: Mapping[str, Any] | None) -> str:
    """The persona fields a writer may use (name, city, work, interests, contacts)."""
    if not persona:
        return "(none)"
    keys = ("first_name", "last_name", "home_city", "employer", "team", "project", "topics",
            "travel_cities")
    note: dict[str, Any] = {key: persona[key] for key in keys if persona.get(key)}
    friends = [friend.get("first_name") for friend in persona.get("friends", []) or []]
    if friends:
        note["friends"] = [name for name in friends if name][:5]
    return json.dumps(note, default=str)


def query_writer_messages(
    tool_name: str,
    goal: str,
    inputs: Mapping[str, Any],
    omitted: Mapping[str, Any] | None,
    earlier_turns: Sequence[str],
    hidden_tools: Sequence[str],
    variant: Variant,
    persona: Mapping[str, Any] | None = None,
    inferable: Mapping[str, str] | None = None,
    user_goal: str = "",
) -> list[dict[str, Any]]:
    """Messages asking for a hard query for an advanced tool.

    `user_goal` is the dialogue's hidden goal (the user's reason and tasks, this round's
    marked): the query pursues it without reciting it.
    """
    rules = [
        "Write what this user would really type to an assistant: their own words and reasons, "
        "in their voice (the persona below), one to three sentences, with context if natural.",
        "Ask for the goal the way people do, not the way an API is called: never dictate a "
        "value after its parameter's name (not 'with file_name report.txt' or 'client secret "
        "x'); say 'move report.txt into the archive folder', 'fly from SFO to LAX on "
        "2026-03-03'.",
        "Every input value must appear in the request verbatim (copy ids, names, numbers, "
        "dates and texts exactly; quote free text), except the values listed as inferable.",
        "Values listed as inferable may be left out or said the way the state or an earlier "
        "turn makes them clear (the city instead of its airport code, 'that file' for a file "
        "named earlier); use that freedom where a real user would.",
        "Never name or describe these intermediate steps: " + (", ".join(hidden_tools) or "-"),
        "Never include ids, tokens, codes or numbers that a tool would produce.",
        "You may refer to earlier turns of the conversation ('the booking I just made').",
    ]
    if omitted:
        rules.append(
            "Leave out " + ", ".join(omitted) + " entirely from `query`; put it (exact value) in "
            "`follow_up`, the user's answer when asked for it."
        )
    if variant == "missing_function":
        rules.append("Also write `follow_up`: the user says the needed function is now available.")
    allowed = {name: reason for name, reason in (inferable or {}).items()}
    return [
        {
            "role": "system",
            "content": "You write hard user queries for tool-use training data.\n- "
            + "\n- ".join(rules)
            + "\n"
            + _schema_note(QueryDraft),
        },
        {
            "role": "user",
            "content": (
                f"Advanced tool {tool_name}: {goal}\n"
                f"Input values: {json.dumps(dict(inputs), default=str)}\n"
                f"Inferable (may be left out, with why): {json.dumps(allowed, default=str)}\n"
                f"Omitted: {json.dumps(dict(omitted or {}), default=str)}\n"
                f"Persona: {_persona_note(persona)}\n"
                f"User's goal (hidden; this turn pursues it, never recite it): "
                f"{user_goal or '(not given)'}\n"
                "Conversation so far:\n" + ("\n".join(earlier_turns) or "(none)")
            ),
        },
    ]


REASONER_SYSTEM = (
    "You are a careful assistant that uses tools. Think step by step about which tools you "
    "need, including any prerequisite a tool depends on. Reply with a JSON object: "
    "`reasoning` (your thinking), `calls` (a list of calls in Python syntax with keyword "
    "literal arguments, e.g. [\"get_user_id(user='Ann')\"]; the calls of one step must not "
    "depend on each other's results) and, when you call nothing, `answer` (your message to "
    "the user). If a required value is missing from the request, call nothing and ask for it. "
    "If no available tool can do what is asked, call nothing and say so. In `reasoning`, "
    "say what you know from the request and the results so far, what you still need and which "
    "tool gives it; when a result is an error, say so and what you will do about it (retry, "
    "fix the arguments, or report it). Values the request does not state may be clear from "
    "the conversation or the state (an id from an earlier turn, a city's airport): use them."
)


def reasoner_messages(
    tools: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
    query: str,
    hint: str | None,
    critiques: Sequence[str],
    steps: Sequence[tuple[str, Sequence[str], Sequence[Any]]],
) -> list[dict[str, Any]]:
    """Messages of one reasoner step: tools, the dialogue so far, hints, and this turn's steps."""
    system = REASONER_SYSTEM + "\nTools:\n" + json.dumps(list(tools), separators=(",", ":"))
    system += "\n" + _schema_note(ReasonerStep)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, *history]
    guidance = []
    if hint:
        guidance.append(hint)
    guidance.extend(f"A previous attempt failed: {critique}" for critique in critiques)
    content = query if not guidance else query + "\n\n[Guidance]\n" + "\n".join(guidance)
    messages.append({"role": "user", "content": content})
    for reasoning, calls, results in steps:
        messages.append(
            {
                "role": "assistant",
                "content": json.dumps({"reasoning": reasoning, "calls": list(calls)}),
            }
        )
        messages.append(
            {"role": "user", "content": "Tool results: " + json.dumps(list(results), default=str)}
        )
    return messages


def critic_messages(
    query: str,
    failure_kind: str,
    diff: Sequence[str],
    attempted_calls: Sequence[str],
    expected_tools: Sequence[str],
) -> list[dict[str, Any]]:
    """Messages asking the critic to name the error without pasting expected values."""
    return [
        {
            "role": "system",
            "content": (
                "You review a failed tool-use attempt. Name the specific error (missing "
                "prerequisite, wrong argument, wrong tool, premature stop, ...) and give a short "
                "hint. Never paste expected values, ids or results. " + _schema_note(Critique)
            ),
        },
        {
            "role": "user",
            "content": (
                f"Request: {query}\nChecker verdict: {failure_kind}\n"
                f"Differences: {json.dumps(list(diff)[:8])}\n"
                f"Attempted calls: {json.dumps(list(attempted_calls))}\n"
                f"Tools the correct solution uses: {json.dumps(list(expected_tools))}"
            ),
        },
    ]


def replier_messages(query: str, calls: Sequence[str], results: Sequence[Any]) -> list[dict]:
    """Messages asking for the closing reply grounded in the tool results."""
    return [
        {
            "role": "system",
            "content": (
                "Write the closing message to the user: answer their request in one or two "
                "natural sentences, grounded only in the results below. Say what was done and "
                "what they asked to know; do not dump result fields, and never cut a value "
                "mid-string (quote it whole or describe it). If a call failed and a retry "
                "worked, mention it only as what was done; if something failed for good, say "
                "so plainly. " + _schema_note(ClosingReply)
            ),
        },
        {
            "role": "user",
            "content": (
                f"Request: {query}\nCalls: {json.dumps(list(calls))}\n"
                f"Results: {json.dumps(list(results), default=str)[:4000]}"
            ),
        },
    ]


def judge_messages(
    kind: str, text: str, facts: Mapping[str, Any], persona: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Messages asking the judge to score one user query or closing reply (1-5)."""
    subject = (
        "a user's request to a tool-using assistant. Naturalness: does it read like this person "
        "typing (not a form, no parameter-name dictation)? Faithfulness: does it ask for the "
        "goal and carry the values given (inferable ones may be implied)?"
        if kind == "query" else
        "an assistant's closing reply. Naturalness: does it answer in plain sentences (not a "
        "dump of fields, no cut-off values)? Faithfulness: is every claim backed by the tool "
        "results, with nothing invented?"
    )
    return [
        {
            "role": "system",
            "content": (
                f"You judge {subject} Score each from 1 (bad) to 5 (excellent) and give a short "
                "reason. " + _schema_note(JudgeScores)
            ),
        },
        {
            "role": "user",
            "content": (
                f"Text: {text}\nFacts: {json.dumps(dict(facts), default=str)[:3000]}\n"
                f"Persona: {_persona_note(persona)}"
            ),
        },
    ]
