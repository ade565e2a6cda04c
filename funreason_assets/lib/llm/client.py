"""One model client over litellm: batches, retries, structured output, cache, budget, accounting.

Every model role of the pipeline calls through `ModelClient.complete_many`. Design points:

- Any litellm model string works; a role's settings give the model, sampling parameters,
  endpoint and the *name* of the environment variable holding its key.
- Calls run as asyncio tasks under a semaphore (the concurrency limit). Transient failures
  (429, 5xx, timeouts, dropped connections, unreadable bodies, empty replies) are retried with
  exponential backoff and full jitter, honouring `Retry-After`. Anything still failing becomes a
  failed `ModelReply` with its reason: a batch never raises because one call failed.
- A role may declare a pydantic response model. The reply is validated; invalid output is sent
  back with the validation error appended, a bounded number of times, and what still fails is
  recorded with its raw text.
- Completions are cached on disk, keyed by content (see `cache.py`); identical requests in one
  batch share one call. Cached and fresh calls are counted apart.
- A run-level budget (tokens and/or USD; `budget.py`) reserves each call's worst case before
  it starts, waiting for calls in flight when it does not fit yet, so spending never passes the
  cap; refused calls say so. The budget may be shared by every client of a run (a ledger file).
- A failed reply names its kind (`failures.py`: config, auth, unreachable, rate_limited,
  invalid_output, budget), and the values of the configured key variables are redacted from
  every error and reply text before anyone stores, logs or caches it.
- litellm's per-call logging, callbacks and cost bookkeeping are switched off as far as its
  settings allow (see `quiet_litellm`); we compute cost once per call from litellm's local price
  map.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from funreason_assets.lib.llm.budget import Budget, BudgetExhausted
from funreason_assets.lib.llm.cache import CompletionCache, cache_key
from funreason_assets.lib.llm.failures import (
    BUDGET_EXHAUSTED,
    ModelFailureKind,
    Redactor,
    failure_kind,
)
from funreason_assets.lib.llm.settings import ClientSettings, RoleSettings

logger = logging.getLogger(__name__)

ReplyStatus = Literal["ok", "failed", "budget_exhausted"]


@dataclass
class ModelRequest:
    """One call a role wants made.

    Attributes:
        request_id: The caller's id for the reply (e.g. a round id plus an attempt number).
        role: The role name; selects the model settings.
        messages: Chat messages in OpenAI form.
        tools: Optional tool schemas in OpenAI form.
        response_model: Optional pydantic model the reply's content must validate against.
        prompt_version: Version of the prompt that rendered the messages (enters the cache key).
    """

    request_id: str
    role: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    response_model: type[BaseModel] | None = None
    prompt_version: str = "1"


@dataclass
class CallUsage:
    """What one reply cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    http_calls: int = 0
    retries: int = 0
    structured_retries: int = 0


@dataclass
class ModelReply:
    """The outcome of one request: content, or the reason it failed."""

    request_id: str
    role: str
    model: str
    status: ReplyStatus
    text: str | None = None
    parsed: BaseModel | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failure: ModelFailureKind | None = None
    invalid_outputs: list[str] = field(default_factory=list)
    cached: bool = False
    usage: CallUsage = field(default_factory=CallUsage)

    @property
    def ok(self) -> bool:
        """Whether the reply has usable content."""
        return self.status == "ok"


@dataclass
class Accounting:
    """Totals over the replies of a run, per role and overall; put into asset metadata."""

    replies: int = 0
    fresh: int = 0
    cached: int = 0
    failed: int = 0
    budget_refused: int = 0
    http_calls: int = 0
    retries: int = 0
    structured_retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    failure_kinds: Counter[str] = field(default_factory=Counter)

    def add(self, reply: ModelReply) -> None:
        """Count one reply."""
        usage = reply.usage
        self.replies += 1
        self.cached += reply.cached
        self.fresh += (not reply.cached) and reply.status != "budget_exhausted"
        self.failed += reply.status == "failed"
        self.budget_refused += reply.status == "budget_exhausted"
        self.http_calls += usage.http_calls
        self.retries += usage.retries
        self.structured_retries += usage.structured_retries
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost_usd += usage.cost_usd
        self.latency_s += usage.latency_s
        if reply.status != "ok" and reply.error:
            self.failures[reply.error.split(":", 1)[0]] += 1
        if reply.failure is not None:
            self.failure_kinds[reply.failure] += 1

    def merge(self, other: Accounting) -> None:
        """Add another accounting's totals to this one."""
        for name, value in asdict(other).items():
            if name in ("failures", "failure_kinds"):
                getattr(self, name).update(getattr(other, name))
            else:
                setattr(self, name, getattr(self, name) + value)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-ready totals."""
        data = asdict(self)
        data["failures"] = dict(self.failures)
        data["failure_kinds"] = dict(self.failure_kinds)
        data["cost_usd"] = round(self.cost_usd, 6)
        data["latency_s"] = round(self.latency_s, 3)
        data["total_tokens"] = self.prompt_tokens + self.completion_tokens
        return data


_QUIETED = False


def quiet_litellm() -> Any:
    """Import litellm with its per-call overheads that this pipeline does not use switched off.

    Measured per call, litellm's client CPU goes to the OpenAI SDK's request building and
    response parsing, and to litellm's bookkeeping around them: its logging object and standard
    logging payload, the response cost (a price-map lookup with model-name normalization) and
    debug lines. Its settings switch off only part of the bookkeeping; that part is switched off
    here. We keep none of it: accounting is done here once.

    Message logging stays on: with it off, litellm deep-copies every response to redact it
    before handing it to callbacks, and there are no callbacks to protect.

    On the first call this also moves every object alive now, mostly litellm's import graph
    (about 300,000 objects), out of the cyclic garbage collector's reach (`gc.freeze`). Each
    full collection would otherwise walk all of them; with many calls in flight full
    collections come every few hundred calls and stall the event loop 0.1-0.3 s each, which
    costs both CPU per call and throughput. Frozen objects are still freed when their
    reference count drops to zero; only reference cycles among them are never collected,
    which is why garbage is collected first.
    """
    global _QUIETED
    import litellm

    if not _QUIETED:
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        litellm.turn_off_message_logging = False
        litellm.disable_streaming_logging = True
        litellm.disable_token_counter = True
        litellm.disable_end_user_cost_tracking = True
        litellm.disable_add_user_agent_to_request_tags = True
        litellm.success_callback = []
        litellm.failure_callback = []
        litellm.callbacks = []
        litellm._async_success_callback = []
        litellm._async_failure_callback = []
        litellm.set_verbose = False
        logging.getLogger("LiteLLM").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        gc.collect()
        gc.freeze()
        _QUIETED = True
    return litellm


@functools.lru_cache(maxsize=256)
def _schema_json(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema())


def _response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a response model, built once per class.

    Building a schema costs about 0.3 ms and a request needs it up to three times. Each caller
    gets its own copy, so an in-place edit of a request's schema (litellm adapts schemas for
    some providers) cannot leak into the next request or its cache key.
    """
    return json.loads(_schema_json(model))


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_structured(text: str, model: type[BaseModel]) -> BaseModel:
    """Validate a reply's content against a response model (code fences tolerated)."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    return model.model_validate_json(stripped)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


_MISSING_KEY_MARKERS = ("Missing credentials", "api_key client option must be set")


def _failure_reason(exc: BaseException) -> tuple[str, bool]:
    """A short reason for a failed call, and whether it is worth retrying."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if any(marker in str(exc) for marker in _MISSING_KEY_MARKERS):
        # litellm reports the OpenAI client's missing key as a 500; no retry can fix it.
        return "missing_credentials", False
    if name in {"Timeout", "APITimeoutError", "TimeoutError"} or isinstance(
        exc, asyncio.TimeoutError
    ):
        return "timeout", True
    if status == 429 or name == "RateLimitError":
        return "rate_limited", True
    if isinstance(status, int) and status >= 500:
        return f"server_error_{status}", True
    if name in {"APIConnectionError", "ServiceUnavailableError", "InternalServerError"}:
        return "connection_error", True
    if isinstance(exc, (json.JSONDecodeError, ValueError)) and status is None:
        return "unreadable_response", True
    if name == "APIError" and status in (None, 200):
        return "unreadable_response", True
    if isinstance(status, int) and 400 <= status < 500:
        return f"client_error_{status}", False
    return f"error_{name}", False


class EmptyReply(Exception):
    """The server answered with neither content nor tool calls."""


class ModelClient:
    """Calls models for the pipeline's roles; see the module docstring."""

    def __init__(
        self,
        roles: Mapping[str, RoleSettings],
        settings: ClientSettings | None = None,
        cache: CompletionCache | None = None,
        rng: random.Random | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.roles = dict(roles)
        self.settings = settings or ClientSettings()
        self.cache = cache if self.settings.cache else None
        self.budget = budget or Budget(self.settings.budget_tokens, self.settings.budget_usd)
        self.accounting: dict[str, Accounting] = {}
        self.redactor = Redactor.for_roles(self.roles)
        self._rng = rng or random.Random()
        self._price_known: dict[str, bool] = {}
        self._runner: asyncio.Runner | None = None
        self.warnings: list[str] = self._unpriced_warnings()
        for warning in self.warnings:
            logger.warning("%s", warning)

    def _unpriced_warnings(self) -> list[str]:
        """A cost cap over a model without a price does not cap it: say so loudly."""
        if self.budget.usd_limit is None:
            return []
        models: dict[str, list[str]] = {}
        for name, role in self.roles.items():
            if not role.scripted:
                models.setdefault(role.model, []).append(name)
        return [
            f"budget_usd is ${self.budget.usd_limit:g} but litellm has no price for {model} "
            f"(roles: {', '.join(names)}): its calls count $0 against the cost cap, so that "
            "cap does not limit them; set client.budget_tokens too"
            for model, names in models.items()
            if not self.price_known(model)
        ]

    def price_known(self, model: str) -> bool:
        """Whether litellm's local price map prices this model."""
        self._cost(model, 1, 1)
        return bool(self._price_known.get(model))

    def role_settings(self, role: str) -> RoleSettings:
        """Settings of a role; an unknown role is a programming error."""
        try:
            return self.roles[role]
        except KeyError as exc:
            raise KeyError(f"no model configured for role {role!r}") from exc

    def totals(self) -> Accounting:
        """Accounting over every role."""
        total = Accounting()
        for accounting in self.accounting.values():
            total.merge(accounting)
        return total

    def metadata(self) -> dict[str, Any]:
        """Totals, the run budget's state and the client's warnings, for asset metadata."""
        data = self.totals().as_metadata()
        if self.budget.capped:
            data["budget"] = self.budget.metadata()
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data

    # -- request shaping ---------------------------------------------------------------------

    def _params(self, settings: RoleSettings, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            **settings.extra,
        }
        if request.tools:
            params["tools"] = request.tools
        if request.response_model is not None and settings.response_format != "none":
            if settings.response_format == "json_object":
                params["response_format"] = {"type": "json_object"}
            else:
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.response_model.__name__,
                        "schema": _response_schema(request.response_model),
                    },
                }
        return params

    def key_for(self, request: ModelRequest) -> str:
        """The cache key of a request under its role's settings."""
        settings = self.role_settings(request.role)
        schema = _response_schema(request.response_model) if request.response_model else None
        return cache_key(
            {
                "model": settings.model,
                "messages": request.messages,
                "params": self._params(settings, request),
                "schema": schema,
                "prompt_version": request.prompt_version,
            }
        )

    def _worst_case(self, settings: RoleSettings, messages: Sequence[Mapping[str, Any]]) -> int:
        # Four characters a token is a generous estimate for the prompt; the completion can be
        # at most max_tokens.
        characters = sum(len(json.dumps(message)) for message in messages)
        return characters // 4 + 1 + settings.max_tokens

    def _cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        if self._price_known.get(model) is False:
            return 0.0
        litellm = quiet_litellm()
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:
            self._price_known[model] = False
            return 0.0
        self._price_known[model] = True
        return float(prompt_cost + completion_cost)

    def _worst_cost(self, model: str, tokens: int) -> float:
        return self._cost(model, tokens, tokens) if self.budget.usd_limit is not None else 0.0

    # -- one HTTP call -----------------------------------------------------------------------

    async def _call_once(
        self, settings: RoleSettings, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> tuple[str | None, list[dict[str, Any]], int, int]:
        litellm = quiet_litellm()
        response = await litellm.acompletion(
            model=settings.model,
            messages=messages,
            api_base=settings.api_base,
            api_key=settings.api_key(),
            timeout=settings.timeout_s,
            max_retries=0,
            num_retries=0,
            **params,
        )
        choice = response.choices[0]
        message = choice.message
        calls = []
        for call in message.tool_calls or []:
            arguments = call.function.arguments
            calls.append(
                {
                    "id": call.id,
                    "name": call.function.name,
                    "arguments": json.loads(arguments) if arguments else {},
                }
            )
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return message.content, calls, prompt_tokens, completion_tokens

    async def _call_with_retries(
        self,
        settings: RoleSettings,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        usage: CallUsage,
    ) -> tuple[str | None, list[dict[str, Any]]]:
        attempt = 0
        capped = self.budget.capped
        while True:
            # Without a limit a reservation is settled to nothing, so skip the estimate.
            worst = self._worst_case(settings, messages) if capped else 0
            worst_usd = self._worst_cost(settings.model, worst)
            await self.budget.reserve(worst, worst_usd)
            started = time.perf_counter()
            spent_tokens, spent_usd = 0, 0.0
            try:
                usage.http_calls += 1
                text, calls, prompt_tokens, completion_tokens = await self._call_once(
                    settings, messages, params
                )
                spent_tokens = prompt_tokens + completion_tokens
                spent_usd = self._cost(settings.model, prompt_tokens, completion_tokens)
                usage.prompt_tokens += prompt_tokens
                usage.completion_tokens += completion_tokens
                usage.cost_usd += spent_usd
                if not (text or "").strip() and not calls:
                    # Billed like any reply, but there is nothing to use: ask again.
                    raise EmptyReply("empty_content: the reply had neither content nor tool calls")
                return text, calls
            except EmptyReply as exc:
                reason, retryable, wait = "empty_content", True, None
                error = str(exc)
            except Exception as exc:
                reason, retryable = _failure_reason(exc)
                wait = _retry_after(exc)
                # Redacted before it is cut: a key cut in half would no longer match.
                error = f"{reason}: {type(exc).__name__}: {self.redactor.text(str(exc))[:300]}"
            finally:
                usage.latency_s += time.perf_counter() - started
                self.budget.settle(worst, worst_usd, spent_tokens, spent_usd)
            if not retryable or attempt >= self.settings.max_retries:
                raise _CallFailed(error)
            attempt += 1
            usage.retries += 1
            backoff = min(
                self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1)
            )
            delay = self._rng.uniform(0, backoff)
            if wait is not None:
                delay = max(delay, min(wait, self.settings.backoff_max_s))
            logger.debug("retrying after %s (%.2fs): %s", reason, delay, error)
            await asyncio.sleep(delay)

    # -- one request, structured retries included ---------------------------------------------

    async def _complete(self, request: ModelRequest, key: str) -> ModelReply:
        reply = self._redacted(await self._complete_raw(request, key))
        if reply.status != "ok":
            reply.failure = failure_kind(reply.error)
        return reply

    def _redacted(self, reply: ModelReply) -> ModelReply:
        """The reply with every configured key's value removed from its texts (cache hits too)."""
        redact = self.redactor
        if redact.secrets:
            reply.text = redact.text(reply.text)
            reply.error = redact.text(reply.error)
            reply.invalid_outputs = [redact.text(text) or "" for text in reply.invalid_outputs]
            reply.tool_calls = redact.value(reply.tool_calls)
        return reply

    async def _complete_raw(self, request: ModelRequest, key: str) -> ModelReply:
        settings = self.role_settings(request.role)
        reply = ModelReply(
            request_id=request.request_id, role=request.role, model=settings.model, status="ok"
        )
        if self.cache is not None and (entry := self.cache.get(key)) is not None:
            reply.cached = True
            reply.text = entry.get("text")
            reply.tool_calls = entry.get("tool_calls", [])
            if request.response_model is not None and reply.text is not None:
                try:
                    reply.parsed = parse_structured(reply.text, request.response_model)
                except (ValidationError, ValueError):
                    reply.cached = False  # a schema change behind the same key: ask again
            if reply.cached:
                return reply
        params = self._params(settings, request)
        messages = list(request.messages)
        try:
            for structured_attempt in range(self.settings.structured_retries + 1):
                text, calls = await self._call_with_retries(settings, messages, params, reply.usage)
                # Redacted at once, so neither the cache nor a re-ask ever holds a key.
                text, calls = self.redactor.text(text), self.redactor.value(calls)
                if request.response_model is None:
                    reply.text, reply.tool_calls = text, calls
                    break
                try:
                    reply.parsed = parse_structured(text or "", request.response_model)
                    reply.text, reply.tool_calls = text, calls
                    break
                except (ValidationError, ValueError) as exc:
                    reply.invalid_outputs.append(text or "")
                    if structured_attempt == self.settings.structured_retries:
                        reply.status = "failed"
                        reply.error = f"invalid_output: {_validation_summary(exc)}"
                        return reply
                    reply.usage.structured_retries += 1
                    messages = [
                        *messages,
                        {"role": "assistant", "content": text or ""},
                        {
                            "role": "user",
                            "content": (
                                "Your reply did not validate: "
                                f"{_validation_summary(exc)}. Reply again with only the JSON "
                                "object, following the schema exactly."
                            ),
                        },
                    ]
        except BudgetExhausted as exc:
            reply.status = "budget_exhausted"
            reply.error = f"{BUDGET_EXHAUSTED}: {exc}"
            return reply
        except _CallFailed as exc:
            reply.status = "failed"
            reply.error = str(exc)
            return reply
        if self.cache is not None:
            self.cache.put(
                key,
                {
                    "model": settings.model,
                    "role": request.role,
                    "prompt_version": request.prompt_version,
                    "text": reply.text,
                    "tool_calls": reply.tool_calls,
                    "usage": asdict(reply.usage),
                },
            )
        return reply

    async def acomplete_many(self, requests: Sequence[ModelRequest]) -> list[ModelReply]:
        """Complete a batch; replies come back in request order, one per request."""
        semaphore = asyncio.Semaphore(self.settings.concurrency)
        in_flight: dict[str, asyncio.Task[ModelReply]] = {}

        async def limited(request: ModelRequest, key: str) -> ModelReply:
            async with semaphore:
                return await self._complete(request, key)

        tasks = []
        shared = []
        for request in requests:
            key = self.key_for(request)
            task = in_flight.get(key)
            shared.append(task is not None)
            if task is None:
                task = asyncio.ensure_future(limited(request, key))
                in_flight[key] = task
            tasks.append(task)
        results = await asyncio.gather(*tasks)
        replies = []
        for request, result, is_shared in zip(requests, results, shared, strict=True):
            reply = result
            if is_shared:
                # The same content was asked twice: one call answers both, and the second
                # counts as served from cache.
                reply = dataclasses.replace(
                    result,
                    request_id=request.request_id,
                    role=request.role,
                    cached=result.status == "ok",
                    usage=CallUsage(),
                )
            else:
                reply.request_id = request.request_id
            self.accounting.setdefault(reply.role, Accounting()).add(reply)
            replies.append(reply)
        return replies

    def complete_many(self, requests: Sequence[ModelRequest]) -> list[ModelReply]:
        """Synchronous wrapper of `acomplete_many` for asset code.

        Every batch runs on the client's one event loop: litellm keeps its HTTP sessions per
        loop, so a new loop per batch would leave the cached sessions bound to a closed one.
        """
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self.acomplete_many(requests))

    def close(self) -> None:
        """Close the client's event loop (and with it the HTTP sessions bound to it)."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None


class _CallFailed(Exception):
    """A call that failed for good (non-retryable, or retries exhausted)."""


def _validation_summary(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
            for error in exc.errors()[:5]
        ]
        return "; ".join(parts)
    return str(exc)[:300]
