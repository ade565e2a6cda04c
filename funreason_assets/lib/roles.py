"""The model roles: a scripted (offline, deterministic) and a model-backed implementation of each.

Both implementations take the same typed tasks and return the same typed responses, per batch,
so the phases never know which one runs; a config may mix them per role. The scripted roles
need no model and no network and are the main job's default; every record names the generator
that made it (`scripted` or the model string).

Scripted roles:
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
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from funreason_assets.lib import prompts
from funreason_assets.lib.executor import format_call
from funreason_assets.lib.llm.client import ModelClient, ModelRequest
from funreason_assets.lib.llm.settings import SCRIPTED, ModelSettings
from funreason_assets.lib.records import AdvancedTool, ExecutedCall, PlannedRound
from funreason_assets.lib.sampler import target_call
from funreason_assets.lib.synthesis import describe_value, goal_phrase, humanize

T = TypeVar("T", bound=BaseModel)


@dataclass
class RoleResult(Generic[T]):
    """A role's answer to one task, or why there is none."""

    value: T | None
    generator: str
    error: str | None = None
    model_calls: int = 0
    tokens: int = 0
    cached: bool = False


@dataclass
class AbstractionTask:
    """Name and describe one computed advanced tool."""

    key: str
    tool: AdvancedTool
    target_description: str
    trace: list[str]


@dataclass
class QueryTask:
    """Write the hard query of one round."""

    key: str
    tool: AdvancedTool
    planned: PlannedRound
    omitted: dict[str, Any] | None
    earlier_queries: list[str]


@dataclass
class ReasonerTask:
    """One step of the reasoner's loop for one turn."""

    key: str
    mode: str  # "act" (solve), "ask" (a value is missing), "decline" (the tool is missing)
    query: str
    tools: list[dict[str, Any]]
    history: list[dict[str, Any]]
    hint: str | None
    critiques: list[str]
    steps: list[tuple[str, list[str], list[Any]]]
    attempt: int
    # What the scripted reasoner follows (a model never sees these).
    advanced_tool: AdvancedTool | None = None
    planned: PlannedRound | None = None
    context_outputs: dict[str, Any] = field(default_factory=dict)
    omitted: dict[str, Any] | None = None


@dataclass
class CritiqueTask:
    """Explain one failed attempt."""

    key: str
    query: str
    failure_kind: str
    diff: list[str]
    attempted_calls: list[str]
    expected_tools: list[str]
    target: str


@dataclass
class ReplyTask:
    """Write the closing reply of one turn."""

    key: str
    query: str
    calls: list[str]
    results: list[Any]


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# ---------------------------------------------------------------------- scripted


PERSONAS = (
    "",
    "I'm sorting out a few things this afternoon. ",
    "Quick one before my meeting: ",
    "I'm helping a colleague with this. ",
    "Following up on my last message, ",
    "This is for a report I'm finishing. ",
    "Hi! ",
    "Okay, next thing. ",
)

OPENERS = (
    "Could you {goal}{inputs}?",
    "Please {goal}{inputs}.",
    "I need you to {goal}{inputs}.",
    "Can you {goal} for me{inputs}?",
    "I'd like to {goal}{inputs}.",
    "Go ahead and {goal}{inputs}.",
)

INPUT_JOINS = (
    " using {pairs}",
    " with {pairs}",
    ", for {pairs}",
    " — {pairs}",
)

EARLIER_REFERENCES = (
    "Building on what we just did, ",
    "Now that that's done, ",
    "Same session as before: ",
    "Continuing from earlier, ",
)

EXTRA_JOINS = (" Then also {goal}{inputs}.", " After that, {goal}{inputs}.", " And {goal}{inputs}.")


def _pairs(items: Sequence[tuple[str, Any]]) -> str:
    parts = [f"{humanize(name)} {describe_value(value)}" for name, value in items]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


class ScriptedRoles:
    """Offline, deterministic implementations of every role."""

    def __init__(self, registry: Any, slip_rate: float = 0.15, seed: int = 0) -> None:
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
        rng = _rng(self.seed, "query", task.key)
        planned = task.planned
        omitted = set(task.omitted or {})
        by_call: dict[int, list[tuple[str, Any]]] = {}
        for item in task.tool.inputs:
            if item.name in omitted:
                continue
            first = int(item.used_by[0].split(".")[0])
            by_call.setdefault(first, []).append((item.name, item.value))
        calls = planned.executed_calls()
        target_position = next(i for i, c in enumerate(calls) if c.tool == planned.target)
        # Inputs of the prerequisites and of the target are asked for in one sentence (the
        # steps stay hidden); calls after the target are further requests of the same turn.
        main_inputs = [
            pair for call in calls[: target_position + 1] for pair in by_call.get(call.index, [])
        ]
        goal = goal_phrase(self.registry.tool(planned.target).description)
        inputs = rng.choice(INPUT_JOINS).format(pairs=_pairs(main_inputs)) if main_inputs else ""
        text = rng.choice(OPENERS).format(goal=goal, inputs=inputs)
        seen_extra = set()
        for call in calls[target_position + 1 :]:
            if call.tool in seen_extra or call.tool == planned.target:
                continue
            seen_extra.add(call.tool)
            extra_inputs = by_call.get(call.index, [])
            pairs = (" with " + _pairs(extra_inputs)) if extra_inputs else ""
            text += rng.choice(EXTRA_JOINS).format(
                goal=goal_phrase(self.registry.tool(call.tool).description), inputs=pairs
            )
        prefix = rng.choice(PERSONAS)
        if task.earlier_queries and rng.random() < 0.5:
            prefix = rng.choice(EARLIER_REFERENCES)
        if prefix.endswith((", ", ": ")):
            text = text[:1].lower() + text[1:]
        query = prefix + text
        follow_up = None
        if task.omitted:
            follow_up = "Sorry, I left that out: use " + _pairs(list(task.omitted.items())) + "."
        elif planned.variant == "missing_function":
            follow_up = "That tool should be available to you now. Please go ahead with it."
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
        if call.tool != planned.target and call.index < target_call(planned).index:
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
            rng = _rng(self.seed, "reply", task.key)
            lines = []
            for call, result in zip(task.calls, task.results, strict=False):
                name = call.split("(", 1)[0]
                lines.append(f"{humanize(name)}: {_summarize(result)}")
            opener = rng.choice(("Done.", "All set.", "Here's what happened.", "Finished."))
            reply = opener + " " + "; ".join(lines[-3:]) if lines else opener
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


def _summarize(result: Any, limit: int = 160) -> str:
    if isinstance(result, dict):
        parts = [f"{humanize(str(k))} {json.dumps(v, default=str)[:60]}" for k, v in result.items()]
        text = ", ".join(parts[:4])
    else:
        text = json.dumps(result, default=str)
    return text[:limit]


# ---------------------------------------------------------------------- model-backed


class ModelRoles:
    """Every role through the model client, with typed responses and versioned prompts."""

    def __init__(self, client: ModelClient) -> None:
        self.client = client

    def _run(
        self,
        role: str,
        keys: Sequence[str],
        messages: Sequence[list[dict[str, Any]]],
        response_model: type[T],
    ) -> list[RoleResult[T]]:
        requests = [
            ModelRequest(
                request_id=key,
                role=role,
                messages=batch,
                response_model=response_model,
                prompt_version=prompts.PROMPT_VERSIONS[role],
            )
            for key, batch in zip(keys, messages, strict=True)
        ]
        replies = self.client.complete_many(requests)
        return [
            RoleResult(
                value=reply.parsed if reply.ok else None,  # type: ignore[arg-type]
                generator=reply.model,
                error=reply.error,
                model_calls=reply.usage.http_calls,
                tokens=reply.usage.prompt_tokens + reply.usage.completion_tokens,
                cached=reply.cached,
            )
            for reply in replies
        ]

    def name_tools(self, tasks: Sequence[AbstractionTask]) -> list[RoleResult[prompts.ToolNaming]]:
        """Name and describe each advanced tool."""
        return self._run(
            "tool_abstractor",
            [t.key for t in tasks],
            [
                prompts.tool_abstractor_messages(
                    t.target_description, t.trace, {i.name: i.value for i in t.tool.inputs}
                )
                for t in tasks
            ],
            prompts.ToolNaming,
        )

    def write_queries(self, tasks: Sequence[QueryTask]) -> list[RoleResult[prompts.QueryDraft]]:
        """Write each hard query."""
        return self._run(
            "query_writer",
            [t.key for t in tasks],
            [
                prompts.query_writer_messages(
                    t.tool.name,
                    t.tool.description,
                    {i.name: i.value for i in t.tool.inputs if i.name not in (t.omitted or {})},
                    t.omitted,
                    t.earlier_queries,
                    t.tool.hidden_intermediates,
                    t.planned.variant,
                )
                for t in tasks
            ],
            prompts.QueryDraft,
        )

    def reason(self, tasks: Sequence[ReasonerTask]) -> list[RoleResult[prompts.ReasonerStep]]:
        """One reasoner step per task."""
        return self._run(
            "reasoner",
            [t.key for t in tasks],
            [
                prompts.reasoner_messages(
                    t.tools, t.history, t.query, t.hint, t.critiques, t.steps
                )
                for t in tasks
            ],
            prompts.ReasonerStep,
        )

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[RoleResult[prompts.Critique]]:
        """Critique each failed attempt."""
        return self._run(
            "critic",
            [t.key for t in tasks],
            [
                prompts.critic_messages(
                    t.query, t.failure_kind, t.diff, t.attempted_calls, t.expected_tools
                )
                for t in tasks
            ],
            prompts.Critique,
        )

    def reply(self, tasks: Sequence[ReplyTask]) -> list[RoleResult[prompts.ClosingReply]]:
        """Write each closing reply."""
        return self._run(
            "replier",
            [t.key for t in tasks],
            [prompts.replier_messages(t.query, t.calls, t.results) for t in tasks],
            prompts.ClosingReply,
        )


class RoleSet:
    """The role implementations of a run: per role, scripted or model-backed."""

    def __init__(
        self,
        settings: ModelSettings,
        registry: Any,
        client: ModelClient | None = None,
        slip_rate: float = 0.15,
        seed: int = 0,
    ) -> None:
        self.settings = settings
        self.scripted = ScriptedRoles(registry, slip_rate=slip_rate, seed=seed)
        self.models = ModelRoles(client) if client is not None else None
        if self.models is None and not settings.all_scripted:
            raise ValueError("a model is configured for some role but no client was given")

    def _pick(self, role: str) -> ScriptedRoles | ModelRoles:
        if self.settings.role(role).scripted or self.models is None:
            return self.scripted
        return self.models

    def generators(self) -> dict[str, str]:
        """Which generator makes each role's output."""
        return self.settings.generators()

    def accounting_metadata(self) -> dict[str, Any]:
        """Model calls, cache hits, tokens and cost of this role set, for asset metadata."""
        if self.models is None:
            return {"scripted": True}
        return self.models.client.totals().as_metadata()

    def close(self) -> None:
        """Release the model client's event loop and HTTP sessions (nothing when scripted)."""
        if self.models is not None:
            self.models.client.close()

    def name_tools(self, tasks: Sequence[AbstractionTask]) -> list[RoleResult[prompts.ToolNaming]]:
        """Tool abstractor."""
        return self._pick("tool_abstractor").name_tools(tasks) if tasks else []

    def write_queries(self, tasks: Sequence[QueryTask]) -> list[RoleResult[prompts.QueryDraft]]:
        """Query writer."""
        return self._pick("query_writer").write_queries(tasks) if tasks else []

    def reason(self, tasks: Sequence[ReasonerTask]) -> list[RoleResult[prompts.ReasonerStep]]:
        """Reasoner."""
        return self._pick("reasoner").reason(tasks) if tasks else []

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[RoleResult[prompts.Critique]]:
        """Critic."""
        return self._pick("critic").critique(tasks) if tasks else []

    def reply(self, tasks: Sequence[ReplyTask]) -> list[RoleResult[prompts.ClosingReply]]:
        """Replier."""
        return self._pick("replier").reply(tasks) if tasks else []


def role_key(*parts: Any) -> str:
    """A stable task key from its parts."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def tool_openai_specs(tools: Sequence[Any], hidden: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Tool specs shown to the reasoner (OpenAI function format), minus hidden ones."""
    return [tool.openai_tool() for tool in tools if tool.name not in set(hidden)]
