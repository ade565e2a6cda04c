"""The scripted roles: offline, deterministic implementations of every role.

They need no model and no network and are the main job's default; their records name the
generator `scripted`. Every choice is drawn from a generator seeded by the run's seed and the
task's key, so a rerun writes the same text. The wording of queries, follow-ups, reasoning and
replies comes from the realizer (through `phrasing`); this module decides what the roles do:
- tool abstractor: names the advanced tool after its target and states the goal from the
  target's doc;
- query writer: realizes the round's request in the dialogue's persona voice from the
  tools' intents, leaving the inferable inputs for the model to infer;
- reasoner: walks the advanced tool's decomposition step by step through the graph's
  dependencies, taking intermediate values from the sandbox's real results and explaining
  each step from what it knows, what it still needs and what the last results showed (an
  error included); with a configured seeded rate it slips on a first attempt (skips a
  prerequisite or perturbs an argument) so the critique-and-retry path of Phase III runs
  offline too;
- critic: turns the checker's verdict and diff into a hint that pastes no expected value;
- replier: answers the request from the turn's results in a sentence or two;
- judge: scores nothing (judging needs a model).
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
from funreason_assets.lib.realizer import reasoning as said
from funreason_assets.lib.realizer.intents import Intent
from funreason_assets.lib.realizer.query import QueryRequest, call_goal, intent_of, say_typed
from funreason_assets.lib.realizer.results import error_of
from funreason_assets.lib.records import AdvancedTool, ExecutedCall, PlannedRound
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.tasks import (
    AbstractionTask,
    CritiqueTask,
    JudgeTask,
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
        request = QueryRequest(
            tool=task.tool,
            planned=task.planned,
            omitted=dict(task.omitted or {}),
            inferable=dict(task.inferable),
            earlier_queries=list(task.earlier_queries),
            earlier_did=task.earlier_did,
            persona=dict(task.persona),
            produced=frozenset(json.dumps(v, sort_keys=True, default=str) for v in task.produced),
            voice_key=task.plan_id or task.key,
            value_type=self._value_type,
            goal=self._goal,
            hidden=tuple(task.tool.hidden_intermediates),
            builds_on=task.builds_on,
        )
        query, follow_up = offline_query(_rng(self.seed, "query", task.key), request)
        return prompts.QueryDraft(query=query, follow_up=follow_up)

    def _goal(self, tool: str) -> str:
        return goal_phrase(self.registry.tool(tool).description)

    def _value_type(self, tool: str, parameter: str) -> str:
        try:
            return self.registry.value_type(tool, parameter)
        except KeyError:
            return ""

    def _intent(self, tool: str) -> Intent:
        try:
            return intent_of(tool, self._goal)
        except KeyError:  # a call to a tool the registry does not know still gets words
            return intent_of("", lambda _: tool.replace("_", " "))

    # -- reasoner

    def reason(self, tasks: Sequence[ReasonerTask]) -> list[RoleResult[prompts.ReasonerStep]]:
        """One step per task."""
        return [RoleResult(self._step(task), SCRIPTED) for task in tasks]

    def _step(self, task: ReasonerTask) -> prompts.ReasonerStep:
        rng = _rng(self.seed, "reason", task.key)
        if task.mode in ("ask", "decline"):
            goal = self._turn_goal(task)
            if task.mode == "ask":
                labels = [humanize(name) for name in (task.omitted or {})]
                reasoning, answer = said.ask_message(rng, labels, goal)
            else:
                reasoning, answer = said.decline_message(rng, goal)
            return prompts.ReasonerStep(reasoning=reasoning, calls=[], answer=answer)
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
        step_calls, steps = self._next_calls(plan, done, results, task)
        if slip and not skip_first and not done and step_calls:
            step_calls[0] = _perturb(step_calls[0])
        last_calls, last_results = (task.steps[-1][1], task.steps[-1][2]) if task.steps else (
            [], [])
        if not step_calls:
            return prompts.ReasonerStep(
                reasoning=said.final_message(rng, last_calls, last_results,
                                             _standing_errors(done, results)),
                calls=[],
            )
        reasoning = said.step_message(
            rng, self._turn_goal(task), planned.target, steps, last_calls, last_results
        )
        return prompts.ReasonerStep(reasoning=reasoning, calls=step_calls)

    def _turn_goal(self, task: ReasonerTask) -> str:
        """What the user asked for, as the reasoner understands it (the missing value vague)."""
        planned = task.planned
        if planned is None:
            return "do what was asked"
        left_out = []
        for name in task.omitted or {}:
            item = next((i for i in (task.advanced_tool.inputs if task.advanced_tool else [])
                         if i.name == name), None)
            left_out += [use.split(".", 1)[1] for use in (item.used_by if item else [])]
        return call_goal(planned.target_call(), self._goal, self._value_type, left_out)

    def _next_calls(
        self,
        plan: list[ExecutedCall],
        done: list[str],
        results: list[Any],
        task: ReasonerTask,
    ) -> tuple[list[str], list[said.PlannedStep]]:
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
        steps: list[said.PlannedStep] = []
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
            steps.append(self._planned_step(call, plan, position, task))
            if call.injected_error:
                break
        return step_calls, steps

    def _planned_step(
        self, call: ExecutedCall, plan: list[ExecutedCall], position: int, task: ReasonerTask
    ) -> said.PlannedStep:
        """Why a call comes now: what it feeds, what it takes from earlier results."""
        planned = task.planned
        assert planned is not None
        by_index = {c.index: c for c in plan}
        feeds = next(
            (later.tool for later in plan[position + 1:] for a in later.arguments
             if a.provenance == "output" and a.source.startswith(f"{planned.index}.{call.index}:")),
            "",
        )
        uses = []
        for argument in call.arguments:
            if argument.provenance != "output":
                continue
            where = argument.source.split(":", 1)[0]
            producer_round, producer_call = (int(p) for p in where.split("."))
            producer = by_index.get(producer_call) if producer_round == planned.index else None
            noun = self._intent(producer.tool).noun if producer else "the earlier result"
            if noun not in uses:
                uses.append(noun)
        values = tuple(
            say_typed(a.value, self._value_type(call.tool, a.name), self._intent(call.tool),
                      a.name, "'")
            for a in call.arguments
            if a.provenance != "output" and not isinstance(a.value, bool | dict | list)
            and len(str(a.value)) <= 40
        )[:2]
        return said.PlannedStep(
            tool=call.tool,
            is_target=call.tool == planned.target,
            feeds=feeds,
            noun=self._intent(call.tool).noun,
            uses=tuple(uses),
            retry=bool(position and plan[position - 1].injected_error
                       and plan[position - 1].tool == call.tool),
            values=values,
        )

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
            reply = offline_reply(
                _rng(self.seed, "reply", task.key), task.calls, task.results, self._intent
            )
            results.append(RoleResult(prompts.ClosingReply(reply=reply), SCRIPTED))
        return results

    # -- judge

    def judge(self, tasks: Sequence[JudgeTask]) -> list[RoleResult[prompts.JudgeScores]]:
        """No scores: judging needs a model (a scripted judge is the judge switched off)."""
        return [RoleResult(None, SCRIPTED, error="the scripted judge scores nothing")
                for _ in tasks]


def _standing_errors(done: Sequence[str], results: Sequence[Any]) -> list[tuple[str, str]]:
    """Calls of the turn whose error no later call of the same tool made good."""
    tools = [call.split("(", 1)[0] for call in done]
    standing = []
    for position, (tool, result) in enumerate(zip(tools, results, strict=False)):
        error = error_of(result)
        if error is not None and tool not in tools[position + 1:]:
            standing.append((tool, error))
    return standing


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
    if isinstance(recorded, list):
        # A list built from items of the result (stocks picked from a listing): the items
        # the plan picked, when the result holds them all.
        return recorded if all(item in values for item in recorded) else values[:len(recorded)]
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
