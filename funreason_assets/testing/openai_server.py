r"""A small, fast OpenAI-compatible chat-completions server for tests and benchmarks.

The server answers ``POST /v1/chat/completions`` (and ``/chat/completions``) from a script of
rules, waits a configurable latency, and injects faults at configurable rates. It is built on
``aiohttp.web`` so thousands of concurrent requests cost little CPU, and it is meant to run in
its own process so that a client's CPU use can be measured apart from the server's.

Endpoints:

* ``POST /v1/chat/completions``, ``POST /chat/completions``: a ``chat.completion`` object, or
  Server-Sent Events of ``chat.completion.chunk`` objects when ``stream`` is true.
* ``GET /v1/models``, ``GET /models``: the known model names.
* ``GET /_health``: liveness.
* ``GET /_stats``: request counts per outcome and a per-request log (``?log=0`` leaves the log
  out).
* ``GET /_control/config``, ``POST /_control/config``: read or change latency, fault rates,
  seed and script at runtime.
* ``POST /_control/reset``: clear counters, the log, attempt counters and script positions.

Script format: a JSON list of rules, a JSON object ``{"rules": [...]}``, or JSONL with one rule
per line (blank lines and lines starting with ``#`` are skipped). Rules are tried in order and
the first one that matches answers. Every match criterion given must hold:

* ``model`` (exact) or ``model_regex``: the request's model;
* ``user_contains`` or ``user_regex``: the text of the last user message;
* ``system_contains`` or ``system_regex``: the text of the system and developer messages;
* ``last_role``: the role of the last message (e.g. ``"tool"``);
* ``has_tools``: whether the request offers tools;
* ``match_any: true``: matches every request; required for a rule without other criteria.

A rule answers with ``reply`` (one reply), ``replies`` (a sequence consumed in order), or with
reply fields written inline on the rule. A reply has ``content`` (text), ``tool_calls`` (a list
of ``{"name": ..., "arguments": {...}}``), ``json`` (a template serialized as the content),
``json_from_schema: true`` (content built from the request's ``response_format`` schema),
``finish_reason``, ``fault`` (force one of the fault outcomes), and ``latency``/``jitter``.
Strings in ``content``, ``json`` and tool-call arguments may use the placeholders
``{{model}}``, ``{{last_user}}``, ``{{system}}``, ``{{fingerprint}}``, ``{{attempt}}``,
``{{call}}`` (the position in the rule's sequence) and ``{{request}}`` (server-wide request
number). A sequence advances per ``sequence_by`` key: ``"conversation"`` (default: model,
system messages and first user message), ``"fingerprint"`` (the exact request) or ``"rule"``
(one shared counter). When a sequence runs out, ``exhausted`` decides: ``"repeat_last"``
(default), ``"cycle"``, or ``"next"`` (fall through to later rules). Example::

    [
      {"name": "weather", "user_regex": "(?i)weather in (\\w+)",
       "replies": [
         {"content": "I am not sure."},
         {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
       ]},
      {"name": "structured", "system_contains": "Answer in JSON",
       "json": {"answer": "{{last_user}}", "ok": true}, "latency": 0.05},
      {"name": "flaky", "model": "flaky-model",
       "replies": [{"fault": "500"}, {"content": "recovered"}]}
    ]

Requests that match no rule get a deterministic echo, ``"echo: <first 16 hex digits of the
request fingerprint>"``; with ``response_format`` of type ``json_object`` the echo is the JSON
object ``{"echo": ...}``, and with type ``json_schema`` it is an instance built from the schema.

Faults: each request draws a number in ``[0, 1)`` from the seed, the request fingerprint and
the number of earlier requests with the same fingerprint (its attempt), and picks a fault when
the number falls in that fault's share of the configured rates. Runs are reproducible, and a
retry of the same request draws afresh, so it can succeed. Fault outcomes:

* ``429``: status 429 with a ``Retry-After`` header;
* ``500``, ``503``: status 500 or 503 with an OpenAI-style error body;
* ``timeout``: no answer for ``timeout_seconds`` (60 s by default), then status 504;
* ``drop``: the connection is closed without a response;
* ``malformed``: status 200 with truncated, invalid JSON (or a broken event when streaming);
* ``empty``: status 200 with content ``""`` (or ``null`` when ``empty_as_null`` is set);
* ``401``: status 401 whose error message echoes the request's API key (the bearer token), as
  a careless provider or proxy might: for testing that keys never reach records or logs.

A random fault does not advance a script sequence; a scripted ``fault`` does.

The request fingerprint is the SHA-256 of the canonical JSON (sorted keys, no spaces) of
``{"model", "messages", "tools", "response_format"}``; see `request_fingerprint`.

Command line::

    python -m funreason_assets.testing.openai_server --port 0 --latency 1.0 \
        --fault 429=0.05 --fault drop=0.01 --script rules.jsonl

The first line on standard output is the port the server listens on (always 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
FAULTS = ("429", "500", "503", "timeout", "drop", "malformed", "empty", "401")
OUTCOMES = ("ok", *FAULTS, "bad_request")
DEFAULT_MODELS = ("test-model",)

_MATCH_KEYS = frozenset(
    {
        "model",
        "model_regex",
        "user_contains",
        "user_regex",
        "system_contains",
        "system_regex",
        "last_role",
        "has_tools",
        "match_any",
    }
)
_REPLY_KEYS = frozenset(
    {
        "content",
        "tool_calls",
        "json",
        "json_from_schema",
        "finish_reason",
        "fault",
        "latency",
        "jitter",
    }
)
_INLINE_REPLY_KEYS = _REPLY_KEYS - {"latency", "jitter"}
_RULE_KEYS = (
    _MATCH_KEYS
    | _INLINE_REPLY_KEYS
    | {"name", "reply", "replies", "latency", "jitter", "sequence_by", "exhausted"}
)
_PLACEHOLDERS = frozenset(
    {"model", "last_user", "system", "fingerprint", "attempt", "call", "request"}
)
_PLACEHOLDER_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_UNSET: Any = object()


class ScriptError(ValueError):
    """A script or configuration that cannot be used."""


# --------------------------------------------------------------------------------------------
# Request helpers
# --------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """Serialize a value as canonical JSON: sorted keys, no whitespace, UTF-8 kept as is.

    Args:
        value: Any JSON-serializable value.

    Returns:
        The canonical JSON text.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_fingerprint(
    model: Any, messages: Any, tools: Any = None, response_format: Any = None
) -> str:
    """The fingerprint the server records for a chat-completions request.

    Args:
        model: The request's ``model``.
        messages: The request's ``messages``.
        tools: The request's ``tools``, or None when absent.
        response_format: The request's ``response_format``, or None when absent.

    Returns:
        The hex SHA-256 of the canonical JSON of the four fields.
    """
    payload = {
        "model": model,
        "messages": messages,
        "tools": tools,
        "response_format": response_format,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _uniform(seed: int, *parts: object) -> float:
    """A number in [0, 1) determined by the seed and the parts."""
    text = ":".join([str(seed), *(str(part) for part in parts)])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _message_text(message: Any) -> str:
    """The text of a message's content, joining text parts of multi-part content."""
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def _approx_tokens(text: str) -> int:
    """A rough token count: whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat-completions request that rules and replies look at.

    Attributes:
        body: The decoded request body.
        model: The requested model name.
        messages: The request's messages.
        fingerprint: See `request_fingerprint`.
        last_user: Text of the last user message.
        system: Text of the system and developer messages, joined by newlines.
        last_role: Role of the last message.
        conversation: A key for the conversation: model, system text and first user message.
        stream: Whether an event stream was asked for.
    """

    body: Mapping[str, Any]
    model: str
    messages: list[Any]
    fingerprint: str
    last_user: str
    system: str
    last_role: str
    conversation: str
    stream: bool

    @property
    def has_tools(self) -> bool:
        """Whether the request offers any tools."""
        return bool(self.body.get("tools"))

    @classmethod
    def from_body(cls, body: Any) -> ChatRequest:
        """Validate a decoded request body and extract what the server needs.

        Args:
            body: The decoded JSON body.

        Returns:
            The request view.

        Raises:
            ValueError: When the body is not a chat-completions request.
        """
        if not isinstance(body, Mapping):
            raise ValueError("the request body must be a JSON object")
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            raise ValueError("'model' must be a non-empty string")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        roles = [m.get("role") if isinstance(m, Mapping) else None for m in messages]
        users = [m for m, role in zip(messages, roles, strict=True) if role == "user"]
        system = "\n".join(
            _message_text(m)
            for m, role in zip(messages, roles, strict=True)
            if role in ("system", "developer")
        )
        first_user = _message_text(users[0]) if users else ""
        return cls(
            body=body,
            model=model,
            messages=messages,
            fingerprint=request_fingerprint(
                model, messages, body.get("tools"), body.get("response_format")
            ),
            last_user=_message_text(users[-1]) if users else "",
            system=system,
            last_role=str(roles[-1] or ""),
            conversation=hashlib.sha256(
                canonical_json([model, system, first_user]).encode()
            ).hexdigest(),
            stream=bool(body.get("stream")),
        )

    def prompt_tokens(self) -> int:
        """A rough prompt token count over message texts, tool calls and tool schemas."""
        count = 0
        for message in self.messages:
            count += _approx_tokens(_message_text(message))
            if isinstance(message, Mapping):
                for call in message.get("tool_calls") or ():
                    count += _approx_tokens(canonical_json(call))
        if self.body.get("tools"):
            count += _approx_tokens(json.dumps(self.body["tools"]))
        return max(count, 1)


# --------------------------------------------------------------------------------------------
# JSON from a schema
# --------------------------------------------------------------------------------------------

_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _resolve_ref(ref: str, root: Mapping[str, Any]) -> Any:
    """Resolve a local ``#/...`` JSON pointer inside the root schema."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        node = node.get(key, {}) if isinstance(node, Mapping) else {}
    return node


def example_from_schema(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """Build a small instance that satisfies a JSON schema.

    Covers the schema features structured-output clients use: types, ``properties``,
    ``items``, ``enum``, ``const``, ``default``, ``anyOf``/``oneOf``/``allOf``, local ``$ref``,
    string formats and lengths, and numeric bounds. Patterns are not honoured.

    Args:
        schema: The JSON schema (a mapping; anything else yields None).
        root: The root schema that ``$ref`` pointers resolve against; defaults to ``schema``.
        depth: Recursion depth, to stop on recursive schemas.

    Returns:
        A JSON-serializable instance.
    """
    root = schema if root is None else root
    if not isinstance(schema, Mapping) or depth > 32:
        return None
    if "$ref" in schema:
        return example_from_schema(_resolve_ref(str(schema["$ref"]), root), root, depth + 1)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            preferred = [
                o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")
            ]
            return example_from_schema((preferred or options)[0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, Mapping) and "$ref" in part:
                part = _resolve_ref(str(part["$ref"]), root)
            if isinstance(part, Mapping):
                for key, value in part.items():
                    if key in ("properties", "$defs") and isinstance(value, Mapping):
                        merged[key] = {**merged.get(key, {}), **value}
                    elif key == "required" and isinstance(value, list):
                        merged[key] = [*merged.get(key, []), *value]
                    else:
                        merged.setdefault(key, value)
        return example_from_schema(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0] if kinds else None
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: example_from_schema(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        count = min(count, int(schema.get("maxItems", count)))
        return [example_from_schema(schema.get("items", {}), root, depth + 1)] * count
    if kind in ("integer", "number"):
        value: float = 0
        if "minimum" in schema:
            value = schema["minimum"]
        elif "exclusiveMinimum" in schema:
            value = schema["exclusiveMinimum"] + 1
        elif "maximum" in schema and schema["maximum"] < 0:
            value = schema["maximum"]
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = _STRING_FORMATS.get(str(schema.get("format")), "example")
    min_length = int(schema.get("minLength", 0))
    if len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


# --------------------------------------------------------------------------------------------
# Script
# --------------------------------------------------------------------------------------------


def _check_placeholders(value: Any, where: str) -> None:
    """Raise ScriptError for an unknown ``{{placeholder}}`` anywhere inside a value."""
    if isinstance(value, str):
        for name in _PLACEHOLDER_RE.findall(value):
            if name not in _PLACEHOLDERS:
                raise ScriptError(
                    f"{where}: unknown placeholder {{{{{name}}}}}; known: "
                    f"{', '.join(sorted(_PLACEHOLDERS))}"
                )
    elif isinstance(value, Mapping):
        for item in value.values():
            _check_placeholders(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_placeholders(item, where)


def _render(value: Any, variables: Mapping[str, str]) -> Any:
    """Replace placeholders in every string inside a JSON-like value."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        return _PLACEHOLDER_RE.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, Mapping):
        return {key: _render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, variables) for item in value]
    return value


def _optional_float(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    """Read an optional non-negative number."""
    if raw.get(key) is None:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScriptError(f"{where}: {key!r} must be a non-negative number")
    return float(value)


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    Attributes:
        content: The message text (may hold placeholders), or None.
        tool_calls: Tool calls as ``{"name", "arguments", "id"?}`` mappings.
        json_template: A JSON value serialized as the content, or unset.
        json_from_schema: Build the content from the request's response-format schema.
        finish_reason: Overrides the finish reason ("tool_calls" or "stop" by default).
        fault: A fault outcome to produce instead of an answer, or None.
        latency: Overrides the rule's and the server's latency, in seconds.
        jitter: Overrides the rule's and the server's jitter, in seconds.
    """

    content: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    json_template: Any = _UNSET
    json_from_schema: bool = False
    finish_reason: str | None = None
    fault: str | None = None
    latency: float | None = None
    jitter: float | None = None

    @classmethod
    def parse(cls, raw: Any, where: str) -> Reply:
        """Validate and build a reply from its script form.

        Args:
            raw: The reply mapping.
            where: Where the reply is, for error messages.

        Returns:
            The reply.

        Raises:
            ScriptError: When the reply is malformed.
        """
        if not isinstance(raw, Mapping):
            raise ScriptError(f"{where}: a reply must be an object")
        unknown = set(raw) - _REPLY_KEYS
        if unknown:
            raise ScriptError(f"{where}: unknown reply keys {sorted(unknown)}")
        content = raw.get("content")
        if content is not None and not isinstance(content, str):
            raise ScriptError(f"{where}: 'content' must be a string or null")
        calls = raw.get("tool_calls") or []
        if not isinstance(calls, list):
            raise ScriptError(f"{where}: 'tool_calls' must be a list")
        for call in calls:
            if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                raise ScriptError(f"{where}: each tool call needs a string 'name'")
            if not isinstance(call.get("arguments", {}), Mapping | str):
                raise ScriptError(f"{where}: tool-call 'arguments' must be an object or string")
            if set(call) - {"name", "arguments", "id"}:
                raise ScriptError(f"{where}: tool calls take only 'name', 'arguments' and 'id'")
        fault = raw.get("fault")
        if fault is not None and str(fault) not in FAULTS:
            raise ScriptError(f"{where}: 'fault' must be one of {list(FAULTS)}")
        json_template = raw.get("json", _UNSET)
        sources = [
            content is not None,
            json_template is not _UNSET,
            bool(raw.get("json_from_schema")),
        ]
        if sum(sources) > 1:
            raise ScriptError(f"{where}: give only one of 'content', 'json', 'json_from_schema'")
        if not any(sources) and not calls and fault is None:
            raise ScriptError(f"{where}: a reply needs content, json, tool_calls or a fault")
        _check_placeholders(
            [
                content,
                json_template if json_template is not _UNSET else None,
                [c.get("arguments") for c in calls],
            ],
            where,
        )
        return cls(
            content=content,
            tool_calls=tuple(dict(call) for call in calls),
            json_template=json_template,
            json_from_schema=bool(raw.get("json_from_schema")),
            finish_reason=raw.get("finish_reason"),
            fault=None if fault is None else str(fault),
            latency=_optional_float(raw, "latency", where),
            jitter=_optional_float(raw, "jitter", where),
        )


@dataclass(frozen=True)
class Rule:
    """A scripted rule: match criteria and the replies to give.

    Attributes:
        name: A label recorded in the request log.
        criteria: The match criteria from the script.
        replies: The reply sequence (at least one).
        latency: Overrides the server latency for this rule, in seconds.
        jitter: Overrides the server jitter for this rule, in seconds.
        sequence_by: What a sequence position is kept per: conversation, fingerprint or rule.
        exhausted: What to do after the last reply: repeat_last, cycle or next.
    """

    name: str
    criteria: Mapping[str, Any]
    replies: tuple[Reply, ...]
    latency: float | None = None
    jitter: float | None = None
    sequence_by: str = "conversation"
    exhausted: str = "repeat_last"
    _regexes: Mapping[str, re.Pattern[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, raw: Any, index: int) -> Rule:
        """Validate and build a rule from its script form.

        Args:
            raw: The rule mapping.
            index: The rule's position in the script, for names and error messages.

        Returns:
            The rule.

        Raises:
            ScriptError: When the rule is malformed.
        """
        where = f"rule {index}"
        if not isinstance(raw, Mapping):
            raise ScriptError(f"{where}: a rule must be an object")
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
        criteria = {key: raw[key] for key in _MATCH_KEYS if key in raw}
        if not criteria or criteria == {"match_any": False}:
            raise ScriptError(f"{where}: give match criteria, or 'match_any': true")
        regexes = {}
        for key in ("model_regex", "user_regex", "system_regex"):
            if key in criteria:
                try:
                    regexes[key] = re.compile(str(criteria[key]))
                except re.error as error:
                    raise ScriptError(f"{where}: bad {key}: {error}") from error
        inline = {key: raw[key] for key in _INLINE_REPLY_KEYS if key in raw}
        given = [bool(inline), "reply" in raw, "replies" in raw]
        if sum(given) != 1:
            raise ScriptError(f"{where}: give exactly one of 'reply', 'replies' or inline fields")
        if "replies" in raw:
            if not isinstance(raw["replies"], list) or not raw["replies"]:
                raise ScriptError(f"{where}: 'replies' must be a non-empty list")
            raw_replies = raw["replies"]
        else:
            raw_replies = [raw["reply"] if "reply" in raw else inline]
        replies = tuple(
            Reply.parse(item, f"{where} reply {position}")
            for position, item in enumerate(raw_replies)
        )
        sequence_by = raw.get("sequence_by", "conversation")
        if sequence_by not in ("conversation", "fingerprint", "rule"):
            raise ScriptError(f"{where}: 'sequence_by' must be conversation, fingerprint or rule")
        exhausted = raw.get("exhausted", "repeat_last")
        if exhausted not in ("repeat_last", "cycle", "next"):
            raise ScriptError(f"{where}: 'exhausted' must be repeat_last, cycle or next")
        return cls(
            name=str(raw.get("name", f"rule-{index}")),
            criteria=criteria,
            replies=replies,
            latency=_optional_float(raw, "latency", where),
            jitter=_optional_float(raw, "jitter", where),
            sequence_by=sequence_by,
            exhausted=exhausted,
            _regexes=regexes,
        )

    def matches(self, request: ChatRequest) -> bool:
        """Whether every criterion of the rule holds for the request.

        Args:
            request: The request.

        Returns:
            True when the rule applies.
        """
        criteria = self.criteria
        if "model" in criteria and request.model != criteria["model"]:
            return False
        if "user_contains" in criteria and str(criteria["user_contains"]) not in request.last_user:
            return False
        if "system_contains" in criteria and str(criteria["system_contains"]) not in request.system:
            return False
        if "last_role" in criteria and request.last_role != criteria["last_role"]:
            return False
        if "has_tools" in criteria and request.has_tools != bool(criteria["has_tools"]):
            return False
        texts = {
            "model_regex": request.model,
            "user_regex": request.last_user,
            "system_regex": request.system,
        }
        return all(regex.search(texts[key]) for key, regex in self._regexes.items())

    def sequence_key(self, request: ChatRequest) -> str:
        """The key a sequence position is kept under for this request."""
        if self.sequence_by == "fingerprint":
            return request.fingerprint
        if self.sequence_by == "conversation":
            return request.conversation
        return ""


def parse_script(script: Any) -> list[Rule]:
    """Validate a script given as data.

    Args:
        script: A list of rule mappings, a mapping with a ``rules`` list, or None (no rules).

    Returns:
        The rules, in order.

    Raises:
        ScriptError: When the script is malformed.
    """
    if script is None:
        return []
    if isinstance(script, Mapping):
        if set(script) - {"rules"}:
            raise ScriptError("a script object takes only a 'rules' list")
        script = script.get("rules", [])
    if not isinstance(script, list):
        raise ScriptError("a script must be a list of rules or an object with 'rules'")
    return [Rule.parse(raw, index) for index, raw in enumerate(script)]


def load_script(path: str | os.PathLike[str]) -> list[Rule]:
    """Read a script file: JSON (list or ``{"rules": [...]}``) or JSONL (one rule a line).

    Args:
        path: The file path; ``.jsonl`` files are read line by line.

    Returns:
        The rules, in order.

    Raises:
        ScriptError: When the file cannot be parsed or a rule is malformed.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            rules = [
                json.loads(line)
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
            return parse_script(rules)
        return parse_script(json.loads(text))
    except json.JSONDecodeError as error:
        raise ScriptError(f"{path}: invalid JSON: {error}") from error


# --------------------------------------------------------------------------------------------
# Server state
# --------------------------------------------------------------------------------------------


@dataclass
class ServerConfig:
    """Settings that can change at runtime through ``POST /_control/config``.

    Attributes:
        latency: Seconds to wait before answering.
        jitter: Up to this many extra seconds, drawn deterministically per request.
        error_latency: Seconds to wait before a 429, 500 or 503, or dropping the connection.
        seed: Seed of the fault and jitter draws.
        faults: Rate of each fault outcome, each in [0, 1], summing to at most 1.
        retry_after: Value of the ``Retry-After`` header on a 429, in seconds.
        timeout_seconds: How long a ``timeout`` fault keeps the client waiting.
        empty_as_null: Whether an ``empty`` fault sends ``null`` content rather than ``""``.
        log_limit: Most entries the per-request log keeps; counters stay exact beyond it.
        models: Model names listed by ``GET /v1/models`` besides those named in the script.
    """

    latency: float = 0.0
    jitter: float = 0.0
    error_latency: float = 0.0
    seed: int = 0
    faults: dict[str, float] = field(default_factory=dict)
    retry_after: float = 1.0
    timeout_seconds: float = 60.0
    empty_as_null: bool = False
    log_limit: int = 100_000
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))

    _NUMBERS = ("latency", "jitter", "error_latency", "retry_after", "timeout_seconds")

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply changes after validating all of them; ``faults`` replaces the whole map.

        Args:
            changes: Field names and new values (``script`` is handled by the caller).

        Raises:
            ScriptError: When a value is invalid; nothing is changed then.
        """
        known = {*self._NUMBERS, "seed", "faults", "empty_as_null", "log_limit", "models"}
        unknown = set(changes) - known - {"script"}
        if unknown:
            raise ScriptError(f"unknown settings {sorted(unknown)}")
        staged: dict[str, Any] = {}
        for key in self._NUMBERS:
            if key in changes:
                value = changes[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ScriptError(f"{key!r} must be a non-negative number")
                staged[key] = float(value)
        for key in ("seed", "log_limit"):
            if key in changes:
                if isinstance(changes[key], bool) or not isinstance(changes[key], int):
                    raise ScriptError(f"{key!r} must be an integer")
                staged[key] = changes[key]
        if "empty_as_null" in changes:
            staged["empty_as_null"] = bool(changes["empty_as_null"])
        if "models" in changes:
            if not isinstance(changes["models"], list):
                raise ScriptError("'models' must be a list of names")
            staged["models"] = [str(name) for name in changes["models"]]
        if "faults" in changes:
            staged["faults"] = validate_faults(changes["faults"] or {})
        for key, value in staged.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready mapping."""
        return {
            "latency": self.latency,
            "jitter": self.jitter,
            "error_latency": self.error_latency,
            "seed": self.seed,
            "faults": {name: self.faults.get(name, 0.0) for name in FAULTS},
            "retry_after": self.retry_after,
            "timeout_seconds": self.timeout_seconds,
            "empty_as_null": self.empty_as_null,
            "log_limit": self.log_limit,
            "models": list(self.models),
        }


def validate_faults(faults: Any) -> dict[str, float]:
    """Check a fault-rate mapping.

    Args:
        faults: Mapping of fault name (see `FAULTS`) to rate.

    Returns:
        The rates as floats, keyed by fault name.

    Raises:
        ScriptError: For unknown names, rates outside [0, 1], or rates summing above 1.
    """
    if not isinstance(faults, Mapping):
        raise ScriptError("'faults' must map fault names to rates")
    rates: dict[str, float] = {}
    for name, rate in faults.items():
        if str(name) not in FAULTS:
            raise ScriptError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ScriptError(f"fault rate for {name!r} must be a number in [0, 1]")
        rates[str(name)] = float(rate)
    if sum(rates.values()) > 1 + 1e-9:
        raise ScriptError("fault rates must sum to at most 1")
    return rates


@dataclass(frozen=True)
class _Selection:
    """The rule and reply chosen for a request, before its sequence position is taken."""

    rule_index: int
    rule: Rule
    key: str
    position: int
    reply: Reply


class ServerState:
    """Configuration, script, sequence positions, counters and the request log."""

    def __init__(self, config: ServerConfig, rules: Sequence[Rule] = ()) -> None:
        self.config = config
        self.rules: list[Rule] = list(rules)
        self.started = time.time()
        self.reset()

    def reset(self) -> None:
        """Clear counters, the log, attempt counters and script positions."""
        self.positions: dict[tuple[int, str], int] = {}
        self.attempts: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.log: list[dict[str, Any]] = []
        self.log_dropped = 0
        self.total = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def set_script(self, script: Any) -> None:
        """Replace the rules and clear their sequence positions.

        Args:
            script: See `parse_script`.
        """
        self.rules = parse_script(script)
        self.positions.clear()

    def select(self, request: ChatRequest) -> _Selection | None:
        """Find the first rule that matches and still has a reply for the request."""
        for index, rule in enumerate(self.rules):
            if not rule.matches(request):
                continue
            key = rule.sequence_key(request)
            position = self.positions.get((index, key), 0)
            count = len(rule.replies)
            if position < count:
                reply = rule.replies[position]
            elif rule.exhausted == "repeat_last":
                reply = rule.replies[-1]
            elif rule.exhausted == "cycle":
                reply = rule.replies[position % count]
            else:
                continue
            return _Selection(index, rule, key, position, reply)
        return None

    def advance(self, selection: _Selection) -> None:
        """Take the selected position, so the next matching request gets the next reply."""
        self.positions[(selection.rule_index, selection.key)] = selection.position + 1

    def draw_fault(self, fingerprint: str, attempt: int) -> str | None:
        """Pick a random fault for a request attempt, or None."""
        rates = self.config.faults
        if not rates:
            return None
        draw = _uniform(self.config.seed, "fault", fingerprint, attempt)
        cumulative = 0.0
        for name in FAULTS:
            cumulative += rates.get(name, 0.0)
            if draw < cumulative:
                return name
        return None

    def record(self, entry: dict[str, Any]) -> None:
        """Count an outcome and add it to the log."""
        self.outcomes[entry["outcome"]] += 1
        if len(self.log) < self.config.log_limit:
            self.log.append(entry)
        else:
            self.log_dropped += 1

    def stats(self, with_log: bool = True) -> dict[str, Any]:
        """The counters, and the log unless left out."""
        result: dict[str, Any] = {
            "total": self.total,
            "outcomes": {name: self.outcomes.get(name, 0) for name in OUTCOMES},
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "unique_fingerprints": len(self.attempts),
            "log_dropped": self.log_dropped,
            "uptime": time.time() - self.started,
        }
        if with_log:
            result["log"] = self.log
        return result

    def model_names(self) -> list[str]:
        """Models listed by ``GET /v1/models``: configured names and those in the script."""
        names = list(self.config.models)
        for rule in self.rules:
            model = rule.criteria.get("model")
            if isinstance(model, str) and model not in names:
                names.append(model)
        return names


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def _error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _default_reply(request: ChatRequest) -> Reply:
    """The reply for a request that no rule answers."""
    response_format = request.body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "json_schema":
        return Reply(json_from_schema=True)
    if kind == "json_object":
        return Reply(json_template={"echo": "{{fingerprint}}"})
    return Reply(content="echo: {{fingerprint}}")


def _schema_of(request: ChatRequest) -> Any:
    """The JSON schema in a request's ``response_format``, or None."""
    response_format = request.body.get("response_format")
    if not isinstance(response_format, Mapping):
        return None
    inner = response_format.get("json_schema")
    if isinstance(inner, Mapping):
        return inner.get("schema", inner)
    return response_format.get("schema")


def build_message(
    request: ChatRequest, reply: Reply, variables: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason for a reply.

    Args:
        request: The request being answered.
        reply: The reply to give.
        variables: Placeholder values.

    Returns:
        The message mapping and the finish reason.
    """
    if reply.json_from_schema:
        content: str | None = json.dumps(example_from_schema(_schema_of(request) or {}))
    elif reply.json_template is not _UNSET:
        content = json.dumps(_render(reply.json_template, variables))
    elif reply.content is not None:
        content = _render(reply.content, variables)
    else:
        content = None
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reply.tool_calls:
        calls = []
        for index, call in enumerate(reply.tool_calls):
            arguments = _render(call.get("arguments", {}), variables)
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            call_id = (
                call.get("id")
                or "call_"
                + hashlib.sha256(
                    f"{variables['fingerprint']}:{variables['attempt']}:{index}".encode()
                ).hexdigest()[:24]
            )
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call["name"], "arguments": arguments},
                }
            )
        message["tool_calls"] = calls
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    return message, finish


def _completion_tokens(message: Mapping[str, Any]) -> int:
    """A rough completion token count."""
    count = _approx_tokens(message.get("content") or "")
    for call in message.get("tool_calls", ()):
        count += _approx_tokens(call["function"]["arguments"]) + 1
    return count


class OpenAIServer:
    """The aiohttp application: routes and the request handler."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/chat/completions", self.chat_completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/models", self.models)
        app.router.add_get("/_health", self.health)
        app.router.add_get("/_stats", self.stats)
        app.router.add_get("/_control/config", self.get_config)
        app.router.add_post("/_control/config", self.set_config)
        app.router.add_post("/_control/reset", self.reset)
        return app

    # ---- control and introspection ----------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """``GET /_health``."""
        return web.json_response({"ok": True})

    async def models(self, request: web.Request) -> web.Response:
        """``GET /v1/models``."""
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "openai-server"}
            for name in self.state.model_names()
        ]
        return web.json_response({"object": "list", "data": data})

    async def stats(self, request: web.Request) -> web.Response:
        """``GET /_stats``; ``?log=0`` leaves the per-request log out."""
        with_log = request.query.get("log", "1") not in ("0", "false", "no")
        return web.json_response(self.state.stats(with_log))

    def _config_view(self) -> dict[str, Any]:
        """Current settings plus the script's rule names."""
        return {**self.state.config.to_dict(), "rules": [rule.name for rule in self.state.rules]}

    async def get_config(self, request: web.Request) -> web.Response:
        """``GET /_control/config``."""
        return web.json_response(self._config_view())

    async def set_config(self, request: web.Request) -> web.Response:
        """``POST /_control/config``: change settings and, with ``script``, the rules."""
        try:
            changes = json.loads(await request.read() or b"{}")
            if not isinstance(changes, Mapping):
                raise ScriptError("the body must be a JSON object")
            rules = parse_script(changes["script"]) if "script" in changes else None
            self.state.config.update(changes)
        except (ScriptError, json.JSONDecodeError) as error:
            return web.json_response(_error_body(str(error), "invalid_request_error"), status=400)
        if rules is not None:
            self.state.rules = rules
            self.state.positions.clear()
        logger.info("configuration changed: %s", sorted(changes))
        return web.json_response(self._config_view())

    async def reset(self, request: web.Request) -> web.Response:
        """``POST /_control/reset``."""
        self.state.reset()
        return web.json_response({"ok": True})

    # ---- chat completions -------------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``."""
        state = self.state
        state.total += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await self._answer(request, state.total)
        finally:
            state.in_flight -= 1

    async def _answer(self, http: web.Request, number: int) -> web.StreamResponse:
        """Decide the outcome of one request, record it, and produce it."""
        state = self.state
        config = state.config
        try:
            request = ChatRequest.from_body(json.loads(await http.read()))
        except (ValueError, UnicodeDecodeError) as error:
            state.record(
                {
                    "index": number,
                    "fingerprint": None,
                    "attempt": 0,
                    "model": None,
                    "outcome": "bad_request",
                    "rule": None,
                    "stream": False,
                }
            )
            return web.json_response(_error_body(str(error), "invalid_request_error"), status=400)

        attempt = state.attempts[request.fingerprint]
        state.attempts[request.fingerprint] += 1
        outcome = state.draw_fault(request.fingerprint, attempt)
        selection = state.select(request)
        if outcome is None and selection is not None:
            state.advance(selection)
            outcome = selection.reply.fault
        outcome = outcome or "ok"
        state.record(
            {
                "index": number,
                "fingerprint": request.fingerprint,
                "attempt": attempt,
                "model": request.model,
                "outcome": outcome,
                "rule": selection.rule.name if selection else None,
                "stream": request.stream,
            }
        )

        if outcome in ("429", "500", "503", "drop", "401"):
            if config.error_latency:
                await asyncio.sleep(config.error_latency)
            return await self._error(http, outcome)
        if outcome == "timeout":
            await asyncio.sleep(config.timeout_seconds)
            return web.json_response(
                _error_body("injected timeout", "server_error", "timeout"), status=504
            )

        reply = selection.reply if selection else _default_reply(request)
        if reply.fault is not None:  # a random fault pre-empted a scripted one
            reply = _default_reply(request)
        rule = selection.rule if selection else None
        latency = _first(reply.latency, rule.latency if rule else None, config.latency)
        jitter = _first(reply.jitter, rule.jitter if rule else None, config.jitter)
        delay = latency + jitter * _uniform(config.seed, "jitter", request.fingerprint, attempt)
        if delay > 0:
            await asyncio.sleep(delay)

        variables = {
            "model": request.model,
            "last_user": request.last_user,
            "system": request.system,
            "fingerprint": request.fingerprint[:16],
            "attempt": str(attempt),
            "call": str(selection.position if selection else 0),
            "request": str(number),
        }
        message, finish = build_message(request, reply, variables)
        if outcome == "empty":
            message = {"role": "assistant", "content": None if config.empty_as_null else ""}
            finish = "stop"
        completion = {
            "id": "chatcmpl-"
            + hashlib.sha256(f"{request.fingerprint}:{attempt}".encode()).hexdigest()[:29],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": _usage(request, message),
        }
        if request.stream:
            return await self._stream(http, request, completion, malformed=outcome == "malformed")
        if outcome == "malformed":
            text = json.dumps(completion)
            return web.Response(
                text=text[: len(text) // 2], status=200, content_type="application/json"
            )
        return web.json_response(completion)

    async def _error(self, http: web.Request, outcome: str) -> web.StreamResponse:
        """Produce a 401, 429, 500 or 503 response, or drop the connection."""
        if outcome == "401":
            key = http.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            return web.json_response(
                _error_body(
                    f"Incorrect API key provided: {key}. You can find your API key in your "
                    "account settings.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
                status=401,
            )
        if outcome == "drop":
            if http.transport is not None:
                http.transport.close()
            # The closed connection cancels this handler; the sleep only bounds the wait.
            await asyncio.sleep(self.state.config.timeout_seconds)
            raise web.HTTPServiceUnavailable()
        if outcome == "429":
            return web.json_response(
                _error_body("Rate limit reached (injected)", "requests", "rate_limit_exceeded"),
                status=429,
                headers={"Retry-After": _seconds_text(self.state.config.retry_after)},
            )
        if outcome == "503":
            return web.json_response(
                _error_body("The server is overloaded (injected)", "server_error"), status=503
            )
        return web.json_response(
            _error_body("The server had an error (injected)", "server_error"), status=500
        )

    async def _stream(
        self,
        http: web.Request,
        request: ChatRequest,
        completion: Mapping[str, Any],
        malformed: bool,
    ) -> web.StreamResponse:
        """Send a completion as ``chat.completion.chunk`` Server-Sent Events."""
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(http)
        choice = completion["choices"][0]
        message = choice["message"]

        def chunk(delta: Mapping[str, Any], finish: str | None = None) -> bytes:
            body = {
                "id": completion["id"],
                "object": "chat.completion.chunk",
                "created": completion["created"],
                "model": completion["model"],
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(body)}\n\n".encode()

        parts = [chunk({"role": "assistant", "content": ""})]
        if malformed:
            broken = chunk({"content": "x"}).decode()
            parts.append(broken[: len(broken) // 2].encode() + b"\n\n")
        else:
            content = message.get("content") or ""
            words = content.split(" ")
            step = max(1, len(words) // 4)
            for start in range(0, len(words) if content else 0, step):
                piece = " ".join(words[start : start + step])
                if start + step < len(words):
                    piece += " "
                parts.append(chunk({"content": piece}))
            for index, call in enumerate(message.get("tool_calls", ())):
                parts.append(chunk({"tool_calls": [{"index": index, **call}]}))
            parts.append(chunk({}, choice["finish_reason"]))
            options = request.body.get("stream_options")
            if isinstance(options, Mapping) and options.get("include_usage"):
                usage = {
                    "id": completion["id"],
                    "object": "chat.completion.chunk",
                    "created": completion["created"],
                    "model": completion["model"],
                    "choices": [],
                    "usage": completion["usage"],
                }
                parts.append(f"data: {json.dumps(usage)}\n\n".encode())
        parts.append(b"data: [DONE]\n\n")
        await response.write(b"".join(parts))
        await response.write_eof()
        return response


def _first(*values: float | None) -> float:
    """The first value that is not None."""
    return next(value for value in values if value is not None)


def _seconds_text(seconds: float) -> str:
    """Seconds for an HTTP header: an integer when whole."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _usage(request: ChatRequest, message: Mapping[str, Any]) -> dict[str, int]:
    """The usage block."""
    prompt = request.prompt_tokens()
    completion = _completion_tokens(message)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


# --------------------------------------------------------------------------------------------
# Process entry point
# --------------------------------------------------------------------------------------------


async def serve(state: ServerState, port: int = 0, exit_with_parent: bool = False) -> None:
    """Listen on 127.0.0.1 until SIGTERM or SIGINT, printing the port as the first line.

    Args:
        state: The server state.
        port: The port; 0 picks a free one.
        exit_with_parent: Stop when the parent process goes away.
    """
    runner = web.AppRunner(
        OpenAIServer(state).app(),
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=0.5,
    )
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, backlog=4096)
    await site.start()
    chosen = runner.addresses[0][1]
    print(chosen, flush=True)  # noqa: T201  (the port line the harness waits for)
    logger.info("listening on http://%s:%d/v1", HOST, chosen)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if exit_with_parent and os.getppid() != parent:
                logger.warning("parent process gone; stopping")
                break
    finally:
        await runner.cleanup()


def _parse_fault(text: str) -> tuple[str, float]:
    """Parse ``NAME=RATE`` from the command line."""
    name, separator, rate = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE, got {text!r}")
    try:
        return name.strip(), float(rate)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"bad rate in {text!r}") from error


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m funreason_assets.testing.openai_server",
        description="OpenAI-compatible chat-completions server for tests and benchmarks.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--script", help="rules file (.json or .jsonl)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many extra seconds")
    parser.add_argument(
        "--error-latency",
        type=float,
        default=0.0,
        help="seconds before a 429/500/503 or a dropped connection",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of fault and jitter draws")
    parser.add_argument(
        "--fault",
        action="append",
        type=_parse_fault,
        default=[],
        metavar="NAME=RATE",
        help=f"fault rate, repeatable; NAME is one of {', '.join(FAULTS)}",
    )
    parser.add_argument(
        "--retry-after", type=float, default=1.0, help="Retry-After seconds on a 429"
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=60.0,
        help="how long a timeout fault keeps the client waiting",
    )
    parser.add_argument(
        "--empty-as-null",
        action="store_true",
        help="empty faults send null content instead of an empty string",
    )
    parser.add_argument(
        "--log-limit", type=int, default=100_000, help="most per-request log entries kept"
    )
    parser.add_argument(
        "--model", action="append", default=[], help="model name listed by /v1/models, repeatable"
    )
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process exits"
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level for stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from the command line.

    Args:
        argv: Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = ServerConfig()
        config.update(
            {
                "latency": args.latency,
                "jitter": args.jitter,
                "error_latency": args.error_latency,
                "seed": args.seed,
                "faults": dict(args.fault),
                "retry_after": args.retry_after,
                "timeout_seconds": args.timeout_seconds,
                "empty_as_null": args.empty_as_null,
                "log_limit": args.log_limit,
                "models": args.model or list(DEFAULT_MODELS),
            }
        )
        rules = load_script(args.script) if args.script else []
    except (ScriptError, OSError) as error:
        logger.error("cannot start: %s", error)
        return 2
    try:
        import uvloop  # optional speed-up
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    runner(serve(ServerState(config, rules), args.port, args.exit_with_parent))
    return 0


# --------------------------------------------------------------------------------------------
# Test harness
# --------------------------------------------------------------------------------------------

_REPO_ROOT = Path(__file__).resolve().parents[2]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class ServerHandle:
    """A running server subprocess.

    Attributes:
        process: The server process (leader of its own process group).
        port: The port it listens on, on 127.0.0.1.
    """

    process: subprocess.Popen[bytes]
    port: int
    _stderr: Any = field(default=None, repr=False)

    @property
    def root_url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:8000``."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:8000/v1``."""
        return f"{self.root_url}/v1"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """Send a control request and decode the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with _NO_PROXY.open(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise ScriptError(f"{method} {path} failed ({error.code}): {detail}") from error

    def stats(self, log: bool = True) -> dict[str, Any]:
        """Counters and, unless ``log`` is False, the per-request log (see ``GET /_stats``).

        Args:
            log: Include the per-request log.

        Returns:
            The stats mapping.
        """
        return self._call("GET", "/_stats" if log else "/_stats?log=0")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings at runtime (see ``POST /_control/config``).

        Args:
            **changes: Any of latency, jitter, error_latency, seed, faults (replaces all rates),
                retry_after, timeout_seconds, empty_as_null, log_limit, models, script.

        Returns:
            The settings now in force.
        """
        return self._call("POST", "/_control/config", changes)

    def reset(self) -> dict[str, Any]:
        """Clear counters, the log, attempt counters and script positions."""
        return self._call("POST", "/_control/reset", {})

    def close(self, timeout: float = 5.0) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after ``timeout`` seconds.

        Args:
            timeout: Seconds to wait for a clean exit.
        """
        _stop_group(self.process, timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate a process group led by ``process`` and reap the leader."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    # Anything else left in the group (there should be nothing) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _stderr_tail(stream: Any) -> str:
    """The last part of a captured stderr file."""
    stream.seek(0)
    return stream.read().decode(errors="replace")[-4000:]


def start_server(
    script: Any = None,
    latency: float = 0.0,
    faults: Mapping[str, float] | None = None,
    seed: int = 0,
    port: int = 0,
    *,
    jitter: float = 0.0,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 30.0,
) -> ServerHandle:
    """Start the server in a subprocess and wait until it listens; the caller must close it.

    Args:
        script: A script file path, script data (see `parse_script`), or None.
        latency: Seconds before each answer.
        faults: Fault rates by name (see `FAULTS`).
        seed: Seed of the fault and jitter draws.
        port: The port on 127.0.0.1; 0 picks a free one.
        jitter: Up to this many extra seconds per answer.
        extra_args: More command-line arguments for the server.
        startup_timeout: Seconds to wait for the port line.

    Returns:
        The handle of the running server.

    Raises:
        RuntimeError: When the server exits or stays silent during startup.
    """
    command = [
        sys.executable,
        "-m",
        "funreason_assets.testing.openai_server",
        "--port",
        str(port),
        "--latency",
        str(latency),
        "--jitter",
        str(jitter),
        "--seed",
        str(seed),
        "--exit-with-parent",
    ]
    for name, rate in (faults or {}).items():
        command += ["--fault", f"{name}={rate}"]
    script_data = None
    if isinstance(script, str | os.PathLike):
        command += ["--script", os.fspath(script)]
    elif script is not None:
        script_data = script
    command += list(extra_args)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(_REPO_ROOT), env.get("PYTHONPATH")) if part
    )
    stderr = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + startup_timeout
    line = b""
    try:
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"server did not start within {startup_timeout} s")
            ready, _, _ = select.select([process.stdout], [], [], min(remaining, 0.1))
            if ready:
                byte = os.read(process.stdout.fileno(), 64)
                if not byte:
                    raise RuntimeError(f"server exited with status {process.wait()}")
                line += byte
        handle = ServerHandle(process=process, port=int(line.split()[0]), _stderr=stderr)
    except (RuntimeError, ValueError) as error:
        _stop_group(process, 2.0)
        process.stdout.close()
        tail = _stderr_tail(stderr)
        stderr.close()
        raise RuntimeError(f"{error}; server stderr:\n{tail}") from error
    if script_data is not None:
        try:
            handle.configure(script=script_data)
        except BaseException:
            handle.close()
            raise
    return handle


@contextlib.contextmanager
def run_server(
    script: Any = None,
    latency: float = 0.0,
    faults: Mapping[str, float] | None = None,
    seed: int = 0,
    port: int = 0,
    **options: Any,
) -> Iterator[ServerHandle]:
    """Run the server in a subprocess for the duration of a ``with`` block.

    Args:
        script: A script file path, script data (see `parse_script`), or None.
        latency: Seconds before each answer.
        faults: Fault rates by name (see `FAULTS`).
        seed: Seed of the fault and jitter draws.
        port: The port on 127.0.0.1; 0 picks a free one.
        **options: Passed on to `start_server` (jitter, extra_args, startup_timeout).

    Yields:
        The handle of the running server; its process group is stopped on exit.
    """
    handle = start_server(script, latency, faults, seed, port, **options)
    try:
        yield handle
    finally:
        handle.close()


if __name__ == "__main__":
    sys.exit(main())
