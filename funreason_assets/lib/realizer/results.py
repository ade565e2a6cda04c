"""Tool results in words: errors found, values summarized whole (never cut mid-string)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import inflect

from funreason_assets.lib.realizer.values import join_words, number_text, plural

_ENGINE = inflect.engine()
_TRAILING = ("in", "at", "on", "to", "by", "for", "of")

LONG_TEXT = 90
MAX_ITEMS = 4


def error_of(result: Any) -> str | None:
    """The error message of a failed call's result, or None when it did not fail."""
    if isinstance(result, dict) and "error" in result and len(result) <= 2:
        return str(result["error"]) or "an error"
    return None


def humanize_key(key: str) -> str:
    """A result field's name as words."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ")
    return re.sub(r"\s+", " ", spaced).strip().lower()


def short_text(text: str) -> str:
    """A text as a reply quotes it: whole when short, else described (never cut)."""
    text = text.strip()
    if len(text) <= LONG_TEXT:
        return f"'{text}'" if text else "nothing"
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        first = lines[0].strip()
        opening = f", starting with '{first}'" if len(first) <= LONG_TEXT else ""
        return f"{plural('line', len(lines))} of text{opening}"
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    if len(sentence) <= LONG_TEXT:
        return f"a {len(text)}-character text that opens '{sentence}'"
    return f"a {len(text)}-character text"


def describe(value: Any) -> str:
    """A result value in words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "nothing"
    if isinstance(value, float) and not value.is_integer() and len(repr(value)) > 10:
        return f"about {round(value, 4):g}"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, str):
        return short_text(value)
    if isinstance(value, list):
        if not value:
            return "none"
        if all(not isinstance(item, dict | list) for item in value):
            shown = [describe(item) for item in value[:MAX_ITEMS]]
            more = len(value) - len(shown)
            return join_words(shown + ([f"{more} more"] if more else []))
        return plural("entry", len(value))
    if isinstance(value, dict):
        if not value:
            return "nothing"
        fields = list(value.items())[:3]
        parts = [f"{humanize_key(k)} {describe(v)}" for k, v in fields
                 if not isinstance(v, dict | list) or len(str(v)) < 80]
        more = len(value) - len(fields)
        return join_words(parts + ([f"{more} more fields"] if more else [])) or plural(
            "field", len(value))
    return short_text(str(value))


def count_of(value: Any) -> int | None:
    """How many things a collection holds (lists inside a mapping are added up)."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        if value and all(isinstance(item, list) for item in value.values()):
            return sum(len(item) for item in value.values())
        return len(value)
    return None


def counted(name: str, count: int) -> str:
    """A count of a field's things ("3 credit cards" for `credit_card_list`)."""
    words = name.split()
    if words and words[-1] in {"list", "map", "data", "dict"} and len(words) > 1:
        words = words[:-1]
    last = _ENGINE.singular_noun(words[-1]) or words[-1] if words else "item"
    noun = " ".join([*words[:-1], last]) if words else "item"
    return plural(noun, count)


def key_facts(result: Any, limit: int = 2) -> list[tuple[str, str]]:
    """The most telling fields of a result as (name, words) pairs."""
    if not isinstance(result, dict):
        return [("", describe(result))]
    facts = []
    for key, value in result.items():
        count = count_of(value)
        name = humanize_key(key)
        if count is not None and (isinstance(value, dict) or len(value) > 4):
            facts.append(("", counted(name, count)))
        else:
            facts.append((name, describe(value)))
        if len(facts) >= limit:
            break
    return facts


def facts_sentence(facts: Sequence[tuple[str, str]], noun: str = "") -> str:
    """Facts as one clause ("the balance is 120 and there are 3 cards")."""
    parts = []
    for name, words in facts:
        if not name:
            parts.append(words)
        elif name in {"result", "value"}:
            parts.append(f"{noun or 'the result'} is {words}")
        elif name.split()[-1] in _TRAILING or name.split()[0] in {"is", "has", "can"}:
            parts.append(f"{name}: {words}")
        else:
            last = name.split()[-1]
            verb = "are" if _ENGINE.singular_noun(last) and not last.endswith("ss") else "is"
            parts.append(f"the {name} {verb} {words}")
    return join_words(parts)
