"""The offline phrasing layer: how the scripted roles word what a user asks and what they hear.

Everything that decides the wording of an offline query, follow-up or closing reply lives here:
the template tables (personas, openers, joins, references to earlier turns), the helpers that
turn tool docs, parameter names and values into words, and the composers that assemble them
with a seeded `random.Random` the caller owns (so a phrasing is a pure function of its seed).
Phase II's query checks use the same helpers, so a value is checked the way it is written.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from funreason_assets.lib.records import AdvancedTool, PlannedRound

PERSONAS = (
    "",
    "I'm sorting out a few things this afternoon. ",
    "Quick one before my meeting: ",
    "I'm helping a colleague with this. ",
    "Following up on my last message, ",
    "This is for a report I'm finishing. ",
    "Hi! ",
    "Okay, next thing. ",
)

OPENERS = (
    "Could you {goal}{inputs}?",
    "Please {goal}{inputs}.",
    "I need you to {goal}{inputs}.",
    "Can you {goal} for me{inputs}?",
    "I'd like to {goal}{inputs}.",
    "Go ahead and {goal}{inputs}.",
)

INPUT_JOINS = (
    " using {pairs}",
    " with {pairs}",
    ", for {pairs}",
    " — {pairs}",
)

EARLIER_REFERENCES = (
    "Building on what we just did, ",
    "Now that that's done, ",
    "Same session as before: ",
    "Continuing from earlier, ",
)

EXTRA_JOINS = (" Then also {goal}{inputs}.", " After that, {goal}{inputs}.", " And {goal}{inputs}.")

REPLY_OPENERS = ("Done.", "All set.", "Here's what happened.", "Finished.")

_TOOL_DESCRIPTION = re.compile(r"Tool description:\s*(.*)", re.DOTALL)


def goal_phrase(description: str) -> str:
    """The first sentence of a tool description as a lower-case verb phrase."""
    match = _TOOL_DESCRIPTION.search(description)
    text = (match.group(1) if match else description).strip()
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".!? ")
    if not sentence:
        return "do this"
    first, _, rest = sentence.partition(" ")
    return " ".join(part for part in (_imperative(first), rest) if part)


def _imperative(verb: str) -> str:
    """`Retrieves` -> `retrieve`: docs describe tools in the third person, users ask."""
    word = verb.lower()
    if not word.isalpha() or len(word) < 4:
        return word
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def humanize(name: str) -> str:
    """A parameter or tool name as words (`file_name` -> `file name`, `userId` -> `user id`)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return re.sub(r"\s+", " ", spaced).strip().lower()


def describe_value(value: Any) -> str:
    """A value as a user would write it in a sentence."""
    if isinstance(value, str):
        return f"'{value}'" if " " in value or not value else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(describe_value(item) for item in value) or "nothing"
    if isinstance(value, dict):
        return ", ".join(f"{humanize(k)} {describe_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pairs(items: Sequence[tuple[str, Any]]) -> str:
    parts = [f"{humanize(name)} {describe_value(value)}" for name, value in items]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def offline_query(
    rng: random.Random,
    tool: AdvancedTool,
    planned: PlannedRound,
    omitted: Mapping[str, Any] | None,
    follows_earlier: bool,
    tool_description: Callable[[str], str],
) -> tuple[str, str | None]:
    """A round's hard query and its follow-up (None when the round is not split).

    Args:
        rng: The round's seeded generator; its draws pick every template.
        tool: The round's advanced tool, whose inputs the query states.
        planned: The round whose calls the query asks for.
        omitted: The input a missing-parameter round leaves out until the follow-up.
        follows_earlier: Whether earlier rounds of the dialogue already have queries.
        tool_description: A tool's documentation by tool name.
    """
    left_out = set(omitted or {})
    by_call: dict[int, list[tuple[str, Any]]] = {}
    for item in tool.inputs:
        if item.name in left_out:
            continue
        first = int(item.used_by[0].split(".")[0])
        by_call.setdefault(first, []).append((item.name, item.value))
    calls = planned.executed_calls()
    target_position = next(i for i, c in enumerate(calls) if c.tool == planned.target)
    # Inputs of the prerequisites and of the target are asked for in one sentence (the
    # steps stay hidden); calls after the target are further requests of the same turn.
    main_inputs = [
        pair for call in calls[: target_position + 1] for pair in by_call.get(call.index, [])
    ]
    goal = goal_phrase(tool_description(planned.target))
    inputs = rng.choice(INPUT_JOINS).format(pairs=_pairs(main_inputs)) if main_inputs else ""
    text = rng.choice(OPENERS).format(goal=goal, inputs=inputs)
    seen_extra = set()
    for call in calls[target_position + 1 :]:
        if call.tool in seen_extra or call.tool == planned.target:
            continue
        seen_extra.add(call.tool)
        extra_inputs = by_call.get(call.index, [])
        pairs = (" with " + _pairs(extra_inputs)) if extra_inputs else ""
        text += rng.choice(EXTRA_JOINS).format(
            goal=goal_phrase(tool_description(call.tool)), inputs=pairs
        )
    prefix = rng.choice(PERSONAS)
    if follows_earlier and rng.random() < 0.5:
        prefix = rng.choice(EARLIER_REFERENCES)
    if prefix.endswith((", ", ": ")):
        text = text[:1].lower() + text[1:]
    query = prefix + text
    follow_up = None
    if omitted:
        follow_up = "Sorry, I left that out: use " + _pairs(list(omitted.items())) + "."
    elif planned.variant == "missing_function":
        follow_up = "That tool should be available to you now. Please go ahead with it."
    return query, follow_up


def offline_reply(rng: random.Random, calls: Sequence[str], results: Sequence[Any]) -> str:
    """A closing reply that summarizes what the turn's last calls returned."""
    lines = []
    for call, result in zip(calls, results, strict=False):
        name = call.split("(", 1)[0]
        lines.append(f"{humanize(name)}: {_summarize(result)}")
    opener = rng.choice(REPLY_OPENERS)
    return opener + " " + "; ".join(lines[-3:]) if lines else opener


def _summarize(result: Any, limit: int = 160) -> str:
    if isinstance(result, dict):
        parts = [f"{humanize(str(k))} {json.dumps(v, default=str)[:60]}" for k, v in result.items()]
        text = ", ".join(parts[:4])
    else:
        text = json.dumps(result, default=str)
    return text[:limit]
