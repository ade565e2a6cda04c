"""Argument binding: fill a tool's parameters from earlier outputs, the state, or the schema.

The same binder serves execution probing (graph building) and the Phase I sampler. Sources
are tried in METHOD.md's order: values produced by earlier calls, entities present in the
current environment state, then schema enums, defaults, numbers named in the description and
type-based fallbacks. Every bound value records where it came from.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any, Literal

from funreason_assets.lib.literals import LiteralDomains
from funreason_assets.lib.tools import ToolSpec

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

_FALLBACK_WORDS = (
    "quarterly review",
    "budget",
    "notes",
    "weekend trip",
    "project alpha",
    "meeting",
    "summary",
    "draft",
)


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
    """A parameter that must come from a tool's output has no candidate yet."""


@dataclass(frozen=True)
class BoundValue:
    """A value chosen for a parameter and where it came from.

    Attributes:
        value: The argument value.
        provenance: `output` (an earlier call produced it), `state` (an entity in the current
            state), `schema` (enum/default/description), `literal` (a free value the user states).
        source: For `output`, `call:<index>:<field path>`; for `state`, the state path.
    """

    value: Any
    provenance: Provenance
    source: str = ""


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
    description_numbers: tuple[float, ...]

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
        self.ranked: dict[int, list[tuple[int, ValueSource]]] = {}
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


class ArgumentBinder:
    """Chooses arguments for a tool from outputs, state and schema, with provenance."""

    def __init__(
        self,
        rng: random.Random,
        optional_rate: float = 0.3,
        literals: LiteralDomains | None = None,
    ):
        """Create a binder.

        Args:
            rng: The random source (the caller's seeded generator).
            optional_rate: Probability of also filling an optional parameter.
            literals: Values the tools' code is known to accept (mined from source).
        """
        self.rng = rng
        self.optional_rate = optional_rate
        self.literals = literals or LiteralDomains()

    def candidates(
        self, profile: ParamProfile, sources: Iterable[ValueSource] | SourcePool
    ) -> list[tuple[int, ValueSource]]:
        """Type-compatible sources with a positive match score, best first."""
        if isinstance(sources, SourcePool):
            cached = sources.ranked.get(id(profile))
            if cached is None:
                cached = self._rank_scored(profile, sources.scored(profile))
                sources.ranked[id(profile)] = cached
            return cached
        return self._rank(profile, sources)

    def _rank_scored(
        self, profile: ParamProfile, scored: list[list[Any]]
    ) -> list[tuple[int, ValueSource]]:
        # Equivalent to `_rank` over `related`: every related source shares a token, so its
        # score is positive.
        schema = profile.schema
        enum = schema.get("enum")
        accepts = profile.accepted_scalars
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
        self, profile: ParamProfile, sources: Iterable[ValueSource]
    ) -> list[tuple[int, ValueSource]]:
        scored = []
        for source in sources:
            if not _type_ok(profile.schema, source.value):
                continue
            enum = profile.schema.get("enum")
            if enum is not None and source.value not in enum:
                continue
            score = match_score(profile, source)
            if score > 0:
                scored.append((score, source))
        scored.sort(key=lambda pair: -pair[0])
        return scored

    def schema_value(self, profile: ParamProfile) -> BoundValue:
        """A value from the schema alone: enum, default, described numbers, or by type."""
        schema = profile.schema
        rng = self.rng
        if schema.get("enum"):
            return BoundValue(rng.choice(schema["enum"]), "schema", "enum")
        if "default" in schema and rng.random() < 0.5:
            return BoundValue(schema["default"], "schema", "default")
        kind = schema.get("type")
        if kind == "boolean":
            return BoundValue(rng.random() < 0.5, "literal")
        if kind in ("integer", "number"):
            low = schema.get("minimum")
            high = schema.get("maximum")
            numbers = [n for n in profile.description_numbers if _in_bounds(n, low, high)]
            if numbers and rng.random() < 0.6:
                value = rng.choice(numbers)
            else:
                low = 0 if low is None else low
                high = max(low + 1, 100 if high is None else high)
                value = rng.uniform(low, high)
            if kind == "integer":
                return BoundValue(round(value), "literal")
            return BoundValue(round(float(value), 1), "literal")
        if kind == "array":
            items = schema.get("items", {})
            if items.get("enum"):
                pool = list(items["enum"])
                if rng.random() < 0.5:
                    return BoundValue(pool, "schema", "enum")
                size = rng.randint(1, len(pool))
                return BoundValue(rng.sample(pool, size), "schema", "enum")
            item_profile = ParamProfile(profile.name, items, profile.name_tokens,
                                        profile.description_tokens, True, ())
            size = rng.randint(1, 3)
            return BoundValue(
                [self.schema_value(item_profile).value for _ in range(size)], "literal"
            )
        if kind == "object":
            return BoundValue({}, "literal")
        return BoundValue(self._formatted_string(profile), "literal")

    def _formatted_string(self, profile: ParamProfile) -> str:
        """A string in the format the description asks for, else a plain phrase."""
        rng = self.rng
        description = profile.schema.get("description", "")
        if "YYYY-MM-DD" in description or "date" in profile.name_tokens:
            return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if "MM/YY" in description:
            return f"{rng.randint(1, 12):02d}/{rng.randint(26, 31)}"
        if "HH:MM" in description or "time" in profile.name_tokens:
            return f"{rng.randint(0, 23):02d}:{rng.choice(('00', '15', '30', '45'))}"
        return rng.choice(_FALLBACK_WORDS)

    def bind(
        self,
        tool: ToolSpec,
        outputs: Pool = (),
        state: Pool = (),
        fixed: Mapping[str, BoundValue] | None = None,
        sourced: frozenset[str] = frozenset(),
    ) -> dict[str, BoundValue]:
        """Bind every required parameter (and some optional ones) of a tool.

        Args:
            tool: The tool to call.
            outputs: Candidate values produced by earlier calls (preferred).
            state: Candidate values present in the current state, or a function computing
                them (called only if a parameter needs them).
            fixed: Parameters already decided by the caller.
            sourced: Parameters whose value a tool produces (graph data sources): they bind
                only from outputs or state, never from the schema.

        Returns:
            Parameter name -> bound value, in the tool's parameter order.

        Raises:
            UnbindableError: If a `sourced` parameter has no output or state candidate.
        """
        rng = self.rng
        bound: dict[str, BoundValue] = dict(fixed or {})
        joint = self.literals.joint.get(tool.name)
        if joint and rng.random() < 0.7:
            names, rows = rng.choice(joint)
            if not any(name in bound for name in names):
                row = rng.choice(rows)
                for name, value in zip(names, row, strict=True):
                    bound[name] = BoundValue(value, "schema", "mined")
        mined = self.literals.values.get(tool.name, {})
        ordered: dict[str, BoundValue] = {}
        for profile in param_profiles(tool):
            if profile.name in bound:
                ordered[profile.name] = bound[profile.name]
                continue
            if not profile.required and rng.random() >= self.optional_rate:
                continue
            if profile.name in sourced:
                ordered[profile.name] = self.bind_sourced(profile, outputs, state)
                continue
            ordered[profile.name] = self.bind_one(profile, outputs, state, mined.get(profile.name))
        return ordered

    def bind_sourced(
        self,
        profile: ParamProfile,
        outputs: Pool,
        state: Pool,
    ) -> BoundValue:
        """Bind a tool-produced parameter from outputs (preferred) or state only."""
        ranked = self.candidates(profile, outputs() if callable(outputs) else outputs)
        if not ranked:
            ranked = self.candidates(profile, state() if callable(state) else state)
        if not ranked:
            raise UnbindableError(profile.name)
        best = ranked[0][0]
        choice = self.rng.choice([source for score, source in ranked if score >= best - 1])
        return BoundValue(choice.value, choice.provenance, choice.path)

    def bind_one(
        self,
        profile: ParamProfile,
        outputs: Pool,
        state: Pool,
        mined: Sequence[Any] | None = None,
    ) -> BoundValue:
        """Bind one parameter: earlier outputs, then state, then mined literals, then schema."""
        rng = self.rng
        for pool, chance in ((outputs, 0.9), (state, 0.85)):
            if callable(pool):
                pool = pool()
            if not len(pool):
                continue
            ranked = self.candidates(profile, pool)
            if ranked and rng.random() < chance:
                best = ranked[0][0]
                top = [source for score, source in ranked if score >= best - 1]
                choice = rng.choice(top)
                return BoundValue(choice.value, choice.provenance, choice.path)
        if mined and rng.random() < 0.7:
            candidates = [value for value in mined if _type_ok(profile.schema, value)]
            if candidates:
                return BoundValue(rng.choice(candidates), "schema", "mined")
        return self.schema_value(profile)


def _in_bounds(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def plain_arguments(bound: Mapping[str, BoundValue]) -> dict[str, Any]:
    """The argument values alone."""
    return {name: value.value for name, value in bound.items()}


def is_generic_field(path: str) -> bool:
    """True for output fields too generic to carry an identity (status, result, ...)."""
    last = path.rsplit(".", 1)[-1].replace("[]", "")
    return last in _GENERIC_FIELDS
