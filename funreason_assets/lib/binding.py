"""Argument binding: fill a tool's parameters by their semantic types, with provenance.

The same binder serves execution probing (graph building) and the Phase I sampler. Every
parameter has a semantic type (`lib.value_types`: a city, a password, a ticker, a message a
person writes), and a value is bound only if it validates as that type. Sources are tried in
METHOD.md's order: values produced by earlier calls, entities present in the current state of
the tool's class, then the type's documented set, the schema's default and the type's provider
(a fresh value made from the seeded generator and the scenario's persona). Free text is always
made by the provider; search terms are drawn from the content searched. A required parameter
with no value of its type makes the tool unbindable: nothing falls back to filler. Every bound
value records where it came from.
"""

from __future__ import annotations

import dataclasses
import random
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any, Literal, Protocol

from funreason_assets.lib.literals import LiteralDomains
from funreason_assets.lib.tools import ToolSpec
from funreason_assets.lib.value_types import (
    FILLER,
    ValueContext,
    provide_value,
    validate_value,
    value_type,
)

Provenance = Literal["output", "state", "schema", "literal"]

_STOPWORDS = frozenset(
    "a an the of to for in on and or is be by with from that this it its as at if "
    "which are will can should must use used using not no yes into any all each be "
    "default given specified user's value values number list".split()
)
_GENERIC_FIELDS = frozenset(
    {"status", "result", "message", "error", "success", "type", "count", "content", "name"}
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z][a-z0-9]*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


@lru_cache(maxsize=4096)
def tokens(text: str) -> frozenset[str]:
    """Lower-case content words of an identifier or a sentence (snake and camel case split)."""
    spaced = _CAMEL.sub(" ", text).replace("_", " ").lower()
    return frozenset(
        _stem(word) for word in _WORD.findall(spaced) if word not in _STOPWORDS
    )


def _stem(word: str) -> str:
    """Fold simple plurals so `airports` matches `airport`."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class UnbindableError(LookupError):
    """A required parameter has no value of its type: the tool is not legal at this step."""


@dataclass(frozen=True)
class BoundValue:
    """A value chosen for a parameter and where it came from.

    Attributes:
        value: The argument value.
        provenance: `output` (an earlier call produced it), `state` (an entity in the current
            state), `schema` (the documented set, a value the code names, the default),
            `literal` (a fresh value the user states, made by the type's provider).
        source: For `output`, `call:<index>:<field path>`; for `state`, the state path; for
            `schema`, `enum`, `mined` or `default`; for `literal`, `provider`.
        value_type: The parameter's semantic type.
        entity: The key of the entity a found value belongs to (the card whose number it is),
            so the call's other values are taken from the same one.
    """

    value: Any
    provenance: Provenance
    source: str = ""
    value_type: str = ""
    entity: str = ""


class ValueSource:
    """A candidate value with the path it was found at and that path's tokens.

    The printable path is built only when asked for: a state walk creates thousands of
    sources and binding reads the path of the one it picks.
    """

    __slots__ = ("_path", "parts", "path_tokens", "prefix", "provenance", "value")

    def __init__(
        self,
        value: Any,
        path: str | None,
        path_tokens: frozenset[str],
        provenance: Provenance,
        prefix: str = "",
        parts: tuple[str, ...] = (),
    ):
        """Create a source from a ready path, or from a prefix and path parts."""
        self.value = value
        self._path = path
        self.path_tokens = path_tokens
        self.provenance = provenance
        self.prefix = prefix
        self.parts = parts

    @property
    def path(self) -> str:
        """The dotted path of the value (`Class.field.key`, `call:<i>:<tool>:field`)."""
        if self._path is None:
            self._path = _join(self.prefix, self.parts)
        return self._path


_SKIPPED_PARTS = frozenset({"[]", "<key>", ""})


# Paths carry entity ids (file names, card ids), so paths of earlier dialogues rarely come
# back: a small cache keeps the hits of the current state walks, while a large one mostly
# holds dead entries that every full garbage collection has to visit.
@lru_cache(maxsize=4096)
def _path_tokens(parts: tuple[str, ...]) -> frozenset[str]:
    """Tokens of the last two named components of a path (ids and indexes skipped)."""
    named = [part for part in parts if part not in _SKIPPED_PARTS and not part.isdigit()]
    return tokens(" ".join(named[-2:]))


def _leaf_sources(
    data: Any,
    parts: tuple[str, ...],
    prefix: str,
    provenance: Provenance,
    out: list[ValueSource],
    depth: int = 0,
    limit: int = 4000,
) -> None:
    # JSON-able data is plain dicts, lists and scalars: exact type checks are much faster
    # than the abstract-base-class checks this hot loop would otherwise pay for, and scalars
    # (most values) are told apart before the costlier test for a live object.
    if depth > 8 or len(out) >= limit:
        return
    kind = type(data)
    if kind is dict:
        append = out.append
        for key, value in data.items():
            value_kind = type(value)
            if value_kind is str:
                if value and len(value) <= 200:
                    sub = (*parts, str(key))
                    append(ValueSource(value, None, _path_tokens(sub), provenance, prefix, sub))
            elif value_kind is int or value_kind is float:
                sub = (*parts, str(key))
                append(ValueSource(value, None, _path_tokens(sub), provenance, prefix, sub))
            elif value_kind is dict or value_kind is list or (
                value_kind is not bool and hasattr(value, "__dict__") and not callable(value)
            ):
                key = str(key)
                # Keys of a mapping of entities are themselves entities (file names, symbols,
                # card ids, user names).
                append(
                    ValueSource(key, None, _path_tokens(parts), provenance, prefix,
                                (*parts, "<key>"))
                )
                _leaf_sources(value, (*parts, key), prefix, provenance, out, depth + 1, limit)
    elif kind is list:
        sub = (*parts, "[]")
        for item in data[:50]:
            _leaf_sources(item, sub, prefix, provenance, out, depth + 1, limit)
    elif kind is str:
        if data and len(data) <= 200:
            out.append(ValueSource(data, None, _path_tokens(parts), provenance, prefix, parts))
    elif kind is int or kind is float:
        out.append(ValueSource(data, None, _path_tokens(parts), provenance, prefix, parts))
    elif kind is tuple:
        _leaf_sources(list(data), parts, prefix, provenance, out, depth, limit)
    elif kind is set or kind is frozenset:
        _leaf_sources(sorted(data, key=str), parts, prefix, provenance, out, depth, limit)
    elif hasattr(data, "__dict__") and not callable(data) and kind is not bool:
        # A live object (a directory of the file system): its public attributes, minus
        # back references to an enclosing object.
        if depth > 0 and parts and parts[-1] == "parent":
            return
        attributes = {
            key: value for key, value in vars(data).items()
            if not key.startswith("_") and key != "parent"
        }
        _leaf_sources(attributes, parts, prefix, provenance, out, depth, limit)


def _join(prefix: str, parts: Sequence[str]) -> str:
    path = ".".join(parts).replace(".[]", "[]")
    if prefix.endswith(":"):
        # An output's prefix `call:<index>:<tool>:` is followed by the field path directly.
        return prefix + path
    return f"{prefix}.{path}" if prefix and path else (prefix or path)


def state_sources(state: Mapping[str, Any], limit: int = 4000) -> list[ValueSource]:
    """Every scalar and entity key in a JSON-able state, with its path.

    The class name heading each path is kept in the path but not in the matching tokens: it
    says nothing about what a value is.
    """
    out: list[ValueSource] = []
    for class_name, class_state in state.items():
        out.extend(class_sources(class_name, class_state, limit))
    return out


def class_sources(class_name: str, class_state: Any, limit: int = 4000) -> list[ValueSource]:
    """Candidate values of one class's state, at most `limit` of them."""
    out: list[ValueSource] = []
    _leaf_sources(class_state, (), class_name, "state", out, limit=limit)
    return out


def output_sources(outputs: Sequence[tuple[int, str, Any]]) -> list[ValueSource]:
    """Candidate values from earlier call outputs: `(call index, tool name, output)` triples."""
    out: list[ValueSource] = []
    for index, tool_name, output in outputs:
        # Each output has its own budget of sources.
        found: list[ValueSource] = []
        _leaf_sources(output, (), f"call:{index}:{tool_name}:", "output", found)
        out.extend(found)
    return out


@dataclass(frozen=True)
class ParamProfile:
    """Precomputed facts about one parameter for fast matching."""

    name: str
    schema: Mapping[str, Any]
    name_tokens: frozenset[str]
    description_tokens: frozenset[str]
    required: bool
    description_numbers: tuple[float, ...] = ()

    @cached_property
    def token_weights(self) -> tuple[tuple[str, int], ...]:
        """Each name or description token with its weight in `match_score`.

        Summing the weights of the tokens a path shares with the parameter gives its match
        score. Tokens are walked in sorted order (as in `SourcePool.related`): set order
        changes with the interpreter's hash seed, and ties in the ranking follow this order,
        so any other order would give different plans in different processes.
        """
        name, description = self.name_tokens, self.description_tokens
        return tuple(
            (token, 3 * (token in name) + (token in description))
            for token in sorted(name | description)
        )

    @cached_property
    def accepted_scalars(self) -> dict[type, bool]:
        """`_type_ok` for the exact scalar types candidate values have (it reads only the type)."""
        return {kind: _type_ok(self.schema, kind()) for kind in (str, int, float)}


@lru_cache(maxsize=8192)
def _profiles(tool: ToolSpec) -> tuple[ParamProfile, ...]:
    properties = tool.parameters.get("properties", {})
    required = set(tool.required)
    profiles = []
    for name, schema in properties.items():
        description = schema.get("description", "")
        numbers = tuple(float(match) for match in _NUMBER.findall(description))
        profiles.append(
            ParamProfile(
                name=name,
                schema=schema,
                name_tokens=tokens(name),
                description_tokens=tokens(description),
                required=name in required,
                description_numbers=numbers,
            )
        )
    return tuple(profiles)


def param_profiles(tool: ToolSpec) -> tuple[ParamProfile, ...]:
    """Profiles of a tool's parameters (cached)."""
    return _profiles(tool)


def _type_ok(schema: Mapping[str, Any], value: Any) -> bool:
    expected = schema.get("type")
    if isinstance(value, bool):
        return expected in (None, "boolean")
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int)
    if expected == "number":
        return isinstance(value, int | float)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "boolean":
        return False
    return True


def match_score(profile: ParamProfile, source: ValueSource) -> int:
    """How well a value's path matches a parameter (0 = unrelated)."""
    if not source.path_tokens:
        return 0
    name_overlap = len(profile.name_tokens & source.path_tokens)
    description_overlap = len(profile.description_tokens & source.path_tokens)
    if name_overlap == 0 and description_overlap == 0:
        return 0
    return 3 * name_overlap + description_overlap


class SourcePool:
    """Candidate values indexed by path token, so matching a parameter touches few sources."""

    def __init__(self, sources: Iterable[ValueSource] = ()):
        """Index the given sources."""
        self.sources: list[ValueSource] = []
        self.by_token: dict[str, list[ValueSource]] = {}
        # Ranked candidates per parameter profile, valid until the pool changes: a tool is
        # usually bound several times (re-samples, retries) against the same pool.
        self.ranked: dict[Any, list[tuple[int, ValueSource]]] = {}
        # A union is a view of the pools it was made of until it must be changed: it is
        # built for every state change and usually queried for a handful of tokens only.
        self._parts: tuple[SourcePool, ...] = ()
        self.extend(sources)

    def extend(self, sources: Iterable[ValueSource]) -> None:
        """Add sources."""
        self._own()
        self.ranked.clear()
        added = list(sources)
        self.sources.extend(added)
        index = self.by_token.setdefault
        for source in added:
            for token in source.path_tokens:
                index(token, []).append(source)

    def _own(self) -> None:
        if self._parts:
            parts, self._parts = self._parts, ()
            for pool in parts:
                self.sources.extend(pool.sources)
                for token, items in pool.by_token.items():
                    self.by_token.setdefault(token, []).extend(items)

    def related(self, profile: ParamProfile) -> list[ValueSource]:
        """Sources sharing at least one token with the parameter's name or description."""
        seen: set[int] = set()
        found: list[ValueSource] = []
        for token in sorted(profile.name_tokens | profile.description_tokens):
            for pool in self._parts or (self,):
                for source in pool.by_token.get(token, ()):
                    if id(source) not in seen:
                        seen.add(id(source))
                        found.append(source)
        return found

    def scored(self, profile: ParamProfile) -> list[list[Any]]:
        """`[match score, source]` of the `related` sources, in the same order.

        Scores are summed over the shared tokens while walking the index, instead of
        intersecting token sets per source afterwards.
        """
        found: dict[int, list[Any]] = {}
        pools = self._parts or (self,)
        for token, weight in profile.token_weights:
            for pool in pools:
                items = pool.by_token.get(token)
                if not items:
                    continue
                for source in items:
                    entry = found.get(id(source))
                    if entry is None:
                        found[id(source)] = [weight, source]
                    else:
                        entry[0] += weight
        return list(found.values())

    def all_sources(self) -> list[ValueSource]:
        """Every source, including those of the pools a union reads."""
        return [source for pool in (self._parts or (self,)) for source in pool.sources]

    def __len__(self) -> int:
        if self._parts:
            return sum(len(pool) for pool in self._parts)
        return len(self.sources)

    @classmethod
    def union(cls, pools: Iterable[SourcePool]) -> SourcePool:
        """One pool holding the sources of several (the inputs stay untouched).

        The union reads the given pools until it is extended or copied itself, so they must
        not be extended while it is in use.
        """
        merged = cls()
        merged._parts = tuple(part for pool in pools for part in (pool._parts or (pool,)))
        return merged

    def copy(self) -> SourcePool:
        """A shallow copy that can be extended independently."""
        self._own()
        clone = SourcePool()
        clone.sources = list(self.sources)
        clone.by_token = {token: list(items) for token, items in self.by_token.items()}
        return clone


Pool = Sequence[ValueSource] | SourcePool | Callable[[], "Sequence[ValueSource] | SourcePool"]


class ParameterTyping(Protocol):
    """What the binder needs to know of a registry: each parameter's semantic type."""

    def value_type(self, tool_name: str, parameter: str) -> str:
        """The semantic value type of one parameter."""
        ...

    def value_context(
        self, tool_name: str, parameter: str, persona: Mapping[str, Any] | None = None
    ) -> ValueContext:
        """What a validator or provider knows about one parameter."""
        ...

    def owner(self, tool_name: str) -> str | None:
        """The class that owns a tool."""
        ...

    def value_types(self) -> Mapping[str, Mapping[str, Any]]:
        """Tool -> parameter -> its typing record (with a `value_type`)."""
        ...


# Types a person writes in their own words: made by the type's provider, never copied from an
# output or a state field (that is how tool results ended up pasted into messages).
FREE_TEXT_TYPES = frozenset(
    {"message_text", "tweet_text", "comment_text", "ticket_title", "ticket_description",
     "ticket_resolution", "file_text", "support_message", "log_messages"}
)
# What a call creates: made fresh, never copied from an existing entity (a new file's name,
# the details of a card being registered, which copied from a registered card register it
# twice).
FRESH_NAME_TYPES = frozenset(
    {"new_file_name", "new_directory_name", "card_number", "expiry_date",
     "card_verification_number"}
)
# Types whose documented set (schema enum, options in the description, values the code names)
# is where their values come from when no earlier output or state entity holds one.
ENUM_LIKE_TYPES = frozenset(
    {"enum", "city", "airport_code", "zipcode", "sector", "company_name", "unit"}
)
# Values nobody knows by heart: a zip code is looked up from its city, so a parameter of this
# type that a tool produces is never taken from the code's literal tables.
LOOKED_UP_TYPES = frozenset({"zipcode"})
# Quantities read off the world (a stock's current price, the distance between two places): a
# tool that measures one returns it in a field named as the parameter, and a person asking
# for the call has it from there, not from their head.
MEASURED_TYPES = frozenset({"stock_price", "distance"})
# Types an array parameter is built of from single candidates (one list in the state or an
# output is flattened into its items).
_LIST_FROM_ITEMS = frozenset({"ticker_list", "username_list", "mention_list"})
# A credential, a person's name or an id is taken only from a field of that kind: the field's
# path (or, for an output, the name of the tool that produced it) must carry one of these
# words (a password from `TwitterAPI.password`, never from a ticket's creator; a client id
# never from a booking's transaction id).
_KIND_WORDS: dict[str, frozenset[str]] = {
    "password": frozenset({"password"}),
    "username": frozenset({"username", "user", "handle", "following", "follower"}),
    "username_list": frozenset({"username", "user", "handle", "following", "follower"}),
    "person_name": frozenset({"name", "holder", "cardholder", "user", "contact"}),
    "first_name": frozenset({"first", "name", "user", "contact"}),
    "last_name": frozenset({"last", "name", "surname"}),
    "client_id": frozenset({"client"}),
    "client_secret": frozenset({"secret"}),
    "refresh_token": frozenset({"refresh"}),
    "access_token": frozenset({"access", "token"}),
    "user_id": frozenset({"user", "receiver", "sender"}),
    "card_id": frozenset({"card"}),
    "booking_id": frozenset({"booking"}),
    "insurance_id": frozenset({"insurance"}),
    "order_id": frozenset({"order"}),
    "ticket_id": frozenset({"ticket"}),
    "tweet_id": frozenset({"tweet"}),
}
# Who the user is and what they hold: when the state or an earlier output has one, it is the
# one (a made-up first name beside the traveler's real last name authenticates no one).
IDENTITY_TYPES = frozenset(
    {"person_name", "first_name", "last_name", "username", "password", "user_id", "client_id",
     "client_secret", "refresh_token", "access_token"}
)
# Tools that open a session, for which the identity given is the user's own.
_SESSION_TOOL = re.compile(r"login|authenticat|sign_?in")
# Parameters that name someone else (the receiver of a message, a user to follow): never the
# account's own user, which the class's top-level user fields hold (`current_user`).
_OTHER_PARTY = frozenset(
    {"receiver", "recipient", "follow", "unfollow", "mention", "mentioned", "contact"}
)
_OWN_ACCOUNT = frozenset({"user", "username", "current"})
# Fields of a persona's friend that name them, per type (`+` joins fields, `@` prefixes one).
_FRIEND_FIELDS: dict[str, tuple[str, ...]] = {
    "username": ("handle", "username"),
    "username_list": ("handle",),
    "mention_list": ("@handle",),
    "first_name": ("first_name",),
    "person_name": ("first_name+last_name",),
}
# Values that make a call pointless for a type: `cd('.')` changes nothing.
_POINTLESS: dict[str, tuple[Any, ...]] = {
    "directory_name": (".",),
    "new_directory_name": (".", ".."),
}
# Two parameters of one call with the same value of one of these kinds defeat the call's
# purpose (copying a file onto itself, a flight from an airport to itself); numbers, dates
# and switches may legitimately repeat.
_MAY_REPEAT = frozenset(
    {"boolean", "boolean_text", "date", "timestamp", "birth_date", "expiry_date"}
)
# Types too general to tell two kinds of value apart (a `number` field may fill a `distance`).
_GENERIC_TYPES = frozenset({"number", "text", "identifier", "enum", "boolean"})
# Parameter pairs whose values must be ordered (`min_price` <= `max_price`).
_ORDERED_PREFIXES = (("min_", "max_"), ("start_", "end_"), ("from_", "to_"))
# Verdicts kept per parameter type before the cache is started afresh.
_VERDICTS_PER_TYPE = 20_000
# Schema defaults that stand for "no value" in the BFCL docs.
_NO_DEFAULT = (None, "None", "")

# Words a search term is never made of: they match nearly everything and say nothing.
SEARCH_STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further had has have having he her here hers herself him himself his how i if in "
    "into is it its itself just let me more most my myself no nor not now of off on once "
    "only or other our ours ourselves out over own same she should so some such than that "
    "the their theirs them themselves then there these they this those through to too "
    "under until up very was we were what when where which while who whom why will with "
    "would you your yours yourself yourselves also got get via per new one two okay yes "
    "thanks thank please hey hi just really still well".split()
)
_TERM_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*[A-Za-z0-9]")
_NAME_PART = re.compile(r"[A-Za-z][A-Za-z0-9]+")

# Fresh names and log lines for types the vocabulary gives no provider: a user names the file
# or folder they create. The persona's topics make them fit the scenario.
_NAME_SUFFIXES = ("notes", "plan", "draft", "summary", "review", "archive", "backup", "ideas")
_EXTENSIONS = ("txt", "md", "csv", "log", "json")
_FALLBACK_SUBJECTS = (
    "supplier contract", "onboarding checklist", "office move", "conference trip",
    "budget review", "vendor list", "release plan", "team offsite",
)
_LOG_LINES = (
    "Started the drive to {place}",
    "Checked the tire pressure before leaving for {place}",
    "Refuel planned on the way to {place}",
    "Parked near {place} for the meeting",
    "Service appointment booked for next week",
    "Engine warmed up before the trip",
)


@dataclass(frozen=True)
class ParameterSlot:
    """A parameter as the binder fills it: its semantic type and its validators' context.

    Attributes:
        value_type: The type's name in the vocabulary.
        searchable: Whether the value is a search term (drawn from content in the state).
        context: The validators' context (schema, documented set, no persona).
        persona_context: The providers' context (with the scenario's persona).
    """

    value_type: str
    searchable: bool
    context: ValueContext
    persona_context: ValueContext


@dataclass(frozen=True)
class StateContent:
    """Text and entity names of one class's state, with their paths (what searches look in).

    Attributes:
        texts: `(path parts, text)` of every string with a space in it (messages, tweets,
            file contents).
        names: `(path parts, key)` of every key of a mapping of entities (file and directory
            names).
    """

    texts: tuple[tuple[tuple[str, ...], str], ...]
    names: tuple[tuple[tuple[str, ...], str], ...]


def state_content(data: Any, limit: int = 5000) -> StateContent:
    """The searchable text and entity names of a class's public state (live or JSON-able)."""
    texts: list[tuple[tuple[str, ...], str]] = []
    names: list[tuple[tuple[str, ...], str]] = []
    # The top level holds the class's fields, not entities.
    fields = data if type(data) is dict else vars(data) if _is_object(data) else {}
    for key, value in fields.items():
        if not str(key).startswith("_"):
            _content_leaves(value, (str(key),), texts, names, 1, limit)
    return StateContent(tuple(texts), tuple(names))


def _content_leaves(
    data: Any,
    parts: tuple[str, ...],
    texts: list[tuple[tuple[str, ...], str]],
    names: list[tuple[tuple[str, ...], str]],
    depth: int,
    limit: int,
) -> None:
    if depth > 10 or len(texts) + len(names) >= limit:
        return
    kind = type(data)
    if kind is str:
        if " " in data:
            texts.append((parts, data))
    elif kind is dict:
        for key, value in data.items():
            key = str(key)
            if type(value) is dict or _is_object(value):
                # A key of a mapping of entities names one (a file, a directory).
                names.append((parts, key))
            _content_leaves(value, (*parts, key), texts, names, depth + 1, limit)
    elif kind is list or kind is tuple:
        sub = (*parts, "[]")
        for item in data[:200]:
            _content_leaves(item, sub, texts, names, depth + 1, limit)
    elif _is_object(data):
        # A live object's attributes are fields, not entity names.
        for key, value in vars(data).items():
            if not key.startswith("_") and key != "parent":
                _content_leaves(value, (*parts, key), texts, names, depth + 1, limit)


def _is_object(value: Any) -> bool:
    return hasattr(value, "__dict__") and not callable(value) and type(value) is not bool


Content = StateContent | Callable[[], StateContent] | None


class ArgumentBinder:
    """Chooses arguments for a tool by each parameter's semantic type, with provenance.

    For every parameter, in this order: an earlier output whose value validates as the
    parameter's type and whose path matches the parameter; an entity of the tool's class state
    that does; the type's documented set; the schema's default; the type's provider (seeded by
    the caller's generator, with the scenario's persona). A value that fails the type's
    validator is never bound; free text comes from the provider only; a search term is drawn
    from the content it searches. A required parameter with no such value makes the tool
    unbindable (`UnbindableError`): there is no fallback.
    """

    def __init__(
        self,
        rng: random.Random,
        typing: ParameterTyping,
        optional_rate: float = 0.3,
        literals: LiteralDomains | None = None,
        persona: Mapping[str, Any] | None = None,
        verdicts: dict[Any, dict[Any, bool]] | None = None,
    ):
        """Create a binder.

        Args:
            rng: The random source (the caller's seeded generator).
            typing: Each parameter's semantic type and context (the tool registry).
            optional_rate: Probability of also filling an optional parameter.
            literals: Values the tools' code is known to accept (mined from source).
            persona: The scenario's persona, for providers (names, topics, cities).
            verdicts: A cache of validators' verdicts to share with other binders of the same
                typing (a value's verdict for a parameter never changes).
        """
        self.rng = rng
        self.typing = typing
        self.optional_rate = optional_rate
        self.literals = literals or LiteralDomains()
        self.persona = dict(persona or {})
        # How the persona is named on the services (first name, user name, handle).
        self._personal = frozenset(
            str(self.persona[key]) for key in ("first_name", "username", "handle")
            if self.persona.get(key)
        )
        self._typed: dict[tuple[str, str], ParameterSlot] = {}
        self._verdicts: dict[Any, dict[Any, bool]] = {} if verdicts is None else verdicts
        self._call_topic: str | None = None
        # Values earlier rounds of the dialogue passed or returned (`remember`): a value found
        # again is preferred, so a later round acts on the entity an earlier one made or named.
        self.remembered: set[Any] = set()
        # The texts among them: a written text repeating one is not new.
        self._remembered_texts: set[str] = set()

    def remember(self, values: Iterable[Any]) -> None:
        """Add values of a kept round (ids, names, files) to what later rounds prefer."""
        for value in values:
            self.remembered.add(_hashable(value))
            if isinstance(value, str):
                self._remembered_texts.add(value)

    # ------------------------------------------------------------------ types

    def typed(self, tool_name: str, parameter: str) -> ParameterSlot:
        """A parameter's type and contexts (cached)."""
        key = (tool_name, parameter)
        typed = self._typed.get(key)
        if typed is None:
            name = self.typing.value_type(tool_name, parameter)
            context = self.typing.value_context(tool_name, parameter)
            persona_context = (
                self.typing.value_context(tool_name, parameter, self.persona)
                if self.persona else context
            )
            typed = self._typed[key] = ParameterSlot(
                name, value_type(name).searchable, context, persona_context
            )
        return typed

    def valid(self, typed: ParameterSlot, value: Any, items: bool = False) -> bool:
        """Whether a value validates as the type (as a one-item list when `items`)."""
        kind = type(value)
        if kind is list or kind is dict:
            return validate_value(typed.value_type, value, typed.context) is None
        group = (typed.value_type, id(typed.context), items)
        verdicts = self._verdicts.get(group)
        if verdicts is None or len(verdicts) > _VERDICTS_PER_TYPE:
            # Bounded: paths and values of long runs do not pile up.
            verdicts = self._verdicts[group] = {}
        # Strings, most candidates, are their own key; `1`, `1.0` and `True` are told apart.
        key = value if kind is str else (kind, value)
        verdict = verdicts.get(key)
        if verdict is None:
            candidate = [value] if items else value
            verdict = validate_value(typed.value_type, candidate, typed.context) is None
            if verdict and value in _POINTLESS.get(typed.value_type, ()):
                verdict = False
            verdicts[key] = verdict
        return verdict

    # ------------------------------------------------------------------ candidates

    def candidates(
        self,
        profile: ParamProfile,
        sources: Iterable[ValueSource] | SourcePool,
        typed: ParameterSlot,
    ) -> list[tuple[int, ValueSource]]:
        """Sources whose path matches the parameter and whose value validates, best first."""
        if isinstance(sources, SourcePool):
            key = (id(profile), typed.value_type)
            cached = sources.ranked.get(key)
            if cached is None:
                cached = self._keep_valid(
                    self._rank_scored(profile, sources.scored(profile), typed), typed
                )
                sources.ranked[key] = cached
            return cached
        return self._keep_valid(self._rank(profile, sources, typed), typed)

    def _keep_valid(
        self, ranked: list[tuple[int, ValueSource]], typed: ParameterSlot
    ) -> list[tuple[int, ValueSource]]:
        items = typed.value_type in _LIST_FROM_ITEMS
        kind = _KIND_WORDS.get(typed.value_type)
        return [
            (score, source) for score, source in ranked
            if (kind is None or kind & source.path_tokens or kind & _producer_tokens(source))
            and self.valid(typed, source.value, items)
            and self._field_fits(source, typed.value_type)
        ]

    def _field_fits(self, source: ValueSource, kind: str) -> bool:
        """Whether the field a value sits in may hold a value of the type.

        A field named like a parameter of its class's tools has that parameter's type: a
        card's `card_number` is no `card_id`, the `amount` `place_order` echoes is a number of
        shares. A field no parameter is named like, one of a generic type, or one with a
        generic name (`name`, `content`) says nothing.
        """
        field = _field_of(source.parts)
        if field is None or field in _GENERIC_FIELDS:
            return True
        if source.provenance == "output":
            owner = self.typing.owner(source.prefix.split(":", 3)[2])
        else:
            owner = source.prefix.split(".", 1)[0]
        types = _field_types(self.typing, owner).get(field)
        return not types or kind in types

    def _rank_scored(
        self, profile: ParamProfile, scored: list[list[Any]], typed: ParameterSlot
    ) -> list[tuple[int, ValueSource]]:
        # Equivalent to `_rank` over `related`: every related source shares a token, so its
        # score is positive.
        schema = _element_schema(profile.schema, typed)
        enum = schema.get("enum")
        accepts = (
            profile.accepted_scalars if schema is profile.schema
            else {kind: _type_ok(schema, kind()) for kind in (str, int, float)}
        )
        kept = []
        for score, source in scored:
            value = source.value
            accepted = accepts.get(type(value))
            if accepted is None:
                accepted = _type_ok(schema, value)
            if accepted and (enum is None or value in enum):
                kept.append((score, source))
        kept.sort(key=itemgetter(0), reverse=True)  # stable: ties keep the related order
        return kept

    def _rank(
        self,
        profile: ParamProfile,
        sources: Iterable[ValueSource],
        typed: ParameterSlot | None = None,
    ) -> list[tuple[int, ValueSource]]:
        schema = profile.schema if typed is None else _element_schema(profile.schema, typed)
        enum = schema.get("enum")
        scored = []
        for source in sources:
            if not _type_ok(schema, source.value):
                continue
            if enum is not None and source.value not in enum:
                continue
            score = match_score(profile, source)
            if score > 0:
                scored.append((score, source))
        scored.sort(key=lambda pair: -pair[0])
        return scored

    # ------------------------------------------------------------------ binding

    def bind(
        self,
        tool: ToolSpec,
        outputs: Pool = (),
        state: Pool = (),
        fixed: Mapping[str, BoundValue] | None = None,
        sourced: frozenset[str] = frozenset(),
        content: Content = None,
        attempt: int = 0,
        produced_only: bool = False,
    ) -> dict[str, BoundValue]:
        """Bind every required parameter (and some optional ones) of a tool.

        Args:
            tool: The tool to call.
            outputs: Candidate values produced by earlier calls (preferred).
            state: Candidate values of the tool's class state, or a function computing them
                (called only if a parameter needs them).
            fixed: Parameters already decided by the caller.
            sourced: Parameters whose value a tool produces (graph data sources): they bind
                only from outputs or state.
            content: Text and entity names of the tool's class state (or a function making
                them), where search terms come from.
            attempt: How many bindings of this call failed before: providers use the persona
                on the first attempt and their own word lists after (the persona's own name
                is not a new contact).
            produced_only: Bind `sourced` parameters from earlier outputs only.

        Returns:
            Parameter name -> bound value, in the tool's parameter order.

        Raises:
            UnbindableError: If a required parameter has no value of its type.
        """
        rng = self.rng
        self._call_topic = None
        bound: dict[str, BoundValue] = dict(fixed or {})
        joint = self.literals.joint.get(tool.name)
        if joint and rng.random() < 0.7:
            names, rows = rng.choice(joint)
            if not any(
                name in bound
                or (name in sourced and self.typed(tool.name, name).value_type in LOOKED_UP_TYPES)
                for name in names
            ):
                row = rng.choice(rows)
                values = {}
                for name, value in zip(names, row, strict=True):
                    typed = self.typed(tool.name, name)
                    values[name] = BoundValue(value, "schema", "mined", typed.value_type)
                if all(self.valid(self.typed(tool.name, n), v.value) for n, v in values.items()):
                    bound.update(values)
        profiles = param_profiles(tool)
        # Search terms last: they are drawn from what the other arguments point at (the lines
        # of the file bound as `file_name`).
        ordered = sorted(profiles, key=lambda p: self.typed(tool.name, p.name).searchable)
        chosen: dict[str, BoundValue] = {}
        for profile in ordered:
            if profile.name in bound:
                chosen[profile.name] = bound[profile.name]
                continue
            if not profile.required and rng.random() >= self.optional_rate:
                continue
            try:
                chosen[profile.name] = self.bind_one(
                    tool, profile, outputs,
                    () if produced_only and profile.name in sourced else state,
                    profile.name in sourced, chosen, content, attempt,
                )
            except UnbindableError:
                if profile.required:
                    raise
        _order_pairs(chosen)
        _temperature_in_unit(chosen)
        return {p.name: chosen[p.name] for p in profiles if p.name in chosen}

    def bind_one(
        self,
        tool: ToolSpec,
        profile: ParamProfile,
        outputs: Pool = (),
        state: Pool = (),
        sourced: bool = False,
        bound: Mapping[str, BoundValue] | None = None,
        content: Content = None,
        attempt: int = 0,
    ) -> BoundValue:
        """Bind one parameter by its type: outputs, state, documented set, default, provider.

        Raises:
            UnbindableError: If no value of the parameter's type can be found or made.
        """
        rng = self.rng
        bound = bound or {}
        typed = self.typed(tool.name, profile.name)
        kind = typed.value_type
        # Values of same-typed parameters of this call, which this one must not repeat.
        taken = [] if kind in _MAY_REPEAT else [
            value.value for name, value in bound.items()
            if value.value_type == kind and not isinstance(value.value, bool | int | float)
        ]
        # Entities the call already names, which a found value should belong to.
        anchors = [
            anchor for value in bound.values()
            if value.provenance in ("output", "state") and value.value_type != kind
            for anchor in (
                str(value.value) if type(value.value) in (str, int) else "", value.entity
            )
            if anchor
        ]
        if typed.searchable and not sourced:
            term = self._search_term(tool, profile, typed, bound, content)
            if term is not None:
                return term
            raise UnbindableError(f"{tool.name}.{profile.name}: nothing to search for")
        # A number the user decides (an amount, a speed) is not read off the state: a state's
        # numbers describe it (a balance, the distance to the next car), they are not orders.
        chosen_by_user = profile.schema.get("type") in ("integer", "number") and (
            value_type(kind).provide is not None
        )
        pools = ((outputs, 0.9, True),)
        if not chosen_by_user:
            pools += ((state, 0.85, False),)
        # Found values are taken for sure when nothing could be made instead (an id), and for
        # who the user is; otherwise now and then a documented or fresh value is used.
        certain = (
            sourced
            or kind in IDENTITY_TYPES
            or (value_type(kind).provide is None and kind not in ENUM_LIKE_TYPES)
        )
        if kind not in FREE_TEXT_TYPES and kind not in FRESH_NAME_TYPES:
            for pool, chance, produced in pools:
                if callable(pool):
                    pool = pool()
                if not len(pool):
                    continue
                ranked = self.candidates(profile, pool, typed)
                if chosen_by_user:
                    # Only an output field named as the parameter (a `distance` for a
                    # `distance`): the outside temperature is no cabin temperature.
                    ranked = [
                        (score, s) for score, s in ranked
                        if _field_tokens(s.parts) == profile.name_tokens
                    ]
                if kind in IDENTITY_TYPES and produced:
                    # Who someone is on one service says nothing of another: a message
                    # contact's name is no Twitter account.
                    ranked = [
                        (score, s) for score, s in ranked
                        if self.typing.owner(s.prefix.split(":", 3)[2]) == tool.class_name
                    ]
                if kind in IDENTITY_TYPES and _SESSION_TOOL.search(tool.name.lower()):
                    # Whoever logs in is the user: their own id (`user_map[<their name>]`),
                    # not the first contact found.
                    known = _personal_values(state, self._personal)
                    personal = self._personal | known
                    mine = [
                        (score, s) for score, s in ranked
                        if personal & ({str(s.value)} | set(s.parts))
                    ]
                    if known and not mine:
                        continue  # the state knows who they are: not someone an output names
                    ranked = mine or ranked
                if profile.name_tokens & _OTHER_PARTY:
                    own = _own_account(state)
                    ranked = [(score, s) for score, s in ranked if s.value not in own]
                if taken:
                    ranked = [(score, s) for score, s in ranked if s.value not in taken]
                if anchors and ranked:
                    # The values of one call belong together: the price of the stock the
                    # order is for, the card of the booking being insured.
                    coherent = [
                        (score, s) for score, s in ranked
                        if any(anchor in s.parts for anchor in anchors)
                    ]
                    ranked = coherent or ranked
                if self.remembered and ranked and kind not in _NOT_REMEMBERED:
                    again = [
                        (score, s) for score, s in ranked
                        if _hashable(s.value) in self.remembered
                    ]
                    if again and rng.random() < _REMEMBER_CHANCE:
                        ranked = again
                if ranked and (certain or rng.random() < chance):
                    if kind in _LIST_FROM_ITEMS:
                        return self._list_of(ranked, typed)
                    best = ranked[0][0]
                    choice = rng.choice([source for score, source in ranked if score >= best - 1])
                    return BoundValue(
                        choice.value, choice.provenance, choice.path, kind,
                        _entity_of(choice.parts),
                    )
        if sourced:
            raise UnbindableError(f"{tool.name}.{profile.name}: no earlier value of type {kind}")
        made = self._documented(tool, profile, typed, taken)
        if (
            made is None
            and chosen_by_user
            and profile.description_numbers
            and rng.random() < 0.3
        ):
            made = self._described_number(profile, typed)
        if made is None and profile.name_tokens & _OTHER_PARTY:
            made = self._friend(typed, _own_account(state))
        if made is None:
            # Written text says something new: not a message or title already in the state
            # or an earlier output (the same tweet twice is a repost, not a post).
            # Nor one an earlier round passed or returned.
            present = (
                _present_texts(outputs, content) | self._remembered_texts
                if kind in FREE_TEXT_TYPES else set()
            )
            made = self._made(profile, typed, taken, attempt, present)
        if made is None:
            raise UnbindableError(f"{tool.name}.{profile.name}: no value of type {kind}")
        return made

    def _list_of(
        self, ranked: list[tuple[int, ValueSource]], typed: ParameterSlot
    ) -> BoundValue:
        """A list of 1-3 distinct candidates of the best-matching group (one source kind)."""
        best = ranked[0][0]
        top = [source for score, source in ranked if score >= best - 1]
        distinct = list({_hashable(source.value): source for source in top}.values())
        picked = self.rng.sample(distinct, min(len(distinct), self.rng.randint(1, 3)))
        value = [source.value for source in picked]
        if not self.valid(typed, value):
            value, picked = value[:1], picked[:1]
        first = picked[0]
        return BoundValue(value, first.provenance, first.path, typed.value_type)

    def _documented(
        self, tool: ToolSpec, profile: ParamProfile, typed: ParameterSlot, taken: list[Any]
    ) -> BoundValue | None:
        """A value of the documented set (schema enum, listed options, values the code names)."""
        context = typed.context
        if typed.value_type not in ENUM_LIKE_TYPES:
            return None
        known = context.enum or (list(context.domain) if context.domain else None)
        tag = "enum" if context.enum else "mined"
        if not known:
            # A parameter whose set the code does not name shares it with a sibling of the
            # same type (`si_unit_conversion` names the units of `unit_in` only).
            for sibling in param_profiles(tool):
                other = self.typed(tool.name, sibling.name)
                if sibling.name != profile.name and other.value_type == typed.value_type:
                    known = other.context.enum or (
                        list(other.context.domain) if other.context.domain else None
                    )
                    if known:
                        break
        if not known:
            return None
        rng = self.rng
        if profile.schema.get("type") == "array":
            if rng.random() < 0.5:
                value = list(known)
            else:
                value = rng.sample(known, rng.randint(1, len(known)))
            return BoundValue(value, "schema", tag, typed.value_type) if self.valid(
                typed, value) else None
        options = [value for value in known if value not in taken and self.valid(typed, value)]
        if not options:
            return None
        value = rng.choice(options)
        if tag == "mined" and value not in self.literals.values.get(tool.name, {}).get(
            profile.name, ()
        ):
            tag = "enum"  # an option the description lists, not a literal of the code
        return BoundValue(value, "schema", tag, typed.value_type)

    def _made(
        self,
        profile: ParamProfile,
        typed: ParameterSlot,
        taken: list[Any],
        attempt: int,
        present: set[str] | frozenset[str] = frozenset(),
    ) -> BoundValue | None:
        """The schema's default (half the time), else a fresh value from the type's provider.

        A value in `present` (text already written somewhere) is drawn again, a few times.
        """
        rng = self.rng
        default = profile.schema.get("default")
        if (
            "default" in profile.schema
            and default not in _NO_DEFAULT
            and default not in taken
            and rng.random() < 0.5
            and self.valid(typed, default)
        ):
            return BoundValue(default, "schema", "default", typed.value_type)
        if typed.value_type in FREE_TEXT_TYPES:
            # The texts of one call are about one thing: a ticket's title and description
            # speak of the same topic (and text is always the persona's).
            context = self._call_context(typed)
        else:
            context = typed.persona_context if attempt == 0 else typed.context
        for _ in range(5):
            value = provide_value(typed.value_type, rng, context)
            if value is None:
                value = self._compose(typed, rng, context)
            if value is None:
                return None
            written = value if isinstance(value, list) else [value]
            if (
                value not in taken
                and not any(isinstance(text, str) and text in present for text in written)
                and self.valid(typed, value)
            ):
                return BoundValue(value, "literal", "provider", typed.value_type)
        return None

    def _call_context(self, typed: ParameterSlot) -> ValueContext:
        """The persona's context narrowed to the one topic of the call being bound."""
        context = typed.persona_context
        topics = list(context.persona.get("topics") or ())
        if not topics:
            return context
        if self._call_topic is None:
            self._call_topic = self.rng.choice(topics)
        return ValueContext(
            context.schema, context.domain, {**context.persona, "topics": [self._call_topic]}
        )

    def _described_number(
        self, profile: ParamProfile, typed: ParameterSlot
    ) -> BoundValue | None:
        """A number the description names that is a value of the type (a fully pressed pedal).

        The bounds of a documented range are values people ask for; one that is not a value of
        the type (a pedal position of 0 presses nothing) is skipped.
        """
        integer = profile.schema.get("type") == "integer"
        numbers = [
            int(number) if integer else number for number in profile.description_numbers
            if not integer or number.is_integer()
        ]
        numbers = [number for number in numbers if self.valid(typed, number)]
        if not numbers:
            return None
        return BoundValue(self.rng.choice(numbers), "schema", "enum", typed.value_type)

    def _friend(self, typed: ParameterSlot, own: set[Any]) -> BoundValue | None:
        """One of the persona's friends, for a parameter naming someone else (a user to follow).

        The type's provider would name the persona itself.
        """
        fields = _FRIEND_FIELDS.get(typed.value_type)
        friends = self.persona.get("friends") or ()
        if not fields or not friends:
            return None
        values = [
            ("@" if field.startswith("@") else "")
            + " ".join(str(friend.get(name, "")) for name in field.lstrip("@").split("+"))
            for friend in friends if isinstance(friend, Mapping)
            for field in fields
        ]
        rng = self.rng
        if typed.value_type in _LIST_FROM_ITEMS:
            # Someone else's names, one to three of them (`mention(..., ['greta_t', ...])`).
            values = [value for value in values if value not in own]
            if not values:
                return None
            value: Any = rng.sample(values, min(len(values), rng.randint(1, 3)))
            if not self.valid(typed, value):
                return None
            return BoundValue(value, "literal", "provider", typed.value_type)
        values = [value for value in values if value not in own and self.valid(typed, value)]
        if not values:
            return None
        return BoundValue(rng.choice(values), "literal", "provider", typed.value_type)

    def _compose(
        self, typed: ParameterSlot, rng: random.Random, context: ValueContext
    ) -> Any:
        """Fresh values of types the vocabulary has no provider for, but a user states."""
        kind = typed.value_type
        if kind not in ("new_file_name", "new_directory_name", "log_messages"):
            return None
        persona = context.persona
        subjects = [
            re.sub(r"^(the|our|my|a) ", "", topic) for topic in persona.get("topics") or ()
        ] or list(_FALLBACK_SUBJECTS)
        if kind == "log_messages":
            places = [
                *([persona["home_city"]] if persona.get("home_city") else []),
                *(persona.get("travel_cities") or ()),
            ] or ["the office"]
            lines = rng.sample(_LOG_LINES, rng.randint(1, 3))
            return [line.format(place=rng.choice(places)) for line in lines]
        stem = "_".join(_NAME_PART.findall(rng.choice(subjects).lower())[:3])
        if persona.get("project") and rng.random() < 0.3:
            stem = f"{persona['project']}_{stem}"
        name = f"{stem}_{rng.choice(_NAME_SUFFIXES)}"
        if kind == "new_directory_name":
            return name
        return f"{name}.{rng.choice(_EXTENSIONS)}"

    # ------------------------------------------------------------------ search terms

    def _search_term(
        self,
        tool: ToolSpec,
        profile: ParamProfile,
        typed: ParameterSlot,
        bound: Mapping[str, BoundValue],
        content: Content,
    ) -> BoundValue | None:
        """A word or short phrase present in what the call searches.

        Names (`find`'s `name`) come from entity names, other terms from text. The content is
        narrowed to what another argument of the call names (the file `grep` reads, the folder
        `find` starts from) when that entity is in the state.
        """
        if callable(content):
            content = content()
        if content is None:
            return None
        rng = self.rng
        names_mode = "name" in profile.name_tokens
        items = content.names if names_mode else content.texts
        scopes = [
            value.value for value in bound.values()
            if isinstance(value.value, str) and value.value not in (".", "/", "")
        ]
        for scope in scopes:
            scoped = [(parts, text) for parts, text in items if scope in parts]
            if scoped:
                items = scoped
                break
        if not names_mode and items:
            # Prefer the text the parameter describes (a tweet's content over its comments).
            wanted = profile.name_tokens | profile.description_tokens
            scored = [(len(_path_tokens(parts) & wanted), parts, text) for parts, text in items]
            best = max(score for score, _, _ in scored)
            if best > 0:
                items = [(parts, text) for score, parts, text in scored if score == best]
        for _ in range(6):
            if not items:
                return None
            parts, text = rng.choice(items)
            term = _name_part(text, rng) if names_mode else _text_term(text, rng)
            if term is not None and self.valid(typed, term):
                path = _join(tool.class_name, (*parts, "<text>"))
                return BoundValue(term, "state", path, typed.value_type)
        return None


_FIELD_TYPES: weakref.WeakKeyDictionary[Any, dict[str | None, dict[str, frozenset[str]]]] = (
    weakref.WeakKeyDictionary()
)


def _field_of(parts: tuple[str, ...]) -> str | None:
    """The field a value sits in (None for a mapping's key, which is an entity)."""
    for part in reversed(parts):
        if part == "<key>":
            return None
        if part != "[]":
            return part
    return None


def _entity_of(parts: tuple[str, ...]) -> str:
    """The key of the entity a field belongs to (`NVDA` for `stocks.NVDA.price`), or ''."""
    named = [part for part in parts if part != "[]"]
    if len(named) >= 2 and named[-1] != "<key>" and parts[-2] != "[]":
        return named[-2]
    return ""


def _field_types(typing: ParameterTyping, class_name: str | None) -> dict[str, frozenset[str]]:
    """Parameter name -> the specific types parameters of that name have in a class's tools."""
    per_class = _FIELD_TYPES.get(typing)
    if per_class is None:
        per_class = _FIELD_TYPES[typing] = {}
    types = per_class.get(class_name)
    if types is None:
        found: dict[str, set[str]] = {}
        for tool_name, parameters in typing.value_types().items():
            if typing.owner(tool_name) != class_name:
                continue
            for parameter, typed in parameters.items():
                if typed.value_type not in _GENERIC_TYPES:
                    found.setdefault(parameter, set()).add(typed.value_type)
        types = per_class[class_name] = {name: frozenset(kinds) for name, kinds in found.items()}
    return types


def _present_texts(outputs: Pool, content: Content) -> set[str]:
    """Strings of the earlier outputs and texts of the tool's class state."""
    present: set[str] = set()
    if callable(content):
        content = content()
    if content is not None:
        present.update(text for _, text in content.texts)
    if callable(outputs):
        outputs = outputs()
    sources = outputs.all_sources() if isinstance(outputs, SourcePool) else outputs
    present.update(source.value for source in sources if type(source.value) is str)
    return present


def _own_account(state: Pool) -> set[Any]:
    """Values of the class's top-level user fields: who the account itself is."""
    if callable(state):
        state = state()
    sources = state.all_sources() if isinstance(state, SourcePool) else state
    return {
        source.value for source in sources
        if len(source.parts) == 1 and tokens(source.parts[0]) & _OWN_ACCOUNT
        and type(source.value) is str
    }


def _personal_values(state: Pool, names: frozenset[str]) -> frozenset[str]:
    """Values the state files under the persona's names (their id in `user_map[<name>]`)."""
    if not names:
        return frozenset()
    if callable(state):
        state = state()
    sources = state.all_sources() if isinstance(state, SourcePool) else state
    return frozenset(str(source.value) for source in sources if names & set(source.parts))


def _field_tokens(parts: tuple[str, ...]) -> frozenset[str]:
    """Tokens of the last named component of a path (the field a value is)."""
    for part in reversed(parts):
        if part not in _SKIPPED_PARTS and not part.isdigit():
            return tokens(part)
    return frozenset()


def _producer_tokens(source: ValueSource) -> frozenset[str]:
    """Tokens of the tool that produced an output value (`create_ticket`'s `id` is a ticket's)."""
    if source.provenance != "output":
        return frozenset()
    return tokens(source.prefix.split(":", 3)[2])


def _element_schema(schema: Mapping[str, Any], typed: ParameterSlot) -> Mapping[str, Any]:
    """The schema candidates are judged against: the item schema for lists built of items."""
    if typed.value_type in _LIST_FROM_ITEMS:
        return schema.get("items") or {}
    return schema


# Types whose repetition across rounds means nothing (an option, a credential, a number the
# user decides), and how often a remembered value is preferred when one is found again.
_NOT_REMEMBERED = frozenset({"enum", "unit", "access_token", "password", "boolean_text"})
_REMEMBER_CHANCE = 0.9


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else (type(value), value)


def _temperature_in_unit(chosen: dict[str, BoundValue]) -> None:
    """A made-up cabin temperature is in Celsius: state it in Fahrenheit when that is the unit."""
    temperature, unit = chosen.get("temperature"), chosen.get("unit")
    if (
        temperature is not None and unit is not None and unit.value == "fahrenheit"
        and temperature.source == "provider" and isinstance(temperature.value, int | float)
    ):
        chosen["temperature"] = dataclasses.replace(
            temperature, value=float(round(temperature.value * 9 / 5 + 32))
        )


def _order_pairs(chosen: dict[str, BoundValue]) -> None:
    """Swap `min_x`/`max_x` (`start_x`/`end_x`) values bound in the wrong order."""
    for low_prefix, high_prefix in _ORDERED_PREFIXES:
        for name in list(chosen):
            if not name.startswith(low_prefix):
                continue
            partner = high_prefix + name[len(low_prefix):]
            if partner not in chosen:
                continue
            low, high = chosen[name], chosen[partner]
            try:
                if low.value > high.value:
                    chosen[name], chosen[partner] = high, low
                elif low.value == high.value and isinstance(high.value, float):
                    # A range of one point filters for a coincidence: open it up a little.
                    chosen[partner] = dataclasses.replace(
                        high, value=round(high.value * 1.15 + 1, 2), provenance="literal",
                        source="provider",
                    )
            except TypeError:
                continue


def _text_term(text: str, rng: random.Random) -> str | None:
    """A content word of one line of the text, or two adjacent words (a quarter of the time)."""
    found = [(line, _term_words(line)) for line in text.splitlines()]
    found = [(line, words) for line, words in found if words]
    if not found:
        return None
    line, words = rng.choice(found)
    first = rng.choice(words)
    if rng.random() < 0.25:
        following = _TERM_WORD.search(line, first.end())
        if following and line[first.end():following.start()] == " " and len(following.group()) >= 3:
            return line[first.start():following.end()]
    return first.group()


def _term_words(line: str) -> list[re.Match[str]]:
    """The words of a line a search term may be: content words, not stopwords or filler."""
    return [
        match for match in _TERM_WORD.finditer(line)
        if len(match.group()) >= 3 and match.group().lower() not in SEARCH_STOPWORDS
        and match.group().lower() not in FILLER
    ]


def _name_part(name: str, rng: random.Random) -> str | None:
    """Part of an entity's name (`roadmap` of `firefly_roadmap.csv`), or the whole name."""
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    parts = [
        part for part in _NAME_PART.findall(stem)
        if len(part) >= 3 and part.lower() not in SEARCH_STOPWORDS
        and part.lower() not in FILLER
    ]
    if not parts or rng.random() < 0.2:
        return name
    return rng.choice(parts)


def plain_arguments(bound: Mapping[str, BoundValue]) -> dict[str, Any]:
    """The argument values alone."""
    return {name: value.value for name, value in bound.items()}


def is_generic_field(path: str) -> bool:
    """True for output fields too generic to carry an identity (status, result, ...)."""
    last = path.rsplit(".", 1)[-1].replace("[]", "")
    return last in _GENERIC_FIELDS
