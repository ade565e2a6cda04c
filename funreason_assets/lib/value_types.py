"""Semantic value types: what a parameter's value means, how to judge one, how to make one.

JSON Schema says a parameter is a string; a person knows it is a city, a password or a ticker.
Every parameter of every tool gets one semantic type from this vocabulary (inferred from its
name, description and the values its class's code accepts, overridable per pack), and:

- a validator says whether a value is one a person would give for it (a city is a known city,
  a password looks like one, an enum value is in its documented set, a date is a date in the
  documented format); it returns the reason when not;
- a provider makes a fresh value of the type from a seeded generator and the scenario's
  persona, for values the user states (names, passwords, amounts, texts); identifiers that
  only the state can hold (ticket ids, card ids, tokens) have no provider and must be found.

Binding never crosses types: a value is taken for a parameter only if it validates as the
parameter's type, and the semantic gate on the plans re-validates every argument.
"""

from __future__ import annotations

import datetime
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------- context


@dataclass(frozen=True)
class ValueContext:
    """What a validator or provider may know besides the value.

    Attributes:
        schema: The parameter's JSON schema (type, enum, minimum, maximum, items).
        domain: Values the tool's own code accepts for this parameter (mined literal tables),
            or None when the code names none.
        persona: The scenario's persona (names, cities, topics), possibly empty.
    """

    schema: Mapping[str, Any] = field(default_factory=dict)
    domain: tuple[Any, ...] | None = None
    persona: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enum(self) -> list[Any] | None:
        """The documented set of the value (or of its items, for an array)."""
        if self.schema.get("enum"):
            return list(self.schema["enum"])
        items = self.schema.get("items") or {}
        return list(items["enum"]) if items.get("enum") else None


Validator = Callable[[Any, ValueContext], "str | None"]
Provider = Callable[[random.Random, ValueContext], Any]


@dataclass(frozen=True)
class ValueType:
    """One semantic type of the vocabulary.

    Attributes:
        name: The type's name (a column of the tool catalog).
        description: What a value of this type is, in a reader's words.
        validate: Returns None for a plausible value, else the reason it is not.
        provide: Makes a fresh value; None when only the state or an earlier output can hold
            one (identifiers, tokens issued by a tool).
        searchable: A search term: judged by whether it finds something, drawn from content.
    """

    name: str
    description: str
    validate: Validator
    provide: Provider | None = None
    searchable: bool = False


# ---------------------------------------------------------------------- word lists

# Words that appear nowhere as a real value of any parameter: the filler an earlier binder
# fell back on. Rejected by every text validator.
FILLER = frozenset(
    {"quarterly review", "budget", "notes", "weekend trip", "project alpha", "meeting",
     "summary", "draft", "string", "value", "test", "example", "foo", "bar", "none", "null"}
)
FIRST_NAMES = (
    "Amara", "Bastien", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiroshi", "Ines",
    "Jonah", "Kavya", "Lucas", "Mireille", "Nikolai", "Olufemi", "Priya", "Quentin", "Rosa",
    "Soren", "Tamsin", "Umar", "Valentina", "Wendell", "Ximena", "Yusuf", "Zofia", "Michael",
    "Sarah", "David", "Laura", "James", "Emma", "Daniel", "Olivia", "Thomas", "Grace",
)
LAST_NAMES = (
    "Abernathy", "Bianchi", "Castellanos", "Dubois", "Eriksen", "Fujimoto", "Gallagher",
    "Haddad", "Iverson", "Jovanovic", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor",
    "Petrov", "Quintero", "Rasmussen", "Schneider", "Takahashi", "Thompson", "Collins",
    "Bennett", "Harper", "Reyes", "Fischer", "Murphy", "Novak",
)
STREETS = (
    "Oakwood Avenue", "Maple Street", "Channing Way", "Harbor Road", "Elm Court", "Cedar Lane",
    "Birch Boulevard", "Willow Drive", "Lakeview Terrace", "Summit Street", "Mill Road",
)
STATES = ("CA", "NY", "IL", "MA", "WA", "TX", "OR", "CO")
INSURANCE_TYPES = ("comprehensive", "travel", "cancellation", "medical", "baggage")
TICKET_STATUSES = ("open", "in progress", "resolved", "closed")
IMPERIAL_UNITS = ("inches", "feet", "yards", "miles", "pounds", "ounces", "gallons", "fahrenheit")
SI_UNITS = ("cm", "km", "m", "mm", "kg", "g", "liters", "celsius")
# Units the BFCL converters name (their tables are keyed by f-strings the miner cannot read).
KNOWN_UNITS = frozenset({
    *IMPERIAL_UNITS, *SI_UNITS, "in", "ft", "yd", "lb", "oz", "gal", "m", "um", "nm",
    "meters", "kilometers", "centimeters", "millimeters", "kilograms", "grams",
})
# Tool results pasted as text read like this; a person never writes them.
_TOOL_OUTPUT_TEXT = re.compile(
    r"\blogged (?:in|out)\b|\b(?:status|error)\s*:|:\s*(?:true|false)\b|[{}\[\]]"
    r"|\b(?:USR|TKT)\d+",
    re.IGNORECASE,
)
# Ids a service issues (USR001, TKT12): never a name a person picked.
_ISSUED_ID = re.compile(r"[A-Z]{2,4}-?\d{3,}")

# ---------------------------------------------------------------------- small helpers


def _rejects_filler(value: Any, context: ValueContext | None = None) -> str | None:
    """Text that is not empty and not filler (also the validator of the `text` type)."""
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    if not value.strip():
        return "empty text"
    if value.strip().lower() in FILLER:
        return f"filler word {value!r}"
    return None


def _pattern(regex: str, what: str) -> Validator:
    compiled = re.compile(regex)

    def validate(value: Any, context: ValueContext) -> str | None:
        if not isinstance(value, str):
            return f"expected {what} as text, got {type(value).__name__}"
        if not compiled.fullmatch(value):
            return f"{value!r} is not {what}"
        return None

    return validate


def _in_domain_or(fallback: Validator) -> Validator:
    """Values the tool's code names (or the documented set) when it names any, else fallback."""

    def validate(value: Any, context: ValueContext) -> str | None:
        known = context.enum or (list(context.domain) if context.domain else None)
        if known is not None:
            return None if value in known else f"{value!r} is not one of {known[:12]}"
        return fallback(value, context)

    return validate


def _bounds(
    context: ValueContext, low: float | None, high: float | None
) -> tuple[float | None, float | None]:
    """The type's plausible range narrowed by the schema's.

    A tool that accepts a precision up to 1000 does not make 360 digits a plausible request.
    """
    schema_low, schema_high = context.schema.get("minimum"), context.schema.get("maximum")
    if schema_low is not None:
        low = schema_low if low is None else max(low, schema_low)
    if schema_high is not None:
        high = schema_high if high is None else min(high, schema_high)
    return low, high


def _number(low: float | None, high: float | None, *, integer: bool = False,
            positive: bool = False) -> Validator:
    def validate(value: Any, context: ValueContext) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {type(value).__name__}"
        if integer and not float(value).is_integer():
            return f"{value!r} is not a whole number"
        bound_low, bound_high = _bounds(context, low, high)
        if positive and value <= 0:
            return f"{value!r} is not positive"
        if bound_low is not None and value < bound_low:
            return f"{value!r} is below {bound_low}"
        if bound_high is not None and value > bound_high:
            return f"{value!r} is above {bound_high}"
        return None

    return validate


def _words(low: int, high: int, what: str) -> Validator:
    """Free text a person writes: low..high words, not filler, not a pasted tool result."""

    def validate(value: Any, context: ValueContext) -> str | None:
        problem = _rejects_filler(value)
        if problem:
            return problem
        count = len(value.split())
        if not low <= count <= high:
            return f"{what} of {count} words (expected {low}-{high})"
        if _TOOL_OUTPUT_TEXT.search(value):
            return f"{what} reads like a tool's output: {value[:60]!r}"
        return None

    return validate


def _topic(rng: random.Random, context: ValueContext) -> str:
    topics = list(context.persona.get("topics") or ())
    return rng.choice(topics) if topics else rng.choice(_FALLBACK_TOPICS)


_FALLBACK_TOPICS = (
    "the supplier contract renewal", "the onboarding checklist", "last week's outage",
    "the quarterly budget review", "the conference trip", "the office move",
)


def _persona_or(key: str, choices: Sequence[str]) -> Provider:
    def provide(rng: random.Random, context: ValueContext) -> str:
        value = context.persona.get(key)
        return value if isinstance(value, str) and value else rng.choice(choices)

    return provide


def _from_domain(rng: random.Random, context: ValueContext) -> Any:
    known = context.enum or (list(context.domain) if context.domain else None)
    return rng.choice(known) if known else None


# ---------------------------------------------------------------------- validators


def _person_name(value: Any, context: ValueContext) -> str | None:
    problem = _rejects_filler(value)
    if problem:
        return problem
    parts = value.split()
    if not 2 <= len(parts) <= 4:
        return f"{value!r} is not a first and last name"
    if not all(re.fullmatch(r"[A-ZÀ-Ý][A-Za-zÀ-ÿ'\-.]*", part) for part in parts):
        return f"{value!r} is not capitalized like a name"
    return None


def _single_name(value: Any, context: ValueContext) -> str | None:
    problem = _rejects_filler(value)
    if problem:
        return problem
    if len(value.split()) > 1:
        return f"{value!r} is more than one name"
    if not re.fullmatch(r"[A-ZÀ-Ý][A-Za-zÀ-ÿ'\-]{1,30}", value):
        return f"{value!r} is not a capitalized name"
    return None


def _place_name(value: Any, context: ValueContext) -> str | None:
    """A place without a documented set: capitalized words, none of them a person's name."""
    problem = _rejects_filler(value)
    if problem:
        return problem
    words = value.split()
    if not 1 <= len(words) <= 4 or not all(
        re.fullmatch(r"[A-ZÀ-Ý][A-Za-zÀ-ÿ'\-.]*", word) for word in words
    ):
        return f"{value!r} is not a capitalized place name"
    people = {*FIRST_NAMES, *LAST_NAMES} | {
        str(context.persona.get(key)) for key in ("first_name", "last_name") if context.persona
    }
    if len(words) > 1 and all(word in people for word in words):
        return f"{value!r} is a person's name, not a place"
    return None


def _sector(value: Any, context: ValueContext) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Z]{1,5}", value):
        return f"{value!r} is a stock ticker, not a sector"
    return _in_domain_or(_place_name)(value, context)


def _password(value: Any, context: ValueContext) -> str | None:
    problem = _rejects_filler(value)
    if problem:
        return problem
    if len(value) < 8 or " " in value:
        return f"{value!r} is too short or has spaces for a password"
    # BFCL's own passwords include 'i_am_not_throwing_away_my_shot': a digit is not required,
    # but a single plain word is no password.
    if not (re.search(r"[A-Za-z]", value) and re.search(r"[^A-Za-z]", value)):
        return f"{value!r} is a plain word, not a password (no digit or symbol)"
    if _ISSUED_ID.fullmatch(value):
        return f"{value!r} is an id the service issued, not a password"
    return None


def _iso_date(value: Any) -> datetime.date | str:
    """The date a YYYY-MM-DD text names, or the reason it names none."""
    if not isinstance(value, str):
        return f"expected a date as text, got {type(value).__name__}"
    # fromisoformat also reads 20290501 and 2029-W01-1; the tools document YYYY-MM-DD only.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return f"{value!r} is not a date in YYYY-MM-DD"
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a date in YYYY-MM-DD"


def _date(value: Any, context: ValueContext) -> str | None:
    day = _iso_date(value)
    if isinstance(day, str):
        return day
    if not 2000 <= day.year <= 2035:
        return f"{value!r} is out of the plausible range"
    return None


def _birth_date(value: Any, context: ValueContext) -> str | None:
    day = _iso_date(value)
    if isinstance(day, str):
        return day
    if not 1930 <= day.year <= 2007:
        return f"{value!r} is not a plausible adult's date of birth"
    return None


def _timestamp(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, str):
        return f"expected a timestamp as text, got {type(value).__name__}"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", value):
        return f"{value!r} is not YYYY-MM-DDTHH:MM:SS"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not YYYY-MM-DDTHH:MM:SS"
    if "T" not in value or not 2000 <= moment.year <= 2035:
        return f"{value!r} is not YYYY-MM-DDTHH:MM:SS in a plausible range"
    return None


def _expiry(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"(0[1-9]|1[0-2])/(20\d\d)", value):
        return f"{value!r} is not an expiry date in MM/YYYY"
    return None


def _ticker(value: Any, context: ValueContext) -> str | None:
    if context.domain and value in context.domain:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{1,5}", value):
        return f"{value!r} is not a stock ticker"
    return None


def _ticker_list(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, list) or not value:
        return "expected a non-empty list of tickers"
    for item in value:
        problem = _ticker(item, context)
        if problem:
            return problem
    if len(set(value)) != len(value):
        return "the list repeats a ticker"
    return None


def _number_list(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, list) or len(value) < 2:
        return "expected a list of at least two numbers"
    if any(isinstance(item, bool) or not isinstance(item, int | float) for item in value):
        return "the list holds something other than numbers"
    return None


def _file_name(value: Any, context: ValueContext) -> str | None:
    problem = _rejects_filler(value)
    if problem:
        return problem
    if not re.fullmatch(r"[\w\-. ]{1,80}\.[A-Za-z0-9]{1,6}", value) or "/" in value:
        return f"{value!r} is not a file name with an extension"
    return None


def _directory_name(value: Any, context: ValueContext) -> str | None:
    if context.domain and value in context.domain:  # "..", "/": names the tool's code knows
        return None
    # "notes" is filler as a text but an ordinary folder name.
    problem = _rejects_filler(value) if value != "notes" else None
    if problem:
        return problem
    if not re.fullmatch(r"[\w\-. ]{1,60}", value):
        return f"{value!r} is not a directory name"
    return None


def _search_path(value: Any, context: ValueContext) -> str | None:
    """Where a search starts: a directory, or a relative path of directories."""
    problem = _rejects_filler(value) if value != "notes" else None
    if problem:
        return problem
    if not re.fullmatch(r"[\w\-. /]{1,120}", value):
        return f"{value!r} is not a directory path"
    return None


def _search_term(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "empty search term"
    if len(value) > 60:
        return "a search term of more than 60 characters"
    if _TOOL_OUTPUT_TEXT.search(value):
        return f"a search term that reads like a tool's output: {value[:60]!r}"
    return None


def _hashtags(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, list):
        return "expected a list of hashtags"
    bad = [item for item in value
           if not (isinstance(item, str) and re.fullmatch(r"#\w{2,30}", item))]
    return f"not hashtags: {bad[:3]}" if bad else None


def _mentions(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, list):
        return "expected a list of @mentions"
    bad = [item for item in value
           if not (isinstance(item, str) and re.fullmatch(r"@[\w.\-]{2,30}", item))]
    return f"not @mentions: {bad[:3]}" if bad else None


def _usernames(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, list) or not value:
        return "expected a non-empty list of usernames"
    for item in value:
        problem = _username(item, context)
        if problem:
            return problem
    return None


def _username(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, str):
        return f"expected a username as text, got {type(value).__name__}"
    if value.strip().lower() in FILLER:
        return f"filler word {value!r}"
    if not re.fullmatch(r"[A-Za-z][\w.\-]{1,30}", value):
        return f"{value!r} is not a username"
    if _ISSUED_ID.fullmatch(value):
        return f"{value!r} is an id the service issued, not a username"
    return None


def _messages(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, list) or not value:
        return "expected a non-empty list of messages"
    validate = _words(2, 40, "log message")
    for item in value:
        problem = validate(item, context)
        if problem:
            return problem
    return None


def _ticket_updates(value: Any, context: ValueContext) -> str | None:
    if not isinstance(value, dict) or not value:
        return "an empty update changes nothing"
    unknown = set(value) - {"title", "description", "status", "priority"}
    if unknown:
        return f"unknown ticket fields {sorted(unknown)}"
    if "priority" in value and (not isinstance(value["priority"], int) or
                                not 1 <= value["priority"] <= 5):
        return f"priority {value['priority']!r} outside 1-5"
    if "status" in value and _ticket_status(value["status"], context):
        return f"status {value['status']!r} is not a ticket status"
    for key in ("title", "description"):
        if key in value and _rejects_filler(value[key]):
            return f"{key}: {_rejects_filler(value[key])}"
    return None


def _ticket_status(value: Any, context: ValueContext) -> str | None:
    # TicketAPI stores "Open"/"Closed" and compares statuses case-insensitively.
    if isinstance(value, str) and value.lower() in TICKET_STATUSES:
        return None
    return f"{value!r} is not a ticket status"


def _unit(value: Any, context: ValueContext) -> str | None:
    # The mined domain of a converter is partial (its tables are keyed by f-strings): a unit
    # is any the converters name, or one the tool's code or docs list.
    known = context.enum or (list(context.domain) if context.domain else [])
    if value in known or value in KNOWN_UNITS:
        return None
    if context.enum:
        return f"{value!r} is not one of {known}"
    return f"{value!r} is not a unit"


def _boolean(value: Any, context: ValueContext) -> str | None:
    return None if isinstance(value, bool) else f"{value!r} is not true or false"


def _boolean_text(value: Any, context: ValueContext) -> str | None:
    return None if value in ("true", "false") else f"{value!r} is not 'true' or 'false'"


def _identifier(value: Any, context: ValueContext) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"{value!r} is not an identifier"
    if isinstance(value, str) and (not value.strip() or " " in value.strip()
                                   or value.strip().lower() in FILLER):
        return f"{value!r} is not an identifier"
    return None


def _credential(value: Any, context: ValueContext) -> str | None:
    problem = _rejects_filler(value)
    if problem:
        return problem
    if len(value) < 4 or " " in value:
        return f"{value!r} does not look like a credential"
    # 'Bearer' (a token type) is a word; credentials have digits or symbols, or are long.
    if re.fullmatch(r"[A-Za-z]{1,11}", value):
        return f"{value!r} is a plain word, not a credential"
    return None


def _street_address(value: Any, context: ValueContext) -> str | None:
    problem = _rejects_filler(value)
    if problem:
        return problem
    if not re.fullmatch(r"\d{1,5} [A-Z][\w .'\-]+, [A-Z][\w .'\-]+, ([A-Z]{2}|\d{5})", value):
        return f"{value!r} is not 'street, city, state'"
    return None


def _enum_value(value: Any, context: ValueContext) -> str | None:
    known = context.enum or (list(context.domain) if context.domain else None)
    if known is None:
        return "no documented set to choose from"
    if isinstance(value, list):
        outside = [item for item in value if item not in known]
        if not value:
            return "an empty selection"
        return f"{outside[:3]} not in {known}" if outside else None
    return None if value in known else f"{value!r} is not one of {known}"


# ---------------------------------------------------------------------- providers


def _provide_first(rng: random.Random, context: ValueContext) -> str:
    return _persona_or("first_name", FIRST_NAMES)(rng, context)


def _provide_last(rng: random.Random, context: ValueContext) -> str:
    return _persona_or("last_name", LAST_NAMES)(rng, context)


def _provide_full(rng: random.Random, context: ValueContext) -> str:
    return f"{_provide_first(rng, context)} {_provide_last(rng, context)}"


def _provide_password(rng: random.Random, context: ValueContext) -> str:
    word = rng.choice(("Harbor", "Cobalt", "Juniper", "Falcon", "Meadow", "Quartz", "Ember"))
    return f"{word}{rng.randint(10, 99)}{rng.choice('!#$%&*')}{rng.choice(('sky', 'rain', 'fox'))}"


def _provide_credential(prefix: str) -> Provider:
    def provide(rng: random.Random, context: ValueContext) -> str:
        alphabet = string.ascii_lowercase + string.digits
        return f"{prefix}{''.join(rng.choice(alphabet) for _ in range(8))}"

    return provide


def _provide_date(rng: random.Random, context: ValueContext) -> str:
    day = datetime.date(2026, 1, 1) + datetime.timedelta(days=rng.randint(10, 400))
    return day.isoformat()


def _provide_birth_date(rng: random.Random, context: ValueContext) -> str:
    day = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randint(0, 50 * 365))
    return day.isoformat()


def _provide_timestamp(rng: random.Random, context: ValueContext) -> str:
    day = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randint(0, 700))
    return f"{day.isoformat()}T{rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"


def _provide_expiry(rng: random.Random, context: ValueContext) -> str:
    return f"{rng.randint(1, 12):02d}/{rng.randint(2027, 2031)}"


def _provide_card_number(rng: random.Random, context: ValueContext) -> str:
    digits = "4" + "".join(str(rng.randint(0, 9)) for _ in range(15))
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


def _provide_passport(rng: random.Random, context: ValueContext) -> str:
    # US-issued: the travel class verifies only US passports, as BFCL's own data assumes.
    return f"US{rng.randint(10**6, 10**8 - 1)}"


def _provide_address(rng: random.Random, context: ValueContext) -> str:
    city = context.persona.get("home_city") or rng.choice(("Rivermist", "Stonebrook"))
    return f"{rng.randint(12, 2400)} {rng.choice(STREETS)}, {city}, {rng.choice(STATES)}"


def _provide_text(kind: str) -> Provider:
    templates = _TEXT_TEMPLATES[kind]

    def provide(rng: random.Random, context: ValueContext) -> str:
        topic = _topic(rng, context)
        return rng.choice(templates).format(topic=topic, Topic=topic[:1].upper() + topic[1:])

    return provide


_TEXT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "message": (
        "Can we go over {topic} tomorrow morning?",
        "Quick update: I finished my part of {topic}.",
        "Do you have the latest numbers for {topic}?",
        "Heads up, {topic} slipped to next week.",
        "Thanks for the help with {topic} today!",
    ),
    "tweet": (
        "Finally wrapped up {topic}. Feels good!",
        "Anyone else dealing with {topic} this week?",
        "Big lessons learned from {topic}.",
        "Spent the whole day on {topic}, worth it.",
    ),
    "comment": (
        "Great point about {topic}!",
        "Totally agree, {topic} needed this.",
        "Thanks for sharing your take on {topic}.",
    ),
    "ticket_title": (
        "Problem with {topic}", "Follow-up needed on {topic}", "Request about {topic}",
        "{Topic} is blocked", "Access issue on {topic}", "Question on {topic}",
        "{Topic} keeps failing", "Need a hand with {topic}", "Escalation: {topic}",
        "Broken link in {topic}", "{Topic} errors since the update", "Review of {topic}",
    ),
    "ticket_description": (
        "Since yesterday we are blocked on {topic} and cannot continue. Please take a look.",
        "We need help with {topic}; the current setup keeps failing.",
        "Please review {topic} before the end of the week.",
    ),
    "resolution": (
        "Sorted out {topic} with the requester; nothing else is needed.",
        "Fixed the underlying problem and confirmed with the requester that it works.",
        "Answered the question about {topic} and closed the loop with the requester.",
    ),
    "file_text": (
        "Notes on {topic}: next steps agreed with the team.",
        "Draft plan for {topic}, to be reviewed on Friday.",
        "Open questions about {topic}.",
    ),
    "support": (
        "I need to change the dates of this booking, could you help?",
        "Could you confirm this booking went through? I never got a confirmation email.",
        "The booking shows the wrong travel class, can you check it for me?",
        "I may have to cancel this trip; what are my options for this booking?",
    ),
}


def _provide_amount(low: float, high: float, step: float = 1.0) -> Provider:
    def provide(rng: random.Random, context: ValueContext) -> float | int:
        low_bound, high_bound = _bounds(context, low, high)
        steps = int(round((high_bound - low_bound) / step, 6))
        value = round(low_bound + step * rng.randint(1, max(1, steps)), 2)
        # An integer parameter (a fan speed) takes 40, not 40.0.
        return int(value) if context.schema.get("type") == "integer" else value

    return provide


def _provide_int(low: int, high: int) -> Provider:
    def provide(rng: random.Random, context: ValueContext) -> int:
        low_bound, high_bound = _bounds(context, low, high)
        return rng.randint(int(low_bound), int(high_bound))

    return provide


def _provide_numbers(rng: random.Random, context: ValueContext) -> list[float]:
    return [round(rng.uniform(2, 500), rng.choice((0, 1, 2))) for _ in range(rng.randint(3, 6))]


def _provide_real(rng: random.Random, context: ValueContext) -> float:
    return round(rng.uniform(2, 900), rng.choice((0, 1, 2)))


def _provide_bool(rng: random.Random, context: ValueContext) -> bool:
    return rng.random() < 0.5


def _provide_hashtags(rng: random.Random, context: ValueContext) -> list[str]:
    words = ("#teamwork", "#productivity", "#travel", "#weekend", "#learning", "#launch")
    return rng.sample(words, rng.randint(1, 2))


def _provide_updates(rng: random.Random, context: ValueContext) -> dict[str, Any]:
    choice = rng.choice(("priority", "status", "title"))
    if choice == "priority":
        return {"priority": rng.randint(1, 5)}
    if choice == "status":
        return {"status": rng.choice(("in progress", "resolved"))}
    return {"title": _provide_text("ticket_title")(rng, context)}


def _provide_temperature(rng: random.Random, context: ValueContext) -> float:
    return float(rng.randint(18, 26))


# ---------------------------------------------------------------------- the vocabulary

_TYPES = [
    ValueType("person_name", "a person's full name", _person_name, _provide_full),
    ValueType("first_name", "a person's first name", _single_name, _provide_first),
    ValueType("last_name", "a person's last name", _single_name, _provide_last),
    ValueType("username", "an account's user name", _username, _persona_or("username", ("alex",))),
    ValueType("username_list", "user names", _usernames),
    ValueType("user_id", "a user id the service issued", _identifier),
    ValueType("password", "a password", _password, _provide_password),
    ValueType("access_token", "a token a login returned", _credential),
    ValueType("client_id", "an OAuth client id", _credential, _provide_credential("client_")),
    ValueType("client_secret", "an OAuth client secret", _credential, _provide_credential("sec_")),
    ValueType("refresh_token", "an OAuth refresh token", _credential, _provide_credential("rt_")),
    ValueType("city", "a city the service knows", _in_domain_or(_place_name),
              _from_domain),
    ValueType("airport_code", "a three-letter airport code",
              _in_domain_or(_pattern(r"[A-Z]{3}", "an airport code")), _from_domain),
    ValueType("zipcode", "a postal code", _in_domain_or(_pattern(r"\d{5}", "a zipcode")),
              _from_domain),
    ValueType("street_address", "street, city, state", _street_address, _provide_address),
    ValueType("date", "a date in YYYY-MM-DD", _date, _provide_date),
    ValueType("birth_date", "a date of birth in YYYY-MM-DD", _birth_date, _provide_birth_date),
    ValueType("timestamp", "a time in YYYY-MM-DDTHH:MM:SS", _timestamp, _provide_timestamp),
    ValueType("expiry_date", "a card expiry in MM/YYYY", _expiry, _provide_expiry),
    ValueType("card_number", "a 16-digit card number",
              _pattern(r"\d{4}-?\d{4}-?\d{4}-?\d{4}", "a card number"), _provide_card_number),
    ValueType("card_verification_number", "a card's 3-4 digit code",
              _number(100, 9999, integer=True), _provide_int(100, 999)),
    ValueType("passport_number", "a passport number",
              _pattern(r"[A-Z]{1,2}\d{6,9}", "a passport number"), _provide_passport),
    ValueType("identifier", "an entity's id", _identifier),
    ValueType("card_id", "a registered card's id", _identifier),
    ValueType("booking_id", "a booking's id", _identifier),
    ValueType("insurance_id", "an insurance's id", _identifier),
    ValueType("order_id", "an order's id", _identifier),
    ValueType("ticket_id", "a ticket's id", _identifier),
    ValueType("tweet_id", "a tweet's id", _identifier),
    ValueType("ticker", "a stock ticker the market lists", _ticker),
    ValueType("ticker_list", "stock tickers", _ticker_list),
    ValueType("sector", "a market sector", _sector, _from_domain),
    ValueType("company_name", "a listed company's name", _in_domain_or(_rejects_filler),
              _from_domain),
    ValueType("money_amount", "an amount of money", _number(1, 1_000_000, positive=True),
              _provide_amount(20, 2000, 5)),
    ValueType("stock_price", "a share price", _number(0.01, 100_000, positive=True)),
    ValueType("share_quantity", "a number of shares", _number(1, 10_000, integer=True),
              _provide_int(1, 200)),
    ValueType("percentage", "a percentage", _number(0.01, 100, positive=True),
              _provide_amount(0, 10, 0.5)),
    ValueType("file_name", "a file name with its extension", _file_name),
    ValueType("new_file_name", "a name for a new file", _file_name),
    ValueType("directory_name", "a directory's name", _directory_name),
    ValueType("file_or_directory", "a file or directory name",
              lambda v, c: _file_name(v, c) and _directory_name(v, c)),
    ValueType("new_directory_name", "a name for a new directory", _directory_name),
    ValueType("search_path", "where a search starts", _search_path),
    ValueType("search_term", "words to search for", _search_term, searchable=True),
    ValueType("message_text", "a message a person writes", _words(3, 60, "message"),
              _provide_text("message")),
    ValueType("support_message", "a message to customer support", _words(4, 60, "message"),
              _provide_text("support")),
    ValueType("tweet_text", "a tweet", _words(3, 50, "tweet"), _provide_text("tweet")),
    ValueType("comment_text", "a comment on a post", _words(2, 40, "comment"),
              _provide_text("comment")),
    ValueType("ticket_title", "a ticket's title", _words(2, 12, "title"),
              _provide_text("ticket_title")),
    ValueType("ticket_description", "a ticket's description", _words(4, 80, "description"),
              _provide_text("ticket_description")),
    ValueType("ticket_resolution", "how a ticket was resolved", _words(3, 60, "resolution"),
              _provide_text("resolution")),
    ValueType("ticket_updates", "fields of a ticket to change", _ticket_updates,
              _provide_updates),
    ValueType("file_text", "text written into a file", _words(2, 80, "file text"),
              _provide_text("file_text")),
    ValueType("log_messages", "lines for a log", _messages),
    ValueType("hashtag_list", "hashtags", _hashtags, _provide_hashtags),
    ValueType("mention_list", "@mentions", _mentions),
    ValueType("number", "a number", _number(None, None), _provide_real),
    ValueType("exponent", "a small whole exponent", _number(-4, 8, integer=True),
              _provide_int(2, 5)),
    ValueType("log_base", "the base of a logarithm", _number(1.5, 100, positive=True),
              lambda rng, c: rng.choice((2, 10, 10, 3, 5))),
    ValueType("number_list", "at least two numbers", _number_list, _provide_numbers),
    ValueType("precision", "digits of precision", _number(0, 20, integer=True), _provide_int(2, 6)),
    ValueType("decimal_places", "decimal places", _number(0, 10, integer=True),
              _provide_int(0, 4)),
    ValueType("line_count", "a number of lines", _number(1, 200, integer=True),
              _provide_int(2, 20)),
    ValueType("quantity", "a count of items", _number(1, 1000, integer=True),
              _provide_int(1, 5)),
    ValueType("text", "text of no more specific kind (found in the state, never made up)",
              _rejects_filler),
    ValueType("priority", "a priority from 1 to 5", _number(1, 5, integer=True),
              _provide_int(1, 5)),
    ValueType("temperature", "a cabin temperature", _number(10, 95), _provide_temperature),
    ValueType("fan_speed", "a fan speed 0-100", _number(0, 100, integer=True),
              _provide_amount(10, 100, 10)),
    ValueType("cruise_speed", "a cruise speed in mph, a multiple of 5",
              lambda v, c: _number(5, 120)(v, c) or (None if float(v) % 5 == 0
                                                    else f"{v!r} is not a multiple of 5"),
              _provide_amount(25, 75, 5)),
    ValueType("following_distance", "meters to the next vehicle", _number(5, 300),
              _provide_amount(20, 100, 5)),
    ValueType("distance", "a distance in miles", _number(1, 5000, positive=True),
              _provide_amount(10, 600, 5)),
    ValueType("fuel_amount", "gallons of fuel to add", _number(1, 50, positive=True),
              _provide_amount(1, 30, 1)),
    ValueType("volume", "an amount to convert", _number(0.1, 10_000, positive=True),
              _provide_amount(1, 60, 0.5)),
    ValueType("pedal_position", "how far the pedal is pressed (0-1]",
              _number(0.05, 1, positive=True), _provide_amount(0, 1, 0.1)),
    ValueType("insurance_type", "a kind of travel insurance",
              lambda v, c: None if v in INSURANCE_TYPES else f"{v!r} is not an insurance type",
              lambda rng, c: rng.choice(INSURANCE_TYPES)),
    ValueType("ticket_status", "a ticket status",
              _ticket_status,
              lambda rng, c: rng.choice(("open", "closed"))),
    ValueType("unit", "a unit the converter knows", _unit,
              _from_domain),
    ValueType("enum", "a value of the documented set", _enum_value, _from_domain),
    ValueType("boolean", "true or false", _boolean, _provide_bool),
    ValueType("boolean_text", "'true' or 'false' as text", _boolean_text,
              lambda rng, c: rng.choice(("true", "false"))),
]
VALUE_TYPES: dict[str, ValueType] = {value_type.name: value_type for value_type in _TYPES}


def value_type(name: str) -> ValueType:
    """A type of the vocabulary by name.

    Raises:
        KeyError: Naming the unknown type and the known ones.
    """
    try:
        return VALUE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown value type {name!r}; known: {sorted(VALUE_TYPES)}") from None


def validate_value(type_name: str, value: Any, context: ValueContext) -> str | None:
    """Why a value is not a plausible value of the type (None when it is)."""
    if value is None:
        return "no value"
    try:
        return value_type(type_name).validate(value, context)
    except (TypeError, ValueError) as error:
        return f"{value!r}: {error}"


def provide_value(type_name: str, rng: random.Random, context: ValueContext) -> Any:
    """A fresh value of the type, or None when only the state can hold one."""
    provider = value_type(type_name).provide
    if provider is None:
        return None
    value = provider(rng, context)
    if value is None or validate_value(type_name, value, context) is not None:
        return None
    return value
