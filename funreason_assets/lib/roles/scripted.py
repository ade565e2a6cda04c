"""The scripted roles: offline, deterministic implementations of every role.

They need no model and no network and are the main job's default; their records name the
generator `scripted`. Every choice is drawn from a generator seeded by the run's seed and the
task's key, so a rerun writes the same text. The wording of queries, follow-ups and replies
comes from `phrasing`; this module decides what the roles do:
- tool abstractor: names the advanced tool after its target and states the goal from the
  target's doc;
- query writer: realizes a query from the advanced tool's goal and input values with several
  phrasings per tool family, personas and references to earlier turns;
- reasoner: walks the advanced tool's decomposition step by step through the graph's
  dependencies, taking intermediate values from the sandbox's real results; with a configured
  seeded rate it slips on a first attempt (skips a prerequisite or perturbs an argument) so the
  critique-and-retry path of Phase III runs offline too;
- critic: turns the checker's verdict and diff into a hint that pastes no expected value;
- replier: summarizes the tool results of the turn.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from typing import Any

from funreason_assets.lib import prompts
from funreason_assets.lib.executor import format_call
from funreason_assets.lib.llm.settings import SCRIPTED
from funreason_assets.lib.phrasing import goal_phrase, humanize, offline_query, offline_reply
from funreason_assets.lib.records import AdvancedTool, ExecutedCall, PlannedRound
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.tasks import (
    AbstractionTask,
    CritiqueTask,
    QueryTask,
    ReasonerTask,
    ReplyTask,
    RoleResult,
)


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class ScriptedRoles:
    """Offline, deterministic implementations of every role."""

    def __init__(self, registry: ToolRegistry, slip_rate: float = 0.15, seed: int = 0) -> None:
        self.registry = registry
        self.slip_rate = slip_rate
        self.seed = seed

    # -- tool abstractor

    def name_tools(self, tasks: Sequence[AbstractionTask]) -> list[RoleResult[prompts.ToolNaming]]:
        """Name after the target; the goal comes from the target's doc."""
        results = []
        for task in tasks:
            goal = goal_phrase(task.target_description)
            name = task.tool.output_of.lower()
            name = f"{name}_end_to_end" if task.tool.hidden_intermediates else f"{name}_request"
            description = goal[:1].upper() + goal[1:] + (
                ", doing whatever it depends on first." if task.tool.hidden_intermediates else "."
            )
            results.append(
                RoleResult(prompts.ToolNaming(name=name[:64], description=description), SCRIPTED)
            )
        return results

    # -- query writer

    def write_queries(self, tasks: Sequence[QueryTask]) -> list[RoleResult[prompts.QueryDraft]]:
        """Realize each query from templates; phrasing chosen by a seeded hash of the round."""
        return [RoleResult(self._query(task), SCRIPTED) for task in tasks]

    def _query(self, task: QueryTask) -> prompts.QueryDraft:
        query, follow_up = offline_query(
            _rng(self.seed, "query", task.key),
            task.tool,
            task.planned,
            task.omitted,
            bool(task.earlier_queries),
            lambda name: self.registry.tool(name).description,
        )
        return prompts.QueryDraft(query=query, follow_up=follow_up)

    # -- reasoner

    def reason(self, tasks: Sequence[ReasonerTask]) -> list[RoleResult[prompts.ReasonerStep]]:
        """One step per task."""
        return [RoleResult(self._step(task), SCRIPTED) for task in tasks]

    def _step(self, task: ReasonerTask) -> prompts.ReasonerStep:
        if task.mode == "ask":
            label = ", ".join(humanize(name) for name in (task.omitted or {})) or "a detail"
            return prompts.ReasonerStep(
                reasoning=(
                    f"The request needs the {label} before I can call anything, and it was not "
                    "given. Guessing would act on the wrong data, so I will ask."
                ),
                calls=[],
                answer=f"Which {label} should I use?",
            )
        if task.mode == "decline":
            return prompts.ReasonerStep(
                reasoning=(
                    "None of the tools I have can do what is asked; calling others would not "
                    "achieve it, so I should say so rather than guess."
                ),
                calls=[],
                answer="I can't do that with the tools available to me right now.",
            )
        tool = task.advanced_tool
        planned = task.planned
        assert tool is not None and planned is not None
        done = [call for _, calls, _ in task.steps for call in calls]
        results = [result for _, _, results in task.steps for result in results]
        plan = _scripted_plan(tool, planned)
        slip = task.attempt == 1 and _rng(self.seed, "slip", task.key.split("/")[0]).random() < (
            self.slip_rate
        )
        skip_first = slip and len(plan) > 1 and not plan[0].injected_error
        if skip_first:
            plan = plan[1:]
        step_calls, reasons = self._next_calls(plan, done, results, task)
        if slip and not skip_first and not done and step_calls:
            step_calls[0] = _perturb(step_calls[0])
        if not step_calls:
            return prompts.ReasonerStep(
                reasoning="All the steps have run and their results answer the request.",
                calls=[],
            )
        return prompts.ReasonerStep(reasoning=" ".join(reasons), calls=step_calls)

    def _next_calls(
        self,
        plan: list[ExecutedCall],
        done: list[str],
        results: list[Any],
        task: ReasonerTask,
    ) -> tuple[list[str], list[str]]:
        """The next step: the following calls of the plan whose inputs are already known."""
        planned = task.planned
        assert planned is not None
        if len(done) >= len(plan):
            return [], []
        produced = {
            plan[position].index: results[position]
            for position in range(min(len(done), len(results)))
            if not plan[position].injected_error
        }
        step_calls: list[str] = []
        reasons: list[str] = []
        for position in range(len(done), len(plan)):
            call = plan[position]
            if step_calls and plan[position - 1].injected_error:
                break  # a failed call is retried only after its error has been seen
            waits = False
            arguments = {}
            for argument in call.arguments:
                value = argument.value
                if argument.provenance == "output":
                    where, _, path = argument.source.partition(":")
                    producer_round, producer_call = (int(p) for p in where.split("."))
                    if producer_round == planned.index:
                        if producer_call not in produced:
                            waits = True
                            break
                        source = produced[producer_call]
                    else:
                        source = task.context_outputs.get(where)
                    value = _resolve(source, path, argument.value)
                arguments[argument.name] = value
            if waits:
                break
            step_calls.append(format_call(call.tool, arguments))
            reasons.append(
                self._why(call, task)
                if not (position and plan[position - 1].injected_error)
                else f"{call.tool} failed with a transient error; I retry it."
            )
            if call.injected_error:
                break
        return step_calls, reasons

    def _why(self, call: ExecutedCall, task: ReasonerTask) -> str:
        planned = task.planned
        assert planned is not None
        fed = [a for a in call.arguments if a.provenance == "output"]
        if call.tool == planned.target:
            base = f"{call.tool} does what the user asked"
        else:
            base = f"{call.tool} has to run now"
        if fed:
            producers = ", ".join(
                f"{a.name} from the result of an earlier call" for a in fed
            )
            base += f", taking {producers}"
        if call.tool != planned.target and call.index < planned.target_call().index:
            base += f", because {planned.target} depends on it"
        return base + "."

    # -- critic

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[RoleResult[prompts.Critique]]:
        """A hint per failure kind that names the error but no expected value."""
        results = []
        for task in tasks:
            missing = [t for t in task.expected_tools if not any(
                c.startswith(t + "(") for c in task.attempted_calls)]
            hints = {
                "missing_prerequisite": (
                    f"{task.target} depends on a step you skipped"
                    + (f" ({', '.join(missing)})" if missing else "")
                    + "; run what it needs first, then call it again."
                ),
                "wrong_argument": (
                    "One of your calls used a wrong argument value; take each value from the "
                    "request or from the result that produces it, not from a guess."
                ),
                "wrong_tool": "You called a tool the request does not need; use the right one.",
                "premature_stop": "You stopped before the request was done; finish every part.",
                "tool_error": "A call returned an error; read it, fix the cause, and retry.",
                "state_mismatch": "The end state does not match what was asked; check each step.",
                "missing_result": "A result the request needs was never fetched.",
                "should_ask": "A required value was not given; ask for it instead of calling.",
                "should_decline": "No available tool does this; say so instead of calling.",
                "unparseable": "Your calls could not be parsed; use name(arg=literal) syntax.",
            }
            kind = task.failure_kind if task.failure_kind in hints else "state_mismatch"
            results.append(
                RoleResult(prompts.Critique(failure_kind=kind, hint=hints[kind]), SCRIPTED)
            )
        return results

    # -- replier

    def reply(self, tasks: Sequence[ReplyTask]) -> list[RoleResult[prompts.ClosingReply]]:
        """Summarize what the turn's calls returned."""
        results = []
        for task in tasks:
            reply = offline_reply(_rng(self.seed, "reply", task.key), task.calls, task.results)
            results.append(RoleResult(prompts.ClosingReply(reply=reply[:1500]), SCRIPTED))
        return results


def _scripted_plan(tool: AdvancedTool, planned: PlannedRound) -> list[ExecutedCall]:
    """The decomposition's calls in order, with the injected failures the round recovers from."""
    wanted = {sub.index for sub in tool.decomposition}
    return [call for call in planned.calls if call.index in wanted]


def _candidates(current: Any, parts: Sequence[str]) -> list[Any]:
    if not parts:
        return [current]
    part, rest = parts[0], parts[1:]
    is_list = part.endswith("[]")
    key = part[:-2] if is_list else part
    if key:
        if not isinstance(current, dict) or key not in current:
            return []
        current = current[key]
    if not is_list:
        return _candidates(current, rest)
    if isinstance(current, dict):
        current = list(current.values())
    if not isinstance(current, list):
        return []
    return [value for item in current for value in _candidates(item, rest)]


def _resolve(source: Any, path: str, recorded: Any) -> Any:
    """Read a `field.items[].id` path in a real result.

    Returns the value the plan used if the result holds it, else the first value at that
    path, else the recorded value.
    """
    values = _candidates(source, [p for p in path.split(".") if p])
    if recorded in values or not values:
        return recorded
    return values[0]


def _perturb(call: str) -> str:
    """A plausible wrong argument: the last string literal altered, or a number nudged."""
    head, _, tail = call.partition("(")
    if "'" in tail:
        start = tail.rfind("'", 0, tail.rfind("'"))
        end = tail.rfind("'")
        if start >= 0 and end > start + 1:
            return f"{head}({tail[: start + 1]}{tail[start + 1 : end]}_old{tail[end:]}"
    return call
