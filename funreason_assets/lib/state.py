"""Environment state serialization and comparison.

State is converted to plain JSON types deterministically, written as canonical text, hashed to a
short digest, and compared into human-readable differences.
"""

from __future__ import annotations

import abc
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from funreason_assets.lib.digests import canonical_json, text_digest

STATE_DIGEST_LENGTH = 16

_PLAIN = frozenset({str, int, bool, type(None)})
# Exact types of live objects (a directory, a file), mapped to the `abc.get_cache_token()` at
# the time they were classified. Whether a value is a number, string, mapping, sequence or
# set depends on its type alone when its `__class__` is its type, and an ABC registration
# changes the token; the checks are then skipped for the thousands of objects in a state.
_OBJECT_KINDS: dict[type, object] = {}


def to_jsonable(value: Any, _stack: tuple[int, ...] = ()) -> Any:
    """Convert environment state to plain JSON types, deterministically.

    Objects become their public attributes; sets become sorted lists; back references to an
    enclosing object (e.g. a directory's `parent`) are dropped to keep the result a tree.
    """
    # Digests convert the whole state after every round: plain values inside containers are
    # copied inline, by exact type, instead of through a call each.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {
            (k if type(k) is str else str(k)): (
                v if type(v) in _PLAIN else to_jsonable(v, _stack)
            )
            for k, v in value.items()
        }
    if kind is list:
        return [v if type(v) in _PLAIN else to_jsonable(v, _stack) for v in value]
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if _OBJECT_KINDS.get(kind) != abc.get_cache_token() or value.__class__ is not kind:
        if isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Mapping):
            return {str(k): to_jsonable(v, _stack) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [to_jsonable(v, _stack) for v in value]
        if isinstance(value, set | frozenset):
            return sorted((to_jsonable(v, _stack) for v in value), key=json.dumps)
        if isinstance(value, numbers.Complex):
            # mpmath's `mpf` (what BFCL's `logarithm` returns) keeps its digits in slots behind
            # an empty `__dict__`, so as an object it would become `{}`. Decimal is no
            # `numbers.Complex` and stays exact text below.
            return _number(value)
        if value.__class__ is kind:
            _OBJECT_KINDS[kind] = abc.get_cache_token()
    if hasattr(value, "__dict__") and not callable(value):
        if id(value) in _stack:
            return None
        inner = (*_stack, id(value))
        public: dict[str, Any] = {}
        for k, v in vars(value).items():
            if k.startswith("_"):
                continue
            if type(v) in _PLAIN:
                public[k] = v
            elif not (hasattr(v, "__dict__") and id(v) in inner):
                public[k] = to_jsonable(v, inner)
        return public
    return str(value)


def _number(value: numbers.Complex) -> Any:
    """A non-builtin number (mpmath, numpy, Fraction) as an int, a finite float, or text."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return str(value)
        return number if math.isfinite(number) else str(value)
    return str(complex(value))


def state_digest(state: Mapping[str, Any]) -> str:
    """A short stable digest of a JSON-able state."""
    return digest_text(canonical_json(state))


def digest_text(canonical: str) -> str:
    """The short digest of a canonical text (`canonical_json`'s output)."""
    return text_digest(canonical, STATE_DIGEST_LENGTH)


def diff_states(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON-able states (empty when equal)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                out.append(f"{sub}: missing")
            elif key not in expected:
                out.append(f"{sub}: unexpected")
            else:
                out.extend(diff_states(expected[key], actual[key], sub))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            out.extend(diff_states(left, right, f"{path}[{index}]"))
        return out
    if expected != actual:
        return [f"{path}: expected {_short(expected)}, got {_short(actual)}"]
    return []


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
