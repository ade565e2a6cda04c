"""Values in sentences: how a person states one, and whether a text carries one.

The query rules (`synthesis.check_query`) and the realizer share these functions, so a value
is checked exactly the way it is written: a scalar is carried when one of its written forms
occurs in the text (numbers with or without thousands separators, strings case-insensitively,
a documented enum value also with spaces or hyphens for its underscores).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import inflect

_ENGINE = inflect.engine()

# Value types whose values are names of things in the file system (said bare or quoted).
PATH_TYPES = frozenset({
    "file_name", "new_file_name", "directory_name", "new_directory_name", "file_or_directory",
    "search_path",
})
# Value types of free text a person writes out (always quoted, never cut).
TEXT_TYPES = frozenset({
    "message_text", "support_message", "tweet_text", "comment_text", "ticket_title",
    "ticket_description", "ticket_resolution", "file_text", "search_term", "text",
})
# Strings that only say yes or no: a sentence conveys them without stating the literal.
_BOOLEAN_TEXT = frozenset({"true", "false"})


def scalars(value: Any) -> Iterable[Any]:
    """Every scalar of a value (dict values and list items, recursively)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from scalars(item)
    else:
        yield value


def value_forms(value: Any) -> list[str]:
    """Ways a scalar value may be written in a query (lower case); empty when not statable."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [str(value), f"{value:,}"]
    if isinstance(value, float):
        forms = {repr(value), f"{value:g}", f"{value:,}"}
        if value.is_integer():
            forms.add(str(int(value)))
        return sorted(forms)
    text = str(value).strip().lower()
    return [text] if text else []


def input_forms(value: Any, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Ways a scalar input may be written, given its parameter's JSON schema.

    A documented enum value may be written with spaces or hyphens for its underscores
    ("rear left" for `rear_left`), since the schema lets the reader map it back; a yes/no
    string (`'true'`) is conveyed by the sentence, like a boolean, and has no form to check.
    """
    forms = value_forms(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXT:
        return []
    enum = (schema or {}).get("enum") or ((schema or {}).get("items") or {}).get("enum")
    if enum and isinstance(value, str):
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", value.strip()).lower()
        forms += sorted({spaced.replace("_", " "), spaced.replace("_", "-")} - set(forms))
    return forms


def carries(query: str, value: Any, schema: Mapping[str, Any] | None = None) -> bool:
    """Whether every statable scalar of a value appears in the query."""
    lowered = query.lower()
    for scalar in scalars(value):
        forms = input_forms(scalar, schema)
        if forms and not any(form in lowered for form in forms):
            return False
    return True


def mentions(query: str, value: Any) -> bool:
    """Whether a value is stated as a whole token ("12" is not in "2012", "on" not in "one")."""
    lowered = query.lower()
    for form in value_forms(value):
        if form and re.search(rf"(?<![\w.]){re.escape(form)}(?![\w]|\.\d)", lowered):
            return True
    return False


def number_text(value: float | int, money: bool = False) -> str:
    """A number as a person writes it (`2000.0` -> `2000`, money with thousands separators)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if money:
        return f"${value:,}"
    return str(value) if isinstance(value, int) else repr(value)


def join_words(items: list[str], conjunction: str = "and") -> str:
    """Items as a list in a sentence ("a, b and c")."""
    items = [item for item in items if item]
    if len(items) <= 2:
        return f" {conjunction} ".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def plural(word: str, count: int) -> str:
    """A noun agreeing with a count ("1 file", "3 files")."""
    return f"{count} {_ENGINE.plural_noun(word, count) if count != 1 else word}"


def say(value: Any, value_type: str = "", quote: str = "'") -> str:
    """A value as a person states it in a sentence, by its semantic type.

    Free text and file names are quoted (`quote` may be empty for names), numbers drop a
    trailing `.0`, money gets a currency sign, lists become "a, b and c".
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "nothing"
    if isinstance(value, list | tuple):
        if value_type == "hashtag_list":
            return " ".join(item if str(item).startswith("#") else f"#{item}" for item in value)
        if value_type == "mention_list":
            return join_words([str(item) if str(item).startswith("@") else f"@{item}"
                               for item in value])
        return join_words([say(item, _item_type(value_type), quote) for item in value])
    if isinstance(value, dict):
        return join_words([f"{key.replace('_', ' ')} {say(item, '', quote)}"
                           for key, item in value.items()])
    if isinstance(value, int | float):
        return number_text(value, money=value_type == "money_amount")
    text = str(value)
    if value_type in TEXT_TYPES or " " in text:
        return f"'{text}'" if "'" not in text else f'"{text}"'
    if value_type in PATH_TYPES:
        return f"{quote}{text}{quote}"
    return text


def _item_type(list_type: str) -> str:
    return {"number_list": "number", "ticker_list": "ticker", "username_list": "username",
            "log_messages": "text"}.get(list_type, "")
