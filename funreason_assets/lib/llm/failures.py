"""What went wrong with a model call, in one vocabulary, and keys kept out of every text.

A failed reply carries an error string `"<reason>: <details>"` (see `client._failure_reason`).
`failure_kind` maps the reason to one of six kinds that records and metadata use, so a reader
can tell a broken config from a model mistake:

- `config`: the request cannot work as configured (unknown model, bad parameters, 400/404);
- `auth`: the server refused the key (401/403);
- `unreachable`: no answer (connection refused or dropped, timeouts, 5xx);
- `rate_limited`: 429s outlasted every retry;
- `invalid_output`: the model answered, but not in the required form (after re-asks);
- `budget`: the run budget refused the call before it was sent.

Only `invalid_output` is the model's own mistake; the others are the run's circumstances, and
a phase records them as a record-level status (`record_status`), never as a reasoning failure.

`Redactor` removes the values of the configured key variables from any text that is stored,
logged or put in metadata: a provider that echoes the key in an error body must not put it in
records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

ModelFailureKind = Literal[
    "config", "auth", "unreachable", "rate_limited", "invalid_output", "budget"
]
MODEL_FAILURE_KINDS: tuple[ModelFailureKind, ...] = get_args(ModelFailureKind)
BUDGET_EXHAUSTED = "budget_exhausted"

_KIND_OF_REASON: dict[str, ModelFailureKind] = {
    "timeout": "unreachable",
    "connection_error": "unreachable",
    "rate_limited": "rate_limited",
    "unreadable_response": "invalid_output",
    "empty_content": "invalid_output",
    "invalid_output": "invalid_output",
    "client_error_401": "auth",
    "client_error_403": "auth",
    "missing_credentials": "auth",
    "error_AuthenticationError": "auth",
    "error_PermissionDeniedError": "auth",
    BUDGET_EXHAUSTED: "budget",
}

# Values shorter than this are no API keys, and replacing them would mangle ordinary text.
MIN_SECRET_LENGTH = 8


def failure_kind(error: str | None) -> ModelFailureKind:
    """The kind of a failed reply, from its error string's reason."""
    reason = (error or "").split(":", 1)[0].strip()
    if reason in _KIND_OF_REASON:
        return _KIND_OF_REASON[reason]
    if reason.startswith("server_error_"):
        return "unreachable"
    return "config"


def is_model_mistake(kind: str | None) -> bool:
    """Whether a failure is the model's own (a critic can help), not the run's circumstances."""
    return kind == "invalid_output"


def record_status(kind: str) -> str:
    """How a record names a failure that was not the model's mistake."""
    return BUDGET_EXHAUSTED if kind == "budget" else f"model_failed:{kind}"


class Redactor:
    """Replaces the values of named environment variables (API keys) in texts."""

    def __init__(self, variables: Iterable[str]) -> None:
        self.secrets: dict[str, str] = {}
        for name in sorted(set(variables)):
            value = os.environ.get(name, "")
            if len(value) >= MIN_SECRET_LENGTH:
                self.secrets[name] = value

    @classmethod
    def for_roles(cls, roles: Mapping[str, Any]) -> Redactor:
        """A redactor of every key variable the roles' settings name."""
        return cls(role.api_key_env for role in roles.values() if role.api_key_env)

    def text(self, text: str | None) -> str | None:
        """The text with every secret replaced by `[redacted $NAME]`."""
        if not text or not self.secrets:
            return text
        for name, secret in self.secrets.items():
            if secret in text:
                text = text.replace(secret, f"[redacted ${name}]")
        return text

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string in it redacted."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key) if isinstance(key, str) else key: self.value(item)
                    for key, item in value.items()}
        return value
