"""Phases II and III over whole dialogues: hard queries, the guided iterative chain, assembly.

Each dialogue runs as a generator that yields role tasks and receives their results, so its
logic reads top to bottom (round after round on one persistent state) while a driver batches
the tasks of every dialogue in flight into one call per role: with a model, a batch is one
concurrent `complete_many`; scripted, it costs nothing.

Phase III per round (METHOD.md): the reasoner runs as an agent loop in a sandbox copy of the
round's starting state; its calls go through the safe executor and their results are fed back
up to a step cap. The round passes iff the sandbox's final state equals the ground-truth state
for every involved class and every ground-truth result occurs among the reasoner's results
(read-only rounds also compare the calls). On failure the critic names the error, its hint is
appended, and the reasoner retries, up to `max_attempts`. A failed round ends the dialogue: the
verified prefix is kept if it still has the minimum number of rounds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib import prompts
from funreason_assets.lib.environments import Environment, ToolRegistry, diff_states, to_jsonable
from funreason_assets.lib.executor import CallOutcome, ParsedCall, execute_call, parse_calls
from funreason_assets.lib.records import (
    Attempt,
    DialoguePlan,
    HardQuery,
    PlannedRound,
    QueryDrop,
    ReasonedTurn,
    ReasoningChain,
    StepRecord,
    VerifiedDialogue,
    stable_id,
)
from funreason_assets.lib.roles import (
    AbstractionTask,
    CritiqueTask,
    QueryTask,
    ReasonerTask,
    ReplyTask,
    RoleResult,
    RoleSet,
    role_key,
    tool_openai_specs,
)
from funreason_assets.lib.synthesis import (
    QueryViolation,
    abstract_round,
    check_query,
    omitted_input,
    prerequisite_calls,
)

LEAKAGE = re.compile(
    r"advanced tool|\bhint\b|critique|critic\b|previous attempt|earlier attempt|guidance|"
    r"_end_to_end|_with_prerequisites|equivalent to",
    re.IGNORECASE,
)


class ChainConfig(BaseModel):
    """Phase III knobs."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(3, ge=1, description="K_max: attempts per round")
    max_steps: int = Field(8, ge=1, description="reasoner steps per turn")
    min_rounds: int = Field(2, ge=1, description="a dialogue keeps a verified prefix this long")
    slip_rate: float = Field(
        0.15, ge=0, le=1, description="scripted reasoner: share of first attempts that slip"
    )
    min_accepted_share: float = Field(
        0.5, ge=0, le=1, description="WARN when fewer attempted rounds are verified"
    )


# ---------------------------------------------------------------------- the driver


Flow = Generator[tuple[str, Any], RoleResult[Any], Any]


def drive(flows: Sequence[Flow], roles: RoleSet) -> list[Any]:
    """Run generator flows to completion, batching their role tasks per role."""
    results: list[Any] = [None] * len(flows)
    pending: dict[int, tuple[str, Any]] = {}
    for position, flow in enumerate(flows):
        try:
            pending[position] = next(flow)
        except StopIteration as stop:
            results[position] = stop.value
    while pending:
        by_role: dict[str, list[int]] = {}
        for position, (role, _) in pending.items():
            by_role.setdefault(role, []).append(position)
        answers: dict[int, RoleResult[Any]] = {}
        for role, positions in by_role.items():
            tasks = [pending[position][1] for position in positions]
            replies = getattr(roles, role)(tasks)
            answers.update(zip(positions, replies, strict=True))
        pending = {}
        for position, answer in answers.items():
            try:
                pending[position] = flows[position].send(answer)
            except StopIteration as stop:
                results[position] = stop.value
    return results


@dataclass
class RoleTally:
    """Model calls and tokens spent by a flow."""

    calls: int = 0
    tokens: int = 0

    def add(self, result: RoleResult[Any]) -> None:
        """Count one role answer."""
        self.calls += result.model_calls
        self.tokens += result.tokens


# ---------------------------------------------------------------------- Phase II


@dataclass
class QueryOutcome:
    """Phase II output for one plan: accepted queries and the drops."""

    queries: list[HardQuery] = field(default_factory=list)
    drops: list[QueryDrop] = field(default_factory=list)
    tally: RoleTally = field(default_factory=RoleTally)


def _query_flow(plan: DialoguePlan, registry: ToolRegistry, roles: RoleSet) -> Flow:
    outcome = QueryOutcome()
    earlier: list[str] = []
    generators = roles.generators()
    for planned in plan.rounds:
        tool = abstract_round(plan, planned, registry, generators["tool_abstractor"])
        key = role_key(plan.plan_id, planned.index)
        trace = [call.call for call in planned.executed_calls()]
        naming = yield "name_tools", AbstractionTask(
            key, tool, registry.tool(planned.target).description, trace
        )
        outcome.tally.add(naming)
        if naming.value is None:
            outcome.drops.append(
                QueryDrop(plan_id=plan.plan_id, round_index=planned.index,
                          rule="abstraction_failed", detail=naming.error or "", query="")
            )
            break
        tool = tool.model_copy(
            update={"name": naming.value.name, "description": naming.value.description}
        )
        omitted = omitted_input(tool, planned)
        draft = yield "write_queries", QueryTask(key, tool, planned, omitted, list(earlier))
        outcome.tally.add(draft)
        if draft.value is None:
            outcome.drops.append(
                QueryDrop(plan_id=plan.plan_id, round_index=planned.index,
                          rule="writer_failed", detail=draft.error or "", query="")
            )
            break
        violations = check_query(
            draft.value.query, draft.value.follow_up, plan, planned, tool, omitted
        )
        if planned.variant in ("missing_parameter", "missing_function") and not (
            draft.value.follow_up
        ):
            violations.append(
                QueryViolation("missing_follow_up", "split round needs a follow-up")
            )
        if violations:
            for violation in violations:
                outcome.drops.append(
                    QueryDrop(plan_id=plan.plan_id, round_index=planned.index,
                              rule=violation.rule, detail=violation.detail,
                              query=draft.value.query)
                )
            # Later rounds build on this one's state: the dialogue ends here.
            break
        outcome.queries.append(
            HardQuery(
                query_id=stable_id("query", plan.plan_id, planned.index, draft.value.query),
                plan_id=plan.plan_id,
                scenario_id=plan.scenario_id,
                shard=plan.shard,
                round_index=planned.index,
                variant=planned.variant,
                target=planned.target,
                advanced_tool=tool,
                query=draft.value.query,
                follow_up=draft.value.follow_up,
                omitted=omitted,
                generator=draft.generator,
                prompt_version=prompts.PROMPT_VERSIONS["query_writer"],
            )
        )
        earlier.append(draft.value.query)
    return outcome


def synthesize_queries(
    plans: Sequence[DialoguePlan], registry: ToolRegistry, roles: RoleSet
) -> list[QueryOutcome]:
    """Phase II for every plan."""
    return drive([_query_flow(plan, registry, roles) for plan in plans], roles)


# ---------------------------------------------------------------------- Phase III


@dataclass
class TurnSpec:
    """One user turn of a round."""

    user: str
    mode: str  # act | ask | decline
    hidden: list[str] = field(default_factory=list)


def turns_of(query: HardQuery) -> list[TurnSpec]:
    """A round's user turns: split rounds ask or decline first, then act on the follow-up."""
    if query.variant == "missing_parameter":
        return [TurnSpec(query.query, "ask"), TurnSpec(query.follow_up or "", "act")]
    if query.variant == "missing_function":
        return [
            TurnSpec(query.query, "decline", hidden=[query.target]),
            TurnSpec(query.follow_up or "", "act"),
        ]
    return [TurnSpec(query.query, "act")]


def _canonical(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, default=str)


def _normalized_call(outcome: CallOutcome) -> str:
    return f"{outcome.name}:{_canonical(outcome.arguments)}"


@dataclass
class Verdict:
    """The checker's answer on one turn."""

    passed: bool
    failure_kind: str | None = None
    diff: list[str] = field(default_factory=list)


def validate_act(
    planned: PlannedRound,
    gt_outputs: Sequence[Any],
    gt_env: Environment,
    sandbox: Environment,
    outcomes: Sequence[CallOutcome],
) -> Verdict:
    """BFCL-style state and response checks (plus calls for read-only rounds)."""
    if any(o.name == "<unparsed>" for o in outcomes):
        return Verdict(False, "unparseable", [o.error or "" for o in outcomes if o.error][:3])
    if not outcomes:
        return Verdict(False, "premature_stop", ["no call was made"])
    state_diff = diff_states(gt_env.state(), sandbox.state())
    got = Counter(_canonical(o.output) for o in outcomes if o.ok)
    missing_results = [
        call for call, output in zip(planned.executed_calls(), gt_outputs, strict=True)
        if got[_canonical(output)] == 0
    ]
    calls_differ = False
    if planned.read_only:
        expected = Counter(
            f"{c.tool}:{_canonical(c.argument_values())}" for c in planned.executed_calls()
        )
        actual = Counter(_normalized_call(o) for o in outcomes if o.ok)
        calls_differ = expected != actual
    if not state_diff and not missing_results and not calls_differ:
        return Verdict(True)
    diff = [f"state: {line}" for line in state_diff[:6]]
    diff += [f"result of {call.tool} not obtained" for call in missing_results[:6]]
    if calls_differ:
        diff.append("calls differ from the read-only ground truth")
    called = {o.name for o in outcomes}
    expected_tools = [c.tool for c in planned.executed_calls()]
    never_called = [tool for tool in expected_tools if tool not in called]
    prerequisites = {c.tool for c in prerequisite_calls(planned)}
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
    return Verdict(False, kind, diff)


@dataclass
class ChainOutcome:
    """Phase III output for one plan."""

    chains: list[ReasoningChain] = field(default_factory=list)
    dialogue: VerifiedDialogue | None = None
    drop_reason: str | None = None


class _Injections:
    """Injected tool errors of an error-recovery round, served on the first matching call."""

    def __init__(self, planned: PlannedRound) -> None:
        self.pending = [
            (call.tool, _canonical(call.argument_values()), call.error or "error")
            for call in planned.calls
            if call.injected_error
        ]
        self.served = 0

    def execute(self, environment: Environment, call: ParsedCall) -> CallOutcome:
        for position, (tool, arguments, message) in enumerate(self.pending):
            if tool == call.name and arguments == _canonical(dict(call.kwargs)):
                del self.pending[position]
                self.served += 1
                return CallOutcome(
                    call.name, dict(call.kwargs), "tool_error", {"error": message}, message
                )
        return execute_call(environment, call)


def _chain_flow(
    plan: DialoguePlan,
    queries: Mapping[int, HardQuery],
    registry: ToolRegistry,
    roles: RoleSet,
    config: ChainConfig,
) -> Flow:
    outcome = ChainOutcome()
    generators = roles.generators()
    environment = registry.environment(plan.involved_classes, plan.initial_config,
                                       plan.long_context)
    tools = environment.tools
    history: list[dict[str, Any]] = []
    context_outputs: dict[str, Any] = {}
    failed = False
    for planned in plan.rounds:
        query = queries.get(planned.index)
        chain_id = stable_id("chain", plan.plan_id, planned.index)
        if failed or query is None:
            reason = "after_failed_round" if failed else "no_query"
            outcome.chains.append(
                ReasoningChain(
                    chain_id=chain_id, query_id=query.query_id if query else "",
                    plan_id=plan.plan_id, scenario_id=plan.scenario_id, shard=plan.shard,
                    round_index=planned.index, variant=planned.variant, attempts=[],
                    passed=False, drop_reason=reason, generators=generators,
                )
            )
            failed = True
            continue
        # Ground truth of this round from the current (verified) state.
        gt_env = environment.fork()
        gt_outputs = []
        for call in planned.executed_calls():
            result = execute_call(gt_env, ParsedCall(call.tool, (), call.argument_values()))
            gt_outputs.append(result.output)
        tally = RoleTally()
        attempts: list[Attempt] = []
        critiques: list[str] = []
        tool = query.advanced_tool
        hint = (
            f"Hint: the request is what an advanced tool `{tool.name}` would do "
            f"({tool.description}); it is equivalent to calling, in order: "
            + ", ".join(sub.tool for sub in tool.decomposition)
            + "."
        )
        passed_turns: list[tuple[TurnSpec, list[StepRecord]]] = []
        for attempt_number in range(1, config.max_attempts + 1):
            sandbox = environment.fork()
            injections = _Injections(planned)
            turn_history = list(history)
            steps_by_turn: list[tuple[TurnSpec, list[StepRecord]]] = []
            verdict = Verdict(True)
            for turn in turns_of(query):
                steps: list[StepRecord] = []
                outcomes: list[CallOutcome] = []
                visible = tool_openai_specs(tools, turn.hidden)
                for _ in range(config.max_steps):
                    answer = yield "reason", ReasonerTask(
                        key=f"{chain_id}/{attempt_number}/{turn.mode}/{len(steps)}",
                        mode=turn.mode, query=turn.user, tools=visible,
                        history=turn_history, hint=hint, critiques=list(critiques),
                        steps=[(s.reasoning, s.calls, s.results) for s in steps],
                        attempt=attempt_number, advanced_tool=tool, planned=planned,
                        context_outputs=context_outputs, omitted=query.omitted,
                    )
                    tally.add(answer)
                    if answer.value is None:
                        steps.append(StepRecord(reasoning="", calls=[], results=[],
                                                statuses=["failed"], raw=answer.error or ""))
                        break
                    step = answer.value
                    if not step.calls:
                        steps.append(StepRecord(reasoning=step.reasoning, calls=[], results=[],
                                                statuses=[], raw=step.answer or ""))
                        break
                    step_outcomes = _run_calls(sandbox, step.calls, injections)
                    outcomes.extend(step_outcomes)
                    steps.append(
                        StepRecord(
                            reasoning=step.reasoning,
                            calls=[o.call_string if o.name != "<unparsed>" else c
                                   for o, c in zip(step_outcomes, step.calls, strict=False)],
                            results=[o.feedback() for o in step_outcomes],
                            statuses=[o.status for o in step_outcomes],
                        )
                    )
                steps_by_turn.append((turn, steps))
                if turn.mode == "act":
                    verdict = validate_act(planned, gt_outputs, gt_env, sandbox, outcomes)
                elif outcomes:
                    verdict = Verdict(
                        False, "should_ask" if turn.mode == "ask" else "should_decline",
                        [f"called {o.name}" for o in outcomes[:4]],
                    )
                if not verdict.passed:
                    break
                turn_history = _extend_history(turn_history, turn.user, steps)
            critique_text = None
            if not verdict.passed:
                answer = yield "critique", CritiqueTask(
                    key=f"{chain_id}/{attempt_number}/critique",
                    query=query.query, failure_kind=verdict.failure_kind or "state_mismatch",
                    diff=verdict.diff,
                    attempted_calls=[c for _, steps in steps_by_turn for s in steps
                                     for c in s.calls],
                    expected_tools=[c.tool for c in planned.executed_calls()],
                    target=planned.target,
                )
                tally.add(answer)
                critique_text = answer.value.hint if answer.value else (
                    f"The attempt failed: {verdict.failure_kind}."
                )
                critiques.append(critique_text)
            attempts.append(
                Attempt(
                    attempt=attempt_number,
                    steps=[s for _, steps in steps_by_turn for s in steps],
                    passed=verdict.passed, failure_kind=verdict.failure_kind,
                    diff=verdict.diff, critique=critique_text,
                    generator=generators["reasoner"], hint_given=True,
                )
            )
            if verdict.passed:
                passed_turns = steps_by_turn
                break
        turns: list[ReasonedTurn] = []
        drop_reason = None
        if passed_turns:
            for turn, steps in passed_turns:
                calls = [c for s in steps for c in s.calls]
                results = [r for s in steps for r in s.results]
                reply = next((s.raw for s in reversed(steps) if s.raw), "")
                if turn.mode == "act":
                    answer = yield "reply", ReplyTask(
                        key=f"{chain_id}/reply/{len(turns)}", query=turn.user, calls=calls,
                        results=results,
                    )
                    tally.add(answer)
                    reply = answer.value.reply if answer.value else ""
                reasoning = "\n".join(s.reasoning for s in steps if s.reasoning)
                turns.append(
                    ReasonedTurn(
                        user=turn.user, reasoning=reasoning, steps=steps, reply=reply,
                        round_index=planned.index, variant=planned.variant, mode=turn.mode,
                        ground_truth=[c.call for c in planned.executed_calls()]
                        if turn.mode == "act" else [],
                        tools_hidden=turn.hidden,
                        error_tool_response=any(
                            c.injected_error for c in planned.calls
                        ) and turn.mode == "act",
                    )
                )
            if any(LEAKAGE.search(t.reasoning) for t in turns):
                drop_reason = "reasoning_leakage"
            elif any(not t.reply.strip() for t in turns):
                drop_reason = "no_reply"
        else:
            drop_reason = "not_verified"
        passed = drop_reason is None
        outcome.chains.append(
            ReasoningChain(
                chain_id=chain_id, query_id=query.query_id, plan_id=plan.plan_id,
                scenario_id=plan.scenario_id, shard=plan.shard, round_index=planned.index,
                variant=planned.variant, attempts=attempts, passed=passed,
                turns=turns if passed else [], drop_reason=drop_reason,
                generators=generators, model_calls=tally.calls, tokens=tally.tokens,
            )
        )
        if not passed:
            failed = True
            continue
        # The round is verified: the dialogue continues from its ground-truth state.
        environment = gt_env
        for turn_record in turns:
            history = _extend_history(history, turn_record.user, turn_record.steps,
                                      turn_record.reply)
        for call, output in zip(planned.executed_calls(), gt_outputs, strict=True):
            context_outputs[f"{planned.index}.{call.index}"] = output
    outcome.dialogue = assemble_dialogue(plan, outcome.chains, config.min_rounds)
    if outcome.dialogue is None:
        outcome.drop_reason = "too_few_verified_rounds"
    return outcome


def assemble_dialogue(
    plan: DialoguePlan, chains: Sequence[ReasoningChain], min_rounds: int
) -> VerifiedDialogue | None:
    """The verified prefix of a plan's rounds as one dialogue, if it is long enough."""
    ordered = sorted((c for c in chains if c.plan_id == plan.plan_id), key=lambda c: c.round_index)
    kept: list[ReasoningChain] = []
    for chain in ordered:
        if not chain.passed:
            break
        kept.append(chain)
    if len(kept) < min_rounds:
        return None
    rounds = [chain.round_index for chain in kept]
    return VerifiedDialogue(
        dialogue_id=stable_id("dialogue", plan.plan_id, rounds),
        plan_id=plan.plan_id, scenario_id=plan.scenario_id, shard=plan.shard,
        involved_classes=plan.involved_classes, initial_config=plan.initial_config,
        long_context=plan.long_context, rounds=rounds,
        chain_ids=[chain.chain_id for chain in kept],
        turns=[turn for chain in kept for turn in chain.turns],
    )


def _run_calls(
    sandbox: Environment, calls: Sequence[str], injections: _Injections
) -> list[CallOutcome]:
    outcomes = []
    for text in calls:
        try:
            parsed = parse_calls(text)
        except Exception as exc:  # the executor's parser reports every hostile form
            outcomes.append(CallOutcome("<unparsed>", {}, "rejected", error=str(exc)[:300]))
            continue
        outcomes.extend(injections.execute(sandbox, call) for call in parsed)
    return outcomes


def _extend_history(
    history: Sequence[Mapping[str, Any]],
    user: str,
    steps: Iterable[StepRecord],
    reply: str | None = None,
) -> list[dict[str, Any]]:
    messages = [*history, {"role": "user", "content": user}]
    for step in steps:
        if step.calls:
            messages.append({"role": "assistant", "content": json.dumps(
                {"reasoning": step.reasoning, "calls": step.calls})})
            messages.append({"role": "user", "content": "Tool results: " + json.dumps(
                step.results, default=str)[:4000]})
        elif step.raw:
            messages.append({"role": "assistant", "content": step.raw})
    if reply:
        messages.append({"role": "assistant", "content": reply})
    return messages


def run_chains(
    plans: Sequence[DialoguePlan],
    queries: Sequence[HardQuery],
    registry: ToolRegistry,
    roles: RoleSet,
    config: ChainConfig,
) -> list[ChainOutcome]:
    """Phase III for every plan that has queries."""
    by_plan: dict[str, dict[int, HardQuery]] = {}
    for query in queries:
        by_plan.setdefault(query.plan_id, {})[query.round_index] = query
    flows = [
        _chain_flow(plan, by_plan[plan.plan_id], registry, roles, config)
        for plan in plans
        if plan.plan_id in by_plan
    ]
    return drive(flows, roles)


def chain_stats(chains: Sequence[ReasoningChain], max_attempts: int) -> dict[str, Any]:
    """Pass rate per attempt number, attempts histogram, drops per reason, calls per round."""
    attempted = [c for c in chains if c.attempts]
    passed = [c for c in attempted if c.passed]
    first_pass = Counter(
        next((a.attempt for a in c.attempts if a.passed), None) for c in attempted
    )
    reached = Counter(len(c.attempts) for c in attempted)
    pass_rate = {}
    for k in range(1, max_attempts + 1):
        tried = sum(count for n, count in reached.items() if n >= k)
        pass_rate[str(k)] = round(first_pass.get(k, 0) / tried, 3) if tried else None
    failures = Counter(a.failure_kind for c in attempted for a in c.attempts if a.failure_kind)
    return {
        "rounds": len(chains),
        "rounds_attempted": len(attempted),
        "rounds_verified": len(passed),
        "accepted_share": round(len(passed) / len(attempted), 3) if attempted else 0.0,
        "pass_rate_per_attempt": pass_rate,
        "attempts_histogram": {str(k): v for k, v in sorted(reached.items())},
        "failure_kinds": dict(failures),
        "drops": dict(Counter(c.drop_reason for c in chains if c.drop_reason)),
        "model_calls_per_accepted_round": round(
            sum(c.model_calls for c in chains) / len(passed), 2) if passed else None,
        "tokens_per_accepted_round": round(
            sum(c.tokens for c in chains) / len(passed), 1) if passed else None,
    }
