"""The offline phrasing layer: how the scripted roles word what users ask and what they hear.

The scripted roles call these entry points; the wording itself comes from the realizer
(`lib/realizer/`): per-tool intents in user words, a persona voice per dialogue, values
stated the way people state them, reasoning explained from the actual state and closing
replies that answer the request. Phase II's query rules use the realizer's value functions,
so a value is checked the way it is written.

`PHRASING_VERSION` names the offline wording: the scripted query writer records it as the
prompt version of its queries, so a change of wording is visible in the records (the code
versions of the assets change with these modules' sources anyway).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from funreason_assets.lib.realizer.intents import Intent
from funreason_assets.lib.realizer.query import QueryRequest, realize_query
from funreason_assets.lib.realizer.reply import compose_reply

PHRASING_VERSION = "phrasing/3"

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


def offline_query(rng: random.Random, request: QueryRequest) -> tuple[str, str | None]:
    """A round's user turn and its follow-up (None when the round is not split)."""
    return realize_query(rng, request)


def offline_reply(
    rng: random.Random,
    calls: Sequence[str],
    results: Sequence[Any],
    intent_of: Callable[[str], Intent],
) -> str:
    """A closing reply that answers the request from the turn's calls and results."""
    return compose_reply(rng, calls, results, intent_of)
