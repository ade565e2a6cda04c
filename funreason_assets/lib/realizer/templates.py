"""The realizer's small template language.

`{p}` is a parameter's text (its value as said, or a description of it), `{p?yes|no}` words a
boolean parameter, and `[...]` is an optional part that is dropped unless every parameter in it
has a text. A template is usable when every parameter outside optional parts has one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SLOT = re.compile(r"\{(\w+)(?:\?([^|}]*)\|([^}]*))?\}")
_GROUP = re.compile(r"\[([^\[\]]*)\]")


def slots(template: str) -> set[str]:
    """Parameters a template states (boolean switches excluded)."""
    return {match.group(1) for match in _SLOT.finditer(template) if match.group(2) is None}


def required_slots(template: str) -> set[str]:
    """Parameters outside optional parts (a usable template needs all of them)."""
    return slots(_GROUP.sub("", template))


def fill(template: str, texts: Mapping[str, str], flags: Mapping[str, Any]) -> str | None:
    """The template with its slots filled, or None when a required parameter has no text."""

    def group(match: re.Match[str]) -> str:
        inner = match.group(1)
        return inner if all(name in texts for name in slots(inner)) else ""

    expanded = _GROUP.sub(group, template)
    missing = False

    def slot(match: re.Match[str]) -> str:
        nonlocal missing
        name, yes, no = match.groups()
        if yes is not None:
            return yes if flags.get(name) else no
        if name not in texts:
            missing = True
            return ""
        return texts[name]

    filled = _SLOT.sub(slot, expanded)
    if missing:
        return None
    return tidy(re.sub(r"\s+", " ", filled).strip())


# A template's own words around a slot whose text is a reference ("the {dir_name} directory"
# with "the folder from before"): one determiner, one noun, and a possessive on the noun
# (the references are `query._EARLIER`'s).
_REPAIRS = (
    (re.compile(r"\b(?:the|a|an) (the|that|this|my|your|its|those|these|them)\b"), r"\1"),
    (re.compile(r"\b(folder|directory)((?: from before| again)?) (?:folder|directory)\b"),
     r"\1\2"),
    (re.compile(r"\b(?:the|that) (\w+) (?:from before|we just dealt with|I mentioned)'s\b"),
     r"that \1's"),
    (re.compile(r"\b(that|the same) (\w+) again's\b"), r"\1 \2's"),
)


def tidy(text: str) -> str:
    """A filled template with the seams of its references repaired."""
    for pattern, replacement in _REPAIRS:
        text = pattern.sub(replacement, text)
    return text


def capitalize(text: str) -> str:
    """The text with its first letter upper case (the rest untouched)."""
    return text[:1].upper() + text[1:] if text else text
