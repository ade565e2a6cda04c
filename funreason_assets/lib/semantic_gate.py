"""The semantic gate: every argument of a ground-truth plan means what its parameter asks for.

A plan can replay faithfully and still teach nonsense: a person's name passed as a city, a
filler word as a password, a ticket id that no ticket has. The gate re-validates every argument
of every executed call against its parameter's semantic type (`lib/value_types.py`, with the
registry's context and the plan's persona) and, for identifiers, checks that the value exists:
in the plan's initial config or in the output of an earlier call of the same dialogue (an id
that an earlier call issued counts).

The same pass measures what the report's "Meaning" section shows: where arguments came from,
how often searches found something, how often ground-truth calls failed outside
error-recovery rounds, and how much of the data is logging in and out.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from funreason_assets.lib.records import Argument, DialoguePlan, ExecutedCall
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.value_types import VALUE_TYPES, validate_value

# Types whose values only the state or an earlier output can hold: a plausible-looking id
# that exists nowhere is as wrong as a malformed one.
IDENTIFIER_TYPES = frozenset({
    "user_id", "card_id", "booking_id", "insurance_id", "order_id", "ticket_id", "tweet_id",
    "access_token", "identifier",
})
# Where an argument came from, as the report counts it (`Argument.provenance`, then the
# literal's `Argument.source` tag).
SOURCES = ("output", "state", "enum", "mined", "default", "provider", "other")
# Type name under which arguments of a parameter the registry does not know are counted.
UNKNOWN_TYPE = "unknown"
# Rejects kept per type in the check's metadata.
EXAMPLES_PER_TYPE = 10
# Output fields that hold what a search tool found, per BFCL tool; other tools' outputs
# (search_tweets returns a bare list) are judged by whether any list or mapping in them is
# non-empty.
_FOUND_FIELDS: dict[str, tuple[str, ...]] = {
    "grep": ("matching_lines",),
    "find": ("matches",),
    "search_messages": ("results",),
}
_LOGIN_TOOL = re.compile(r"(^|_)(login|logout|log_in|log_out|sign_in|sign_out|authenticate)(_|$)")


@dataclass(frozen=True)
class ArgumentReject:
    """One argument the gate rejects, and why."""

    plan_id: str
    round_index: int
    call_index: int
    tool: str
    parameter: str
    value_type: str
    value: Any
    reason: str

    def example(self) -> dict[str, Any]:
        """The reject as the check's metadata lists it."""
        return {
            "tool": self.tool,
            "parameter": self.parameter,
            "value": self.value,
            "reason": self.reason,
        }


@dataclass
class MeaningStats:
    """What the gate measured over a set of plans.

    Attributes:
        checked: Arguments validated.
        per_type: Arguments per semantic type.
        rejects: Every rejected argument, in plan order.
        by_source: Arguments per source (`SOURCES`).
        search_calls: Calls of tools with a searchable parameter.
        search_hits: Of those, calls whose output found something.
        calls: Executed ground-truth calls outside error-recovery rounds.
        error_calls: Of those, calls whose status is not `ok`.
        all_calls: Every executed ground-truth call.
        login_calls: Of those, login, logout and authentication calls.
    """

    checked: int = 0
    per_type: Counter[str] = field(default_factory=Counter)
    rejects: list[ArgumentReject] = field(default_factory=list)
    by_source: Counter[str] = field(default_factory=Counter)
    search_calls: int = 0
    search_hits: int = 0
    calls: int = 0
    error_calls: int = 0
    all_calls: int = 0
    login_calls: int = 0

    @property
    def violation_share(self) -> float:
        """Share of checked arguments the gate rejects."""
        return len(self.rejects) / self.checked if self.checked else 0.0

    def rejects_per_type(self) -> dict[str, int]:
        """Rejected arguments per type, most frequent first."""
        return dict(Counter(r.value_type for r in self.rejects).most_common())

    def examples_per_type(self, limit: int = EXAMPLES_PER_TYPE) -> dict[str, list[dict[str, Any]]]:
        """The first rejects of every type."""
        examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for reject in self.rejects:
            if len(examples[reject.value_type]) < limit:
                examples[reject.value_type].append(reject.example())
        return dict(examples)

    def metrics(self) -> dict[str, Any]:
        """The measured numbers as JSON-able metrics (the report's "Meaning" section)."""
        return {
            "arguments_checked": self.checked,
            "violations": len(self.rejects),
            "violation_share": round(self.violation_share, 4),
            "arguments_by_source": {source: self.by_source.get(source, 0)
                                    for source in SOURCES},
            "rejects_per_type": self.rejects_per_type(),
            "search_calls": self.search_calls,
            "search_hit_rate": _share(self.search_hits, self.search_calls),
            "calls_outside_error_recovery": self.calls,
            "error_call_share": _share(self.error_calls, self.calls),
            "calls": self.all_calls,
            "login_call_share": _share(self.login_calls, self.all_calls),
        }


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def plan_persona(plan: DialoguePlan) -> Mapping[str, Any]:
    """The plan's persona as a mapping (empty when the plan record has none)."""
    persona = getattr(plan, "persona", None)
    if persona is None:
        return {}
    if hasattr(persona, "model_dump"):
        return persona.model_dump()
    return persona if isinstance(persona, Mapping) else {}


def argument_source(argument: Argument) -> str:
    """Where an argument came from: one of `SOURCES`."""
    if argument.provenance in ("output", "state"):
        return argument.provenance
    tag = argument.source.split(":", 1)[0]
    return tag if tag in SOURCES else "other"


def is_login_call(tool: str) -> bool:
    """Whether a tool logs in, logs out or authenticates (status queries excluded)."""
    return bool(_LOGIN_TOOL.search(tool)) and "status" not in tool


def found_something(tool: str, output: Any) -> bool:
    """Whether a search tool's output holds a result (an error or empty result does not)."""
    if isinstance(output, Mapping):
        if "error" in output:
            return False
        fields = _FOUND_FIELDS.get(tool)
        if fields is not None:
            return any(bool(output.get(name)) for name in fields)
        return any(isinstance(value, list | Mapping) and value for value in output.values())
    return isinstance(output, list) and bool(output)


def _scalars(data: Any, out: set[str], depth: int = 0) -> None:
    """Every scalar leaf and mapping key of JSON-able data, as canonical text."""
    if depth > 32:
        return
    if isinstance(data, Mapping):
        for key, value in data.items():
            out.add(_canonical(key))
            _scalars(value, out, depth + 1)
    elif isinstance(data, list | tuple | set | frozenset):
        for item in data:
            _scalars(item, out, depth + 1)
    elif data is not None:
        out.add(_canonical(data))


def _canonical(value: Any) -> str:
    # Ids travel as ints in one class and as digit strings in keys of another (tweets, tickets).
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def initial_values(registry: ToolRegistry, plan: DialoguePlan) -> set[str]:
    """Every value of the plan's initial state, as canonical text.

    The state as the classes load it, besides the config itself: a long-context plan's classes
    add bookings, cards and files the config does not hold, and a class missing from the
    config loads its defaults.
    """
    known: set[str] = set()
    _scalars(plan.initial_config, known)
    environment = registry.environment(
        plan.involved_classes, plan.initial_config, plan.long_context
    )
    _scalars(environment.state(), known)
    return known


def _executed(plan: DialoguePlan) -> Iterator[tuple[int, ExecutedCall, bool]]:
    """(round index, call, whether its round is an error-recovery round), in dialogue order."""
    for planned in plan.rounds:
        for call in planned.executed_calls():
            yield planned.index, call, planned.variant == "error_recovery"


def _searchable(registry: ToolRegistry, tool: str) -> bool:
    types = registry.value_types().get(tool, {})
    return any(VALUE_TYPES[typed.value_type].searchable for typed in types.values()
               if typed.value_type in VALUE_TYPES)


def measure_plan(registry: ToolRegistry, plan: DialoguePlan, stats: MeaningStats) -> None:
    """Validate one plan's arguments and add its numbers to `stats`."""
    persona = plan_persona(plan)
    known = initial_values(registry, plan)
    types = registry.value_types()
    for round_index, call, recovering in _executed(plan):
        stats.all_calls += 1
        stats.login_calls += is_login_call(call.tool)
        if not recovering:
            stats.calls += 1
            stats.error_calls += call.status != "ok"
        if _searchable(registry, call.tool):
            stats.search_calls += 1
            stats.search_hits += call.status == "ok" and found_something(call.tool, call.output)
        for argument in call.arguments:
            stats.checked += 1
            stats.by_source[argument_source(argument)] += 1
            typed = types.get(call.tool, {}).get(argument.name)
            type_name = typed.value_type if typed else UNKNOWN_TYPE
            stats.per_type[type_name] += 1
            reason = _judge(registry, call.tool, argument, type_name, persona, known)
            if reason is not None:
                stats.rejects.append(ArgumentReject(
                    plan.plan_id, round_index, call.index, call.tool, argument.name,
                    type_name, argument.value, reason,
                ))
        # Only what the call returned becomes known, after its own arguments were judged.
        _scalars(call.output, known)


def _judge(
    registry: ToolRegistry,
    tool: str,
    argument: Argument,
    type_name: str,
    persona: Mapping[str, Any],
    known: set[str],
) -> str | None:
    if type_name == UNKNOWN_TYPE:
        return f"{tool} has no parameter {argument.name!r}"
    context = registry.value_context(tool, argument.name, persona)
    reason = validate_value(type_name, argument.value, context)
    if reason is None and type_name in IDENTIFIER_TYPES:
        if _canonical(argument.value) not in known:
            return (f"{argument.value!r} appears neither in the initial config nor in an "
                    "earlier call's output")
    return reason


def measure_plans(registry: ToolRegistry, plans: Iterable[DialoguePlan]) -> MeaningStats:
    """The gate's numbers over every plan."""
    stats = MeaningStats()
    for plan in plans:
        measure_plan(registry, plan, stats)
    return stats


def gate_metadata(stats: MeaningStats, threshold: float) -> dict[str, Any]:
    """The metadata of the `arguments_have_meaning` verdict."""
    return {
        "arguments_checked": stats.checked,
        "violations": len(stats.rejects),
        "violation_share": round(stats.violation_share, 4),
        "threshold": threshold,
        "violations_per_type": stats.rejects_per_type(),
        "examples_per_type": stats.examples_per_type(),
        "arguments_per_type": dict(sorted(stats.per_type.items())),
    }


def source_rows(stats: MeaningStats) -> list[dict[str, Any]]:
    """Arguments per source, as table rows (every source, zeros included)."""
    total = stats.checked
    return [
        {"source": source, "arguments": count, "share": _share(count, total)}
        for source, count in stats.metrics()["arguments_by_source"].items()
    ]


def summary_rows(stats: MeaningStats) -> list[dict[str, Any]]:
    """The gate's headline numbers, one row each."""
    metrics = stats.metrics()
    return [
        {"measure": "arguments checked", "value": metrics["arguments_checked"]},
        {"measure": "arguments rejected", "value": metrics["violations"]},
        {"measure": "share rejected", "value": metrics["violation_share"]},
        {"measure": "search calls", "value": metrics["search_calls"]},
        {"measure": "search hit rate", "value": metrics["search_hit_rate"]},
        {"measure": "share of error calls (outside error recovery)",
         "value": metrics["error_call_share"]},
        {"measure": "share of login/logout/authentication calls",
         "value": metrics["login_call_share"]},
    ]


def reject_rows(stats: MeaningStats) -> list[dict[str, Any]]:
    """Rejected arguments per type, with the first reject of each as an example."""
    examples = stats.examples_per_type(1)
    return [
        {
            "type": type_name,
            "rejected": count,
            "checked": stats.per_type.get(type_name, 0),
            "example": _cut(
                "{tool}.{parameter}={value!r}: {reason}".format(**examples[type_name][0])
            ),
        }
        for type_name, count in stats.rejects_per_type().items()
    ]

