"""Phase III over whole dialogues: the guided iterative chain, its checks, and assembly.

Each dialogue runs as one flow (round after round on one persistent state) that yields role
tasks and receives their results; `roles.dispatch.drive` batches the tasks of every dialogue in
flight into one call per role.

Per round (METHOD.md): the reasoner runs as an agent loop in a sandbox copy of the round's
starting state; its calls go through the safe executor and their results are fed back up to a
step cap, and `verification` decides whether each turn did what the ground truth did. On
failure the critic names the error, its hint is appended, and the reasoner retries, up to
`max_attempts`. A failed round ends the dialogue: the verified prefix is kept if it still has
the minimum number of rounds.

A model call that fails for a reason that is not the model's mistake (the budget refused it,
the server is unreachable, the key was refused: `llm.failures`) ends the round at once: the
attempt is kept with the failure as its diff, nothing goes to the critic, and the chain's
`drop_reason` names the failure (`budget_exhausted`, `model_failed:<kind>`). Output that does
not validate is the model's mistake: the attempt fails as `unparseable` and is critiqued.

The phase's checks (`CHAIN_CHECKS`) are judged from the chains alone (`judge_chains`), which
also count the verified dialogues; the dialogues themselves are assembled once, by curation
(`assemble_dialogue`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.checks import CheckSpec, PhaseResult, first_items
from funreason_assets.lib.executor import CallOutcome, ParsedCall, execute_call
from funreason_assets.lib.llm.failures import is_model_mistake, record_status
from funreason_assets.lib.records import (
    Attempt,
    DialoguePlan,
    HardQuery,
    ReasonedTurn,
    ReasoningChain,
    StepRecord,
    TurnMode,
    VerifiedDialogue,
    stable_id,
)
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.dispatch import Flow, RoleSet, RoleTally, drive
from funreason_assets.lib.roles.tasks import (
    CritiqueTask,
    JudgeTask,
    ReasonerTask,
    ReplyTask,
    tool_openai_specs,
)
from funreason_assets.lib.verification import (
    AttemptVerdict,
    InjectedErrors,
    run_calls,
    validate_act,
    validate_no_calls,
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
    min_accepted_share_error: float = Field(
        0.2, ge=0, le=1,
        description="ERROR (blocking) when fewer attempted rounds are verified",
    )


@dataclass
class TurnSpec:
    """One user turn of a round."""

    user: str
    mode: TurnMode
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


@dataclass
class ChainOutcome:
    """Phase III output for one plan: one chain per round, in round order."""

    chains: list[ReasoningChain] = field(default_factory=list)


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
        # Set when a model call failed for a reason other than the model's (a record status).
        stopped: str | None = None
        for attempt_number in range(1, config.max_attempts + 1):
            sandbox = environment.fork()
            injections = InjectedErrors(planned)
            turn_history = list(history)
            steps_by_turn: list[tuple[TurnSpec, list[StepRecord]]] = []
            verdict = AttemptVerdict(True)
            for turn in turns_of(query):
                failed_reply: AttemptVerdict | None = None
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
                        kind = answer.failure or "invalid_output"
                        steps.append(StepRecord(reasoning="", calls=[], results=[],
                                                statuses=[record_status(kind)],
                                                raw=answer.error or ""))
                        if not is_model_mistake(kind):
                            stopped = record_status(kind)
                        failed_reply = AttemptVerdict(
                            False, None if stopped else "unparseable", [answer.error or kind]
                        )
                        break
                    step = answer.value
                    if not step.calls:
                        steps.append(StepRecord(reasoning=step.reasoning, calls=[], results=[],
                                                statuses=[], raw=step.answer or ""))
                        break
                    step_outcomes = run_calls(sandbox, step.calls, injections)
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
                if failed_reply is not None:
                    verdict = failed_reply
                elif turn.mode == "act":
                    verdict = validate_act(planned, gt_outputs, gt_env, sandbox, outcomes)
                else:
                    verdict = validate_no_calls(turn.mode, outcomes)
                if not verdict.passed:
                    break
                turn_history = _extend_history(turn_history, turn.user, steps)
            critique_text = None
            if not verdict.passed and not stopped:
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
                if answer.value is None and not is_model_mistake(answer.failure):
                    stopped = record_status(answer.failure or "config")
                else:
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
            if stopped:
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
                    if answer.value is None and not is_model_mistake(answer.failure):
                        stopped = stopped or record_status(answer.failure or "config")
                    reply = answer.value.reply if answer.value else ""
                scores = None
                if turn.mode == "act" and reply and roles.judging:
                    judged = yield "judge", JudgeTask(
                        key=f"{chain_id}/judge/{len(turns)}", kind="reply", text=reply,
                        facts={"request": turn.user, "results": results[-6:]},
                    )
                    tally.add(judged)
                    scores = judged.value.model_dump() if judged.value else None
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
                        judge=scores,
                    )
                )
            if stopped:
                drop_reason = stopped
            elif any(LEAKAGE.search(t.reasoning) for t in turns):
                drop_reason = "reasoning_leakage"
            elif any(not t.reply.strip() for t in turns):
                drop_reason = "no_reply"
        else:
            drop_reason = stopped or "not_verified"
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
    return outcome


def verified_prefix(chains: Iterable[ReasoningChain]) -> list[ReasoningChain]:
    """The passed rounds of one plan's chains up to its first failed round, in round order."""
    kept: list[ReasoningChain] = []
    for chain in sorted(chains, key=lambda c: c.round_index):
        if not chain.passed:
            break
        kept.append(chain)
    return kept


def assemble_dialogue(
    plan: DialoguePlan, chains: Sequence[ReasoningChain], min_rounds: int
) -> VerifiedDialogue | None:
    """The verified prefix of a plan's rounds as one dialogue, if it is long enough."""
    kept = verified_prefix(c for c in chains if c.plan_id == plan.plan_id)
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
    progress: Callable[[int, int], None] | None = None,
) -> list[ChainOutcome]:
    """Phase III for every plan that has queries (`progress(done, total)` over plans)."""
    by_plan: dict[str, dict[int, HardQuery]] = {}
    for query in queries:
        by_plan.setdefault(query.plan_id, {})[query.round_index] = query
    flows = [
        _chain_flow(plan, by_plan[plan.plan_id], registry, roles, config)
        for plan in plans
        if plan.plan_id in by_plan
    ]
    return drive(flows, roles, progress)


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


# ---------------------------------------------------------------------- checks and the phase


LEAKAGE_CHECK = CheckSpec(
    "kept_reasoning_has_no_leakage",
    "Kept reasoning never mentions the advanced tool, hints, critiques or a previous attempt.",
    blocking=True,
)
ATTEMPTS_CHECK = CheckSpec(
    "attempts_well_formed",
    "At most K_max attempts; every retry follows a critique; a verified round ends with a "
    "passing attempt and keeps its turns.",
    blocking=True,
)
ACCEPTED_SHARE_CHECK = CheckSpec(
    "accepted_share",
    "Share of attempted rounds that are verified stays above the floor (WARN), and above the "
    "error floor (ERROR: a run whose rounds mostly fail, e.g. every model call refused, fails).",
    blocking=True,
    severity="warn",
)
CHAIN_CHECKS = (LEAKAGE_CHECK, ATTEMPTS_CHECK, ACCEPTED_SHARE_CHECK)


def chain_problems(chains: Sequence[ReasoningChain], max_attempts: int) -> dict[str, list[str]]:
    """Attempt bookkeeping that must hold for every chain, per chain that breaks it."""
    problems: dict[str, list[str]] = {}
    for chain in chains:
        found = []
        if len(chain.attempts) > max_attempts:
            found.append(f"{len(chain.attempts)} attempts > K_max {max_attempts}")
        if chain.passed and not (chain.attempts and chain.attempts[-1].passed):
            found.append("passed without a passing final attempt")
        if chain.passed and not chain.turns:
            found.append("passed without kept turns")
        found.extend(
            f"attempt {attempt.attempt} retried without a critique"
            for attempt in chain.attempts[:-1]
            if attempt.passed or not attempt.critique
        )
        if found:
            problems[chain.chain_id] = found
    return problems


def dialogue_counts(chains: Sequence[ReasoningChain], min_rounds: int) -> tuple[int, int]:
    """How many plans keep a verified dialogue, and how many keep too few rounds for one.

    The same count `assemble_dialogue` gives over every plan, without assembling the dialogues.
    """
    by_plan: dict[str, list[ReasoningChain]] = {}
    for chain in chains:
        by_plan.setdefault(chain.plan_id, []).append(chain)
    verified = sum(len(verified_prefix(found)) >= min_rounds for found in by_plan.values())
    return verified, len(by_plan) - verified


def judge_chains(
    chains: list[ReasoningChain], config: ChainConfig
) -> PhaseResult[list[ReasoningChain]]:
    """The chains with their check verdicts, pass rates and dialogue counts."""
    stats = chain_stats(chains, config.max_attempts)
    leaking = [
        chain.chain_id for chain in chains for turn in chain.turns if LEAKAGE.search(turn.reasoning)
    ]
    problems = chain_problems(chains, config.max_attempts)
    verified, too_short = dialogue_counts(chains, config.min_rounds)
    return PhaseResult(
        value=chains,
        verdicts=[
            LEAKAGE_CHECK.verdict(
                not leaking,
                kept_turns=sum(len(c.turns) for c in chains),
                leaking_chains=leaking[:10],
            ),
            ATTEMPTS_CHECK.verdict(
                not problems, chains=len(chains), problems=first_items(problems)
            ),
            ACCEPTED_SHARE_CHECK.graded_verdict(
                stats["accepted_share"] >= config.min_accepted_share,
                "error" if stats["accepted_share"] < config.min_accepted_share_error else "warn",
                accepted_share=stats["accepted_share"],
                floor=config.min_accepted_share,
                error_floor=config.min_accepted_share_error,
            ),
        ],
        metrics={
            **{key: value for key, value in stats.items() if key != "rounds"},
            "dialogues_verified": verified,
            "dialogues_dropped": {"too_few_verified_rounds": too_short} if too_short else {},
        },
        tables={"preview": [
            {"variant": c.variant, "attempts": len(c.attempts), "passed": c.passed,
             "failures": ", ".join(a.failure_kind or "" for a in c.attempts if not a.passed)}
            for c in chains[:10]
        ]},
    )


def build_chains(
    plans: Sequence[DialoguePlan],
    queries: Sequence[HardQuery],
    registry: ToolRegistry,
    roles: RoleSet,
    config: ChainConfig,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseResult[list[ReasoningChain]]:
    """Phase III for every plan with queries: its chains, judged, and what the roles cost."""
    outcomes = run_chains(plans, queries, registry, roles, config, progress)
    result = judge_chains([chain for outcome in outcomes for chain in outcome.chains], config)
    result.metrics["generators"] = roles.generators()
    result.metrics["model_calls"] = roles.accounting_metadata()
    return result
