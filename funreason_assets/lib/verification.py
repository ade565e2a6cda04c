"""Phase III's sandbox: running a reasoning attempt's calls, and checking what they did.

The reasoner's calls run through the safe executor in a sandbox copy of the round's state; an
error-recovery round serves its injected tool error on the first matching call instead. An act
turn passes iff the sandbox's final state equals the ground-truth state for every
involved class and every ground-truth result occurs among the reasoner's results (read-only
rounds also compare the calls); an ask or decline turn passes iff it calls nothing. A failed
turn is classified into one `FailureKind`, which the critic explains.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from funreason_assets.lib.environments import Environment
from funreason_assets.lib.executor import CallOutcome, ParsedCall, execute_call, parse_calls
from funreason_assets.lib.records import FailureKind, PlannedRound, TurnMode
from funreason_assets.lib.state import diff_states, to_jsonable
from funreason_assets.lib.synthesis import prerequisite_calls


def canonical(value: Any) -> str:
    """A value as sorted JSON, so equal values compare equal whatever their key order."""
    return json.dumps(to_jsonable(value), sort_keys=True, default=str)


class InjectedErrors:
    """Injected tool errors of an error-recovery round, served on the first matching call."""

    def __init__(self, planned: PlannedRound) -> None:
        self.pending = [
            (call.tool, canonical(call.argument_values()), call.error or "error")
            for call in planned.calls
            if call.injected_error
        ]

    def execute(self, environment: Environment, call: ParsedCall) -> CallOutcome:
        """The injected error if the call matches a pending one, else the call's real outcome."""
        for position, (tool, arguments, message) in enumerate(self.pending):
            if tool == call.name and arguments == canonical(dict(call.kwargs)):
                del self.pending[position]
                return CallOutcome(
                    call.name, dict(call.kwargs), "tool_error", {"error": message}, message
                )
        return execute_call(environment, call)


def run_calls(
    sandbox: Environment, calls: Sequence[str], injections: InjectedErrors
) -> list[CallOutcome]:
    """Parse and run one step's calls in the sandbox; a call that does not parse is rejected."""
    outcomes = []
    for text in calls:
        try:
            parsed = parse_calls(text)
        except Exception as exc:  # the executor's parser reports every hostile form
            outcomes.append(CallOutcome("<unparsed>", {}, "rejected", error=str(exc)[:300]))
            continue
        outcomes.extend(injections.execute(sandbox, call) for call in parsed)
    return outcomes


def _normalized_call(outcome: CallOutcome) -> str:
    return f"{outcome.name}:{canonical(outcome.arguments)}"


@dataclass
class AttemptVerdict:
    """The checker's answer on one turn of an attempt."""

    passed: bool
    failure_kind: FailureKind | None = None
    diff: list[str] = field(default_factory=list)


def validate_act(
    planned: PlannedRound,
    gt_outputs: Sequence[Any],
    gt_env: Environment,
    sandbox: Environment,
    outcomes: Sequence[CallOutcome],
) -> AttemptVerdict:
    """BFCL-style state and response checks (plus calls for read-only rounds)."""
    if any(o.name == "<unparsed>" for o in outcomes):
        return AttemptVerdict(
            False, "unparseable", [o.error or "" for o in outcomes if o.error][:3]
        )
    if not outcomes:
        return AttemptVerdict(False, "premature_stop", ["no call was made"])
    state_diff = diff_states(gt_env.state(), sandbox.state())
    got = Counter(canonical(o.output) for o in outcomes if o.ok)
    missing_results = [
        call for call, output in zip(planned.executed_calls(), gt_outputs, strict=True)
        if got[canonical(output)] == 0
    ]
    calls_differ = False
    if planned.read_only:
        expected = Counter(
            f"{c.tool}:{canonical(c.argument_values())}" for c in planned.executed_calls()
        )
        actual = Counter(_normalized_call(o) for o in outcomes if o.ok)
        calls_differ = expected != actual
    if not state_diff and not missing_results and not calls_differ:
        return AttemptVerdict(True)
    diff = [f"state: {line}" for line in state_diff[:6]]
    diff += [f"result of {call.tool} not obtained" for call in missing_results[:6]]
    if calls_differ:
        diff.append("calls differ from the read-only ground truth")
    called = {o.name for o in outcomes}
    expected_tools = [c.tool for c in planned.executed_calls()]
    never_called = [tool for tool in expected_tools if tool not in called]
    prerequisites = {c.tool for c in prerequisite_calls(planned)}
    kind: FailureKind
    if any(tool in prerequisites for tool in never_called):
        kind = "missing_prerequisite"
    elif never_called and len(outcomes) < len(expected_tools):
        kind = "premature_stop"
    elif any(o.status in ("rejected", "exception", "timeout") for o in outcomes):
        kind = "tool_error"
    elif missing_results and not never_called:
        kind = "wrong_argument"
    elif called - set(expected_tools):
        kind = "wrong_tool"
    elif missing_results:
        kind = "missing_result"
    else:
        kind = "state_mismatch"
    return AttemptVerdict(False, kind, diff)


def validate_no_calls(mode: TurnMode, outcomes: Sequence[CallOutcome]) -> AttemptVerdict:
    """An ask or decline turn: it passes iff the reasoner called nothing."""
    if not outcomes:
        return AttemptVerdict(True)
    return AttemptVerdict(
        False,
        "should_ask" if mode == "ask" else "should_decline",
        [f"called {o.name}" for o in outcomes[:4]],
    )
