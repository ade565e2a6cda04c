"""Checks of a models config that must hold before any model is called.

A run whose every model call fails still "succeeds" with an empty dataset, so the models
resource runs `preflight` when it is set up, before any asset writes: for every role that names
a model, litellm must know its provider, the key variable it names must be set, and its
`api_base` must accept a TCP connection. Each problem names the file, the role and the field
(`data/config/models.yaml: roles.reasoner.api_key_env: OPENAI_KEY is not set`).
"""

from __future__ import annotations

import logging
import os
import socket
from urllib.parse import urlsplit

from funreason_assets.lib.llm.settings import ROLES, ModelSettings, RoleSettings
from funreason_assets.lib.paths import SettingsError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _provider_problem(role: RoleSettings) -> str | None:
    from funreason_assets.lib.llm.client import quiet_litellm

    litellm = quiet_litellm()
    try:
        litellm.get_llm_provider(model=role.model, api_base=role.api_base)
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"{role.model!r} names no provider litellm knows; write `<provider>/<model>`, e.g. "
            f"openai/gpt-4o-mini or hosted_vllm/<name> ({detail[:160]})"
        )
    return None


def _missing_key_warning(role: RoleSettings) -> str | None:
    """A provider that wants a key from a variable no one set (when the config names none).

    Only a warning: providers with other credentials (cloud roles, profiles) can look keyless
    to litellm's check and still work.
    """
    from funreason_assets.lib.llm.client import quiet_litellm

    try:
        missing = quiet_litellm().validate_environment(model=role.model, api_base=role.api_base)
    except Exception:
        return None
    if role.api_key_env or missing.get("keys_in_environment", True):
        return None
    names = ", ".join(missing.get("missing_keys") or [])
    return (
        f"no api_key_env, and {names} is not set: litellm's client for {role.model} will "
        "refuse to call without a key (for a local server any value will do)"
    )


def _connect_problem(api_base: str, timeout: float) -> str | None:
    parts = urlsplit(api_base)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return f"{api_base} is not an http(s) URL"
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return f"{api_base} has an invalid port"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"{api_base} does not accept connections on {parts.hostname}:{port} ({reason})"


def preflight_problems(
    settings: ModelSettings, source: str, timeout: float = CONNECT_TIMEOUT_S
) -> list[str]:
    """Every problem of the config's model roles, each naming file, role and field."""
    problems: list[str] = []
    reachable: dict[str, str | None] = {}
    for name in ROLES:
        role = settings.role(name)
        if role.scripted:
            continue
        where = f"{source}: roles.{name}"
        provider = _provider_problem(role)
        if provider:
            problems.append(f"{where}.model: {provider}")
        if role.api_key_env and not os.environ.get(role.api_key_env):
            problems.append(f"{where}.api_key_env: {role.api_key_env} is not set")
        if role.api_base:
            if role.api_base not in reachable:
                reachable[role.api_base] = _connect_problem(role.api_base, timeout)
            if reachable[role.api_base]:
                problems.append(f"{where}.api_base: {reachable[role.api_base]}")
    return problems


def preflight(settings: ModelSettings, source: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail on any problem `preflight_problems` finds.

    Raises:
        SettingsError: Listing every problem, one a line.
    """
    for name in ROLES:
        role = settings.role(name)
        if not role.scripted and (warning := _missing_key_warning(role)):
            logger.warning("%s: roles.%s.api_key_env: %s", source, name, warning)
    problems = preflight_problems(settings, source, timeout)
    if problems:
        raise SettingsError(
            "the models config cannot work; fix it before the run writes anything:\n  "
            + "\n  ".join(problems)
        )
