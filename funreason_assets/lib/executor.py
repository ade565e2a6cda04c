"""The safe call executor: model-style call strings in, error-or-result records out.

Call strings (`f(a=1, b='x')` or `[f(a=1), g(b=[1, 2])]`) are parsed with `ast` and only
literal arguments are accepted. Calls are dispatched only to public tool methods of the
involved environment classes. Nothing a model writes is ever passed to `eval` or `exec`, and
the executor never raises: every failure becomes a `CallOutcome` with a clear message.

A tool's output is bounded before anyone sees it (`bounded_output`): an integer too long to
print, a string, a list or a nesting past its limit is cut with a note saying so, so no output
can break a prompt, a record or an export, however legal the call that produced it.
"""

from __future__ import annotations

import ast
import copy
import ctypes
import decimal
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from funreason_assets.lib.environments import Environment
from funreason_assets.lib.state import to_jsonable
from funreason_assets.lib.tools import ToolSpec

MAX_CALL_TEXT = 100_000
MAX_CALLS_PER_TEXT = 64
MAX_LITERAL_DEPTH = 16
MAX_INT_MAGNITUDE = 10**18
DEFAULT_TIMEOUT_SECONDS = 2.0
# Bounds of a tool's output. Offline outputs stay far inside them (at most 16-digit integers,
# 10,000-character strings, 2,000-item lists, depth 3, 85,000 characters of JSON); an output
# past one is cut, with a note where it was cut.
MAX_RESULT_INT_DIGITS = 100
MAX_RESULT_STRING = 50_000
MAX_RESULT_ITEMS = 10_000
MAX_RESULT_DEPTH = 32
MAX_RESULT_CHARS = 1_000_000
_INT_LIMIT = 10**MAX_RESULT_INT_DIGITS
# Exact scalar types a result holds inline (bool is its own type here, not an int subclass).
_PLAIN_NUMBERS = frozenset({int, float})

Status = Literal["ok", "tool_error", "rejected", "exception", "timeout"]


class CallParseError(ValueError):
    """A call string is not a list of literal-argument calls."""


@dataclass(frozen=True)
class ParsedCall:
    """One parsed call: a bare function name with literal arguments."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallOutcome:
    """The result of executing one call.

    Attributes:
        name: Tool name as written.
        arguments: Keyword arguments after positional binding (as executed).
        status: `ok`; `tool_error` (the tool answered with an error); `rejected` (the call never
            reached the tool: syntax, unknown tool, bad argument); `exception` (the tool raised);
            `timeout`.
        output: The tool's return value as JSON-able data (None unless it ran).
        error: A message for every status but `ok`.
    """

    name: str
    arguments: dict[str, Any]
    status: Status
    output: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the tool ran and reported success."""
        return self.status == "ok"

    @property
    def call_string(self) -> str:
        """The call in BFCL syntax with keyword arguments."""
        return format_call(self.name, self.arguments)

    def feedback(self) -> Any:
        """What the caller sees: the output, or `{"error": message}`."""
        if self.status == "ok" or self.status == "tool_error":
            return self.output
        return {"error": self.error}


def format_call(name: str, arguments: Mapping[str, Any]) -> str:
    """Render a call in BFCL's Python-style syntax (`name(a=1, b='x')`)."""
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in arguments.items())})"


def _literal(node: ast.AST, depth: int = 0) -> Any:
    if depth > MAX_LITERAL_DEPTH:
        raise CallParseError("argument nesting is too deep")
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            if abs(value) > MAX_INT_MAGNITUDE:
                raise CallParseError("integer argument is out of range")
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise CallParseError("non-finite float argument")
            return value
        raise CallParseError(f"literal of type {type(value).__name__} is not allowed")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        if isinstance(operand, ast.Constant) and isinstance(operand.value, int | float):
            if isinstance(operand.value, bool):
                raise CallParseError("sign applied to a boolean")
            value = _literal(operand, depth + 1)
            return -value if isinstance(node.op, ast.USub) else value
        raise CallParseError("a sign may only precede a number")
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(element, depth + 1) for element in node.elts]
    if isinstance(node, ast.Dict):
        result: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                raise CallParseError("dict unpacking (**) is not allowed")
            key = _literal(key_node, depth + 1)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise CallParseError("dict keys must be literals")
            result[key] = _literal(value_node, depth + 1)
        return result
    raise CallParseError(f"only literal arguments are allowed, not {type(node).__name__}")


def _parse_one(node: ast.AST) -> ParsedCall:
    if not isinstance(node, ast.Call):
        raise CallParseError(f"expected a function call, got {type(node).__name__}")
    if not isinstance(node.func, ast.Name):
        raise CallParseError("only bare function names may be called")
    name = node.func.id
    if name.startswith("_"):
        raise CallParseError(f"private name {name!r} cannot be called")
    args = []
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise CallParseError("argument unpacking (*) is not allowed")
        args.append(_literal(arg))
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise CallParseError("argument unpacking (**) is not allowed")
        kwargs[keyword.arg] = _literal(keyword.value)
    return ParsedCall(name=name, args=tuple(args), kwargs=kwargs)


def parse_calls(text: str) -> list[ParsedCall]:
    """Parse a call string: one call, or a list/tuple of calls.

    Raises:
        CallParseError: With a message saying what is not allowed.
    """
    if not isinstance(text, str):
        raise CallParseError("call text must be a string")
    if len(text) > MAX_CALL_TEXT:
        raise CallParseError(f"call text is longer than {MAX_CALL_TEXT} characters")
    stripped = text.strip()
    if not stripped:
        raise CallParseError("empty call text")
    try:
        tree = ast.parse(stripped, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise CallParseError(f"not valid call syntax ({type(exc).__name__})") from None
    body = tree.body
    nodes = body.elts if isinstance(body, ast.List | ast.Tuple) else [body]
    if len(nodes) > MAX_CALLS_PER_TEXT:
        raise CallParseError(f"more than {MAX_CALLS_PER_TEXT} calls in one text")
    return [_parse_one(node) for node in nodes]


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def check_value(schema: Mapping[str, Any], value: Any, where: str) -> str | None:
    """Check a value against the subset of JSON Schema that tool docs use.

    Returns:
        None when the value conforms, otherwise a message naming the argument.
    """
    expected = schema.get("type")
    if expected is not None:
        allowed = _JSON_TYPES.get(expected)
        if allowed is not None:
            is_bool = isinstance(value, bool)
            if not isinstance(value, allowed) or (is_bool and expected in ("integer", "number")):
                return f"argument {where!r} must be of type {expected}, got {_type_name(value)}"
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        return f"argument {where!r} must be one of {enum}, got {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"argument {where!r} must be >= {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"argument {where!r} must be <= {schema['maximum']}"
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problem = check_value(schema["items"], item, f"{where}[{index}]")
            if problem:
                return problem
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if key in value:
                problem = check_value(sub, value[key], f"{where}.{key}")
                if problem:
                    return problem
    return None


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def bind_arguments(tool: ToolSpec, call: ParsedCall) -> dict[str, Any]:
    """Bind positional arguments by signature order and validate against the tool's schema.

    Raises:
        CallParseError: On unknown, missing, duplicated or ill-typed arguments.
    """
    properties = tool.parameters.get("properties", {})
    if len(call.args) > len(tool.positional_order):
        raise CallParseError(
            f"{tool.name}() takes {len(tool.positional_order)} arguments, got {len(call.args)}"
        )
    arguments: dict[str, Any] = dict(zip(tool.positional_order, call.args, strict=False))
    for key, value in call.kwargs.items():
        if key in arguments:
            raise CallParseError(f"{tool.name}() got argument {key!r} twice")
        arguments[key] = value
    unknown = [key for key in arguments if key not in properties]
    if unknown:
        raise CallParseError(f"{tool.name}() has no parameter {unknown[0]!r}")
    missing = [key for key in tool.required if key not in arguments]
    if missing:
        raise CallParseError(f"{tool.name}() is missing required argument {missing[0]!r}")
    for key, value in arguments.items():
        problem = check_value(properties[key], value, key)
        if problem:
            raise CallParseError(f"{tool.name}(): {problem}")
    return arguments


class ToolTimeoutError(BaseException):
    """Raised asynchronously inside a tool that ran past its time limit.

    A BaseException so that a tool's own `except Exception` cannot swallow it.
    """


class _Watchdog:
    """One daemon thread that interrupts tool calls running past their deadline.

    The deadline is checked at a fixed resolution, so arming a call costs a dict insert and
    no thread wake-up. The interrupt is an asynchronous exception: it stops Python code, not
    a single long C call (built-in tools whose arguments could cause those are bounded in
    their schemas instead).
    """

    resolution = 0.02

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[int, tuple[int, float]] = {}
        self._fired: set[int] = set()
        self._next_token = 0
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        with self._lock:
            self._next_token += 1
            token = self._next_token
            self._deadlines[token] = (threading.get_ident(), time.monotonic() + seconds)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tool-call-watchdog", daemon=True
                )
                self._thread.start()
        return token

    def disarm(self, token: int) -> bool:
        """Stop watching; returns True if the deadline had fired."""
        with self._lock:
            entry = self._deadlines.pop(token, None)
            fired = token in self._fired
            if fired:
                self._fired.discard(token)
                # Clear an interrupt that was sent but not yet delivered.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(threading.get_ident()), None
                )
            del entry
        return fired

    def _run(self) -> None:
        while True:
            time.sleep(self.resolution)
            now = time.monotonic()
            with self._lock:
                for token, (thread_id, deadline) in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[token]
                        self._fired.add(token)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(thread_id), ctypes.py_object(ToolTimeoutError)
                        )


_WATCHDOG = _Watchdog()


def execute_call(
    environment: Environment, call: ParsedCall, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> CallOutcome:
    """Execute one parsed call in an environment; never raises."""
    entry = environment.methods.get(call.name)
    if entry is None:
        return CallOutcome(
            call.name,
            dict(call.kwargs),
            "rejected",
            error=f"unknown tool {call.name!r}: not a tool of {list(environment.involved_classes)}",
        )
    method, tool = entry
    try:
        arguments = bind_arguments(tool, call)
    except CallParseError as exc:
        return CallOutcome(call.name, dict(call.kwargs), "rejected", error=str(exc))
    # Tools keep references to list/dict arguments in their state; hand them private copies so
    # no caller-held object (a record, another entity's list) is aliased into the state.
    executed = {
        key: copy.deepcopy(value) if isinstance(value, list | dict) else value
        for key, value in arguments.items()
    }
    for key, default in environment.mutable_defaults.get(call.name, {}).items():
        if key not in executed:
            executed[key] = copy.deepcopy(default)
    token = _WATCHDOG.arm(timeout)
    try:
        try:
            output = method(**executed)
        finally:
            timed_out = _WATCHDOG.disarm(token)
    except ToolTimeoutError:
        return CallOutcome(
            call.name, arguments, "timeout", error=f"{call.name}() ran longer than {timeout:g} s"
        )
    except Exception as exc:
        return CallOutcome(
            call.name,
            arguments,
            "exception",
            error=f"{call.name}() raised {type(exc).__name__}: {_exception_text(exc)}",
        )
    if timed_out:
        return CallOutcome(
            call.name, arguments, "timeout", error=f"{call.name}() ran longer than {timeout:g} s"
        )
    try:
        output = bounded_output(to_jsonable(output))
    except Exception as exc:
        return CallOutcome(
            call.name,
            arguments,
            "exception",
            error=f"{call.name}() output is not data: {_exception_text(exc)}",
        )
    error = _reported_error(output)
    if error is not None:
        return CallOutcome(call.name, arguments, "tool_error", output, error)
    return CallOutcome(call.name, arguments, "ok", output)


def _reported_error(output: Any) -> str | None:
    """The error a tool's result reports: `{"error": ...}`, or a list of only such dicts.

    BFCL's trading class answers a logged-out history request with `[{"error": ...}]`.
    """
    if isinstance(output, dict) and "error" in output:
        return str(output["error"])
    if isinstance(output, list) and output and all(
        isinstance(item, dict) and set(item) == {"error"} for item in output
    ):
        return "; ".join(str(item["error"]) for item in output)
    return None


def _exception_text(exc: BaseException) -> str:
    """An exception's message, cut short; a message that cannot be rendered says so."""
    try:
        return str(exc)[:300]
    except Exception:  # e.g. a message holding an integer too long to print
        return f"<unprintable {type(exc).__name__} message>"


def big_int_text(value: int) -> str:
    """An integer too long to keep whole, as scientific notation with its digit count.

    Python refuses to print integers past 4,300 digits, and a JSON number that long is no use
    to anyone; `decimal` converts without that limit.
    """
    try:
        rounded = decimal.Context(prec=16).create_decimal(value)
        digits = rounded.adjusted() + 1
        return f"{rounded:.15e} (an integer of {digits} digits)"
    except (ArithmeticError, ValueError, MemoryError):
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"


def bounded_output(value: Any) -> Any:
    """A JSON-able tool output cut to the executor's bounds; unchanged when inside them.

    Integers of more than `MAX_RESULT_INT_DIGITS` digits become text (`big_int_text`);
    strings keep their first `MAX_RESULT_STRING` characters, lists and objects their first
    `MAX_RESULT_ITEMS` entries, nesting stops at `MAX_RESULT_DEPTH`, and once about
    `MAX_RESULT_CHARS` characters are spent the rest is left out. Each cut leaves a note.
    """
    budget = [MAX_RESULT_CHARS]
    return _bounded(value, 0, budget)


def _bounded(value: Any, depth: int, budget: list[int]) -> Any:
    if value is None or isinstance(value, bool | float):
        budget[0] -= 8
        return value
    if isinstance(value, int):
        budget[0] -= 8
        return value if -_INT_LIMIT < value < _INT_LIMIT else big_int_text(value)
    if isinstance(value, str):
        budget[0] -= len(value) + 2
        if len(value) <= MAX_RESULT_STRING and budget[0] >= 0:
            return value
        keep = max(0, min(MAX_RESULT_STRING, len(value) + budget[0]))
        return f"{value[:keep]}... [{len(value) - keep} more characters cut]"
    if depth >= MAX_RESULT_DEPTH:
        budget[0] -= 40
        return f"<{_type_name(value)} nested deeper than {MAX_RESULT_DEPTH} levels cut>"
    if isinstance(value, list):
        items: list[Any] = []
        for position, item in enumerate(value):
            if position >= MAX_RESULT_ITEMS or budget[0] <= 0:
                items.append(f"... [{len(value) - position} more items cut]")
                break
            # Short strings and plain numbers, the bulk of a listing, inline: as `_bounded`
            # would take them, without a call each.
            kind = type(item)
            if kind is str and len(item) <= MAX_RESULT_STRING:
                budget[0] -= len(item) + 2
                if budget[0] >= 0:
                    items.append(item)
                    continue
                budget[0] += len(item) + 2
            elif kind in _PLAIN_NUMBERS and -_INT_LIMIT < item < _INT_LIMIT:
                budget[0] -= 8
                items.append(item)
                continue
            items.append(_bounded(item, depth + 1, budget))
        return items
    if isinstance(value, dict):
        entries: dict[str, Any] = {}
        for position, (key, item) in enumerate(value.items()):
            if position >= MAX_RESULT_ITEMS or budget[0] <= 0:
                entries["..."] = f"[{len(value) - position} more keys cut]"
                break
            # The value is bounded before its key (the order of `entries[k] = v`), so the
            # budget is spent in the same order as always.
            kind = type(item)
            if kind is str and len(item) <= MAX_RESULT_STRING and budget[0] >= len(item) + 2:
                budget[0] -= len(item) + 2
            elif kind in _PLAIN_NUMBERS and -_INT_LIMIT < item < _INT_LIMIT:
                budget[0] -= 8
            else:
                item = _bounded(item, depth + 1, budget)
            if type(key) is str and len(key) <= MAX_RESULT_STRING and budget[0] >= len(key) + 2:
                budget[0] -= len(key) + 2
            else:
                key = _bounded(str(key), depth + 1, budget)
            entries[key] = item
        return entries
    # `to_jsonable` leaves only the kinds above; anything else is shown as text.
    return _bounded(str(value), depth, budget)


def execute_text(
    environment: Environment, text: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> list[CallOutcome]:
    """Parse and execute a call string in order; a parse failure is one rejected outcome."""
    try:
        calls = parse_calls(text)
    except CallParseError as exc:
        return [CallOutcome("<unparsed>", {}, "rejected", error=str(exc))]
    except Exception as exc:  # defensive: nothing may escape the executor
        return [CallOutcome("<unparsed>", {}, "rejected", error=f"unparseable: {exc}")]
    return [execute_call(environment, call, timeout) for call in calls]
