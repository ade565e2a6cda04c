"""Phase II: hard queries from ground-truth rounds, each computed, written and checked.

Per plan, round after round: the round's executed trace is abstracted into an advanced tool,
the tool abstractor role names it, the query writer role writes the user's request, and the
query checks accept or drop it; a dropped round ends the dialogue, since later rounds build on
its state. Each plan runs as one flow, and `roles.dispatch.drive` batches every plan's role
tasks.

The machine-readable part of the advanced tool (inputs, output, decomposition) is computed from
the executed trace, never asked of a model: the free values of the trace (arguments the user can
state, or entities present in the state) become its inputs, values produced by calls stay
hidden, and the decomposition records where every argument of every sub-call comes from. The
tool abstractor role only names the tool and states its user-level goal.

Query checks are computed too (METHOD.md Phase II): a hard query carries every input value,
names no intermediate tool, contains no value that only a tool produced, a missing-parameter
query really omits the value it claims to omit, and a split round has its follow-up. The
phase's checks (`QUERY_CHECKS`, `judge_queries`) re-apply the same rules to the kept queries.

Users leave some values for the model to infer, as BFCL's do: per round, a configured share
(`QueryConfig.inferable_share`) of the statable inputs is drawn from those the model can infer
(`inferable_candidates`: a value an earlier turn stated, a city's airport code, a person's user
id in the state, a company's ticker) and handed to the writer with the reason; an input counts
as carried when the query states it OR it is marked inferable with a reason that holds
(`inferable_reason_holds`), and the query records the inputs it left out (`HardQuery.inferable`).

An optional model judge (`judge` role) scores each kept query for naturalness and faithfulness
(1-5); a query scoring below `QueryConfig.judge_floor` on either is dropped as `judge_floor`.

A role answer missing for a reason that is not the model's mistake (the budget refused the
call, the server is unreachable: `llm.failures`) drops the round as `budget_exhausted` or
`model_failed:<kind>`, not as `abstraction_failed`/`writer_failed`.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib import prompts
from funreason_assets.lib.checks import CheckSpec, PhaseResult, first_items
from funreason_assets.lib.dialogue_stats import earlier_rounds_used
from funreason_assets.lib.llm.failures import is_model_mistake, record_status
from funreason_assets.lib.llm.settings import SCRIPTED
from funreason_assets.lib.phrasing import PHRASING_VERSION, goal_phrase, humanize
from funreason_assets.lib.realizer.query import NOUNS, outcome_phrase
from funreason_assets.lib.realizer.values import carries, input_forms, mentions, scalars
from funreason_assets.lib.records import (
    SPLIT_VARIANTS,
    AdvancedTool,
    AdvancedToolInput,
    DialoguePlan,
    ExecutedCall,
    HardQuery,
    PlannedRound,
    QueryDrop,
    SubCall,
    stable_id,
)
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.dispatch import Flow, RoleSet, RoleTally, drive
from funreason_assets.lib.roles.tasks import (
    AbstractionTask,
    JudgeTask,
    QueryTask,
    RoleResult,
    role_key,
)
from funreason_assets.lib.scenarios.personas import (
    AIRPORT_OF_CITY,
    SYMBOL_OF_COMPANY,
    ZIPCODE_OF_CITY,
)


def prerequisite_calls(planned: PlannedRound) -> list[ExecutedCall]:
    """Executed calls before the (first) target call: the steps the query must hide."""
    calls = planned.executed_calls()
    for position, call in enumerate(calls):
        if call.tool == planned.target:
            return calls[:position]
    return calls


def abstract_round(
    plan: DialoguePlan, planned: PlannedRound, registry: ToolRegistry, generator: str
) -> AdvancedTool:
    """Compute the advanced tool of one round.

    The name and description are placeholders that the tool abstractor role rewrites.
    """
    inputs: dict[str, dict[str, Any]] = {}
    by_value: dict[str, str] = {}
    decomposition = []
    for call in planned.executed_calls():
        tool = registry.tool(call.tool)
        properties = tool.parameters.get("properties", {})
        bindings: dict[str, str] = {}
        for argument in call.arguments:
            if argument.provenance == "output":
                position, _, path = argument.source.partition(":")
                producer_round = int(position.split(".")[0])
                producer_call = position.split(".")[1]
                bindings[argument.name] = (
                    f"call:{producer_call}:{path}"
                    if producer_round == planned.index
                    else f"context:{position}:{path}"
                )
                continue
            key = json.dumps(argument.value, sort_keys=True, default=str)
            name = by_value.get(key)
            if name is None:
                name = argument.name
                suffix = 2
                while name in inputs:
                    name = f"{argument.name}_{suffix}"
                    suffix += 1
                by_value[key] = name
                schema = dict(properties.get(argument.name, {}))
                inputs[name] = {
                    "name": name,
                    "description": schema.get("description", humanize(argument.name)),
                    "json_schema": schema,
                    "value": argument.value,
                    "provenance": argument.provenance,
                    "used_by": [],
                }
            inputs[name]["used_by"].append(f"{call.index}.{argument.name}")
            bindings[argument.name] = f"input:{name}"
        decomposition.append(SubCall(index=call.index, tool=call.tool, bindings=bindings))
    target = registry.tool(planned.target)
    hidden = [call.tool for call in prerequisite_calls(planned)]
    parameters = {
        "type": "object",
        "properties": {name: item["json_schema"] for name, item in inputs.items()},
        "required": list(inputs),
    }
    return AdvancedTool(
        name=f"{planned.target}_with_prerequisites" if hidden else f"{planned.target}_directly",
        description=goal_phrase(target.description),
        parameters=parameters,
        inputs=[AdvancedToolInput(**item) for item in inputs.values()],
        output_of=planned.target,
        decomposition=decomposition,
        hidden_intermediates=sorted(set(hidden)),
        generator=generator,
    )


# ---------------------------------------------------------------------- query checks


def _identifying(value: Any) -> bool:
    """Whether a produced value would give away a tool's work if the user stated it.

    Numbers of two or more digits, and strings that look like ids, tokens or codes (digits,
    symbols, or long), do; an ordinary word a tool happens to return ("lines") does not.
    """
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return abs(value) >= 10
    text = str(value)
    return len(text) >= 4 and (
        any(ch.isdigit() for ch in text) or not text.replace(" ", "").isalpha() or len(text) >= 12
    )


def _strings_of(value: Any) -> set[str]:
    return {
        json.dumps(scalar, sort_keys=True, default=str)
        for scalar in scalars(value)
        if not isinstance(scalar, bool) and scalar is not None
    }


@dataclass(frozen=True)
class QueryViolation:
    """One rule a query breaks."""

    rule: str
    detail: str


def _keys_of(value: Any) -> set[str]:
    """The keys of every mapping in a value (file and folder names are keys of the state)."""
    if isinstance(value, dict):
        found = {json.dumps(str(key)) for key in value}
        for item in value.values():
            found |= _keys_of(item)
        return found
    if isinstance(value, list | tuple):
        return set().union(*(_keys_of(item) for item in value)) if value else set()
    return set()


def _without_counters(value: Any) -> Any:
    """A state without its id counters (`ticket_counter`, `order_counter`).

    A counter holds the id the next entity will get: the user cannot know it, so an id a call
    makes is produced even where it equals a counter's value.
    """
    if isinstance(value, dict):
        return {
            key: _without_counters(item) for key, item in value.items()
            if not str(key).endswith("counter")
        }
    if isinstance(value, list | tuple):
        return [_without_counters(item) for item in value]
    return value


def produced_values(plan: DialoguePlan, planned: PlannedRound) -> list[Any]:
    """Values only tools produced.

    Those passed between calls in the dialogue up to this round that are absent from the
    initial state (its values and its keys: a file's name is a key of its folder, and the user
    knows their own files) and from every statable input of the round.
    """
    known = _without_counters(plan.initial_config)
    visible = _strings_of(known) | _keys_of(known)
    free: set[str] = set()
    passed: list[Any] = []
    for earlier in plan.rounds[: planned.index + 1]:
        for call in earlier.executed_calls():
            for argument in call.arguments:
                if argument.provenance == "output":
                    passed.append(argument.value)
                elif earlier.index == planned.index:
                    free |= _strings_of(argument.value)
    produced = []
    for value in passed:
        for scalar in scalars(value):
            key = json.dumps(scalar, sort_keys=True, default=str)
            if key in visible or key in free or not _identifying(scalar):
                continue
            produced.append(scalar)
    return produced


def check_query(
    query: str,
    follow_up: str | None,
    plan: DialoguePlan,
    planned: PlannedRound,
    tool: AdvancedTool,
    omitted: Mapping[str, Any] | None,
    inferable: Mapping[str, str] | None = None,
) -> list[QueryViolation]:
    """Every rule a hard query breaks (empty when it passes).

    An input in `inferable` whose reason holds (`inferable_reason_holds`) counts as carried
    whether or not the query states it.
    """
    violations = _content_violations(query, follow_up, plan, planned, tool, omitted, inferable)
    if planned.variant in SPLIT_VARIANTS and not follow_up:
        violations.append(QueryViolation("missing_follow_up", "split round needs a follow-up"))
    return violations


def _content_violations(
    query: str,
    follow_up: str | None,
    plan: DialoguePlan,
    planned: PlannedRound,
    tool: AdvancedTool,
    omitted: Mapping[str, Any] | None,
    inferable: Mapping[str, str] | None = None,
) -> list[QueryViolation]:
    violations = []
    if not query.strip():
        return [QueryViolation("empty_query", "the query is empty")]
    omitted_names = set(omitted or {})
    spoken = f"{query}\n{follow_up or ''}"
    for item in tool.inputs:
        if item.name in omitted_names:
            continue
        if carries(spoken, item.value, item.json_schema):
            continue
        reason = (inferable or {}).get(item.name)
        if reason is not None and inferable_reason_holds(plan, planned, item, reason, spoken):
            continue
        detail = f"input {item.name} = {item.value!r} not stated"
        if reason is not None:
            detail += f" (its inferable reason {reason!r} does not hold)"
        violations.append(QueryViolation("missing_input", detail))
    lowered = query.lower()
    for name in tool.hidden_intermediates:
        for form in {name.lower(), humanize(name)}:
            if len(form) > 3 and form in lowered:
                violations.append(
                    QueryViolation("names_intermediate", f"names intermediate tool {name}")
                )
                break
    for value in produced_values(plan, planned):
        if mentions(query, value):
            violations.append(
                QueryViolation("leaks_produced_value", f"states tool-produced value {value!r}")
            )
            break
    for name, value in (omitted or {}).items():
        if mentions(query, value):
            violations.append(
                QueryViolation("omitted_value_present", f"states the omitted {name} = {value!r}")
            )
        if follow_up is None or not carries(follow_up, value):
            violations.append(
                QueryViolation("omitted_value_not_supplied", f"follow-up lacks {name}")
            )
    return violations


# ---------------------------------------------------------------------- inferable values

# Why a value may be left for the model to infer; each names the entity the query states.
INFERABLE_KINDS = ("earlier_turn", "earlier_result", "airport_of_city", "zipcode_of_city",
                   "user_id_of", "ticker_of_company", "ticket_titled", "tweet_saying")


def _earlier_outputs(plan: DialoguePlan, planned: PlannedRound) -> dict[str, int]:
    """Scalars the dialogue's earlier calls returned (the model saw them), by the last round."""
    found: dict[str, int] = {}
    for earlier in plan.rounds[: planned.index]:
        for call in earlier.executed_calls():
            for scalar in scalars(call.output):
                if isinstance(scalar, str | int) and not isinstance(scalar, bool):
                    found[json.dumps(scalar, default=str)] = earlier.index
    return found


def _earlier_inputs(plan: DialoguePlan, planned: PlannedRound) -> list[tuple[int, str, Any]]:
    """(round, parameter, value) of every value a user stated in an earlier round."""
    return [
        (earlier.index, argument.name, argument.value)
        for earlier in plan.rounds[: planned.index]
        for call in earlier.executed_calls()
        for argument in call.arguments
        if argument.provenance != "output"
    ]


def _user_ids(plan: DialoguePlan) -> dict[str, str]:
    """The message users of the plan's initial state, id -> name."""
    user_map = (plan.initial_config.get("MessageAPI") or {}).get("user_map") or {}
    return {str(user_id): str(name) for name, user_id in user_map.items()}


def _unique_texts(items: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """Ids mapped to their text, for the texts no other item shares (they name one thing)."""
    pairs = [(json.dumps(key, default=str), str(text)) for key, text in items
             if isinstance(text, str) and 3 <= len(text) <= 80]
    counts = Counter(text for _, text in pairs)
    return {key: text for key, text in pairs if counts[text] == 1}


def _state_texts(plan: DialoguePlan) -> tuple[dict[str, str], dict[str, str]]:
    """Tickets by their title and tweets by their text, where the text names one of them."""
    queue = (plan.initial_config.get("TicketAPI") or {}).get("ticket_queue") or []
    tickets = _unique_texts((t.get("id"), t.get("title")) for t in queue if isinstance(t, dict))
    posted = (plan.initial_config.get("TwitterAPI") or {}).get("tweets") or {}
    listed = posted.values() if isinstance(posted, dict) else posted
    tweets = _unique_texts((t.get("id"), t.get("content")) for t in listed if isinstance(t, dict))
    return tickets, tweets


def _lookup_entity(plan: DialoguePlan, value: Any) -> tuple[str, str] | None:
    """A state lookup that yields the value from something a user would say, if any."""
    if isinstance(value, int) and not isinstance(value, bool):
        tickets, tweets = _state_texts(plan)
        key = json.dumps(value)
        if key in tickets:
            return "ticket_titled", tickets[key]
        if key in tweets:
            return "tweet_saying", tweets[key]
        return None
    if not isinstance(value, str):
        return None
    tables = (
        ("airport_of_city", {code: city for city, code in AIRPORT_OF_CITY.items()}),
        ("zipcode_of_city", {zipcode: city for city, zipcode in ZIPCODE_OF_CITY.items()}),
        ("user_id_of", _user_ids(plan)),
        ("ticker_of_company", {symbol: name for name, symbol in SYMBOL_OF_COMPANY.items()}),
    )
    for kind, table in tables:
        if value in table:
            return kind, table[value]
    return None


def inferable_reason_holds(
    plan: DialoguePlan, planned: PlannedRound, item: AdvancedToolInput, reason: str, spoken: str
) -> bool:
    """Whether an input left out of a query can really be inferred for the stated reason.

    `earlier_turn: <round>`: a user stated the same value in that earlier round;
    `earlier_result: <round>`: a call of that earlier round returned it. The lookups
    (`airport_of_city: <city>` ...): the state maps the entity to the value and the query names
    the entity; a read-only round is compared call by call, so there a lookup (an extra call)
    is not allowed.
    """
    kind, _, entity = reason.partition(":")
    kind, entity = kind.strip(), entity.strip()
    if kind == "earlier_turn":
        return any(
            value == item.value and str(index) == entity
            for index, _, value in _earlier_inputs(plan, planned)
        )
    if kind == "earlier_result":
        key = json.dumps(item.value, default=str)
        return str(_earlier_outputs(plan, planned).get(key)) == entity
    if kind not in INFERABLE_KINDS or planned.read_only:
        return False
    found = _lookup_entity(plan, item.value)
    return found == (kind, entity) and carries(spoken, entity)


def inferable_candidates(
    plan: DialoguePlan,
    planned: PlannedRound,
    tool: AdvancedTool,
    registry: ToolRegistry,
    omitted: Mapping[str, Any] | None,
) -> dict[str, str]:
    """Inputs of a round a user could leave for the model to infer, with the reason."""
    earlier = _earlier_inputs(plan, planned)
    outputs = _earlier_outputs(plan, planned)
    found: dict[str, str] = {}
    for item in tool.inputs:
        if item.name in (omitted or {}) or not isinstance(item.value, str | int | float):
            continue
        if isinstance(item.value, bool) or not input_forms(item.value, item.json_schema):
            continue
        call_index, _, parameter = item.used_by[0].partition(".")
        call = next(c for c in planned.executed_calls() if c.index == int(call_index))
        value_type = registry.value_type(call.tool, parameter)
        lookup = _lookup_entity(plan, item.value)
        if lookup is not None and not planned.read_only:
            found[item.name] = f"{lookup[0]}: {lookup[1]}"
            continue
        if value_type not in NOUNS or value_type in {"number", "date", "money_amount"}:
            continue
        same_kind = {json.dumps(value, default=str) for _, name, value in earlier
                     if name == parameter}
        rounds = [index for index, _, value in earlier if value == item.value]
        # "that file" names one file only when the earlier turns stated no other.
        if rounds and len(same_kind) <= 1:
            found[item.name] = f"earlier_turn: {rounds[-1]}"
            continue
        produced_in = outputs.get(json.dumps(item.value, default=str))
        if produced_in is not None and value_type in _REFERABLE_RESULTS:
            found[item.name] = f"earlier_result: {produced_in}"
    return found


# Results a user refers back to by what they are ("the ticket from before").
_REFERABLE_RESULTS = frozenset({
    "ticket_id", "booking_id", "order_id", "tweet_id", "card_id", "insurance_id", "user_id",
    "ticker", "file_name", "directory_name", "file_or_directory", "username",
})


CANDIDATE_BOOST = 4.0


def choose_inferable(
    plan: DialoguePlan,
    planned: PlannedRound,
    tool: AdvancedTool,
    candidates: Mapping[str, str],
    share: float,
) -> dict[str, str]:
    """The candidates a round leaves inferable: about `share` of its statable inputs."""
    statable = [
        item for item in tool.inputs
        if not isinstance(item.value, bool) and any(
            input_forms(scalar, item.json_schema) for scalar in scalars(item.value))
    ]
    if not candidates or not statable or share <= 0:
        return {}
    seed = hashlib.sha256(f"inferable:{plan.plan_id}:{planned.index}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    # Few values have a reason to be inferred, so a candidate is left out more often than the
    # share itself (`CANDIDATE_BOOST` times), and never more than one value in three.
    chance = min(1.0, share * CANDIDATE_BOOST)
    limit = max(1, len(statable) // 3)
    chosen = [name for name in sorted(candidates) if rng.random() < chance][:limit]
    return {name: candidates[name] for name in chosen}


def omitted_input(tool: AdvancedTool, planned: PlannedRound) -> dict[str, Any] | None:
    """The advanced-tool input a missing-parameter round leaves out of its query."""
    if planned.variant != "missing_parameter" or not planned.missing_parameter:
        return None
    target = planned.target_call()
    wanted = f"{target.index}.{planned.missing_parameter}"
    statable = [
        item for item in tool.inputs
        if any(use.startswith(f"{target.index}.") for use in item.used_by)
        and isinstance(item.value, str | int | float) and input_forms(item.value, item.json_schema)
    ]
    # The sampler's choice when it can be stated; otherwise another statable input of the
    # target (a bool or a dict cannot be "left out" of a sentence in a checkable way).
    statable.sort(key=lambda item: wanted not in item.used_by)
    return {statable[0].name: statable[0].value} if statable else None


# ---------------------------------------------------------------------- the flow


class QueryConfig(BaseModel):
    """Phase II knobs."""

    model_config = ConfigDict(extra="forbid")

    inferable_share: float = Field(
        0.15, ge=0, le=1,
        description="how readily a query leaves a value for the model to infer: a value with a "
        "reason (an earlier turn stated or returned it; the state maps what the user says to "
        "it) is left out with probability min(1, 4 x this share); only values with a reason "
        "count, so the share of all values left out is lower (about 2-3% offline)",
    )
    judge_floor: int = Field(
        3, ge=1, le=5,
        description="with a model judge: a query scoring below this (1-5) on naturalness or "
        "faithfulness is dropped as `judge_floor`",
    )


@dataclass
class QueryOutcome:
    """Phase II output for one plan: accepted queries and the drops."""

    queries: list[HardQuery] = field(default_factory=list)
    drops: list[QueryDrop] = field(default_factory=list)


def _failure_rule(result: RoleResult[Any], mistake: str) -> str:
    """The drop rule of a role answer without a value: the model's mistake, or the run's."""
    if result.failure is None or is_model_mistake(result.failure):
        return mistake
    return record_status(result.failure)


def _role_failure(
    plan: DialoguePlan, planned: PlannedRound, result: RoleResult[Any], mistake: str
) -> QueryDrop:
    """The drop of a round whose role answer has no value."""
    return QueryDrop(plan_id=plan.plan_id, round_index=planned.index,
                     rule=_failure_rule(result, mistake), detail=result.error or "", query="")


def _left_inferable(
    allowed: Mapping[str, str], tool: AdvancedTool, query: str, follow_up: str | None
) -> dict[str, str]:
    """The allowed inferable inputs the writer really left out of its text."""
    spoken = f"{query}\n{follow_up or ''}"
    values = {item.name: item for item in tool.inputs}
    return {
        name: reason for name, reason in allowed.items()
        if not carries(spoken, values[name].value, values[name].json_schema)
    }


def _judge_task(key: str, kind: str, text: str, tool: AdvancedTool,
                inferable: Mapping[str, str], persona: Mapping[str, Any]) -> JudgeTask:
    return JudgeTask(
        key=f"{key}/judge/{kind}", kind=kind, text=text,
        facts={
            "goal": tool.description,
            "values": {item.name: item.value for item in tool.inputs},
            "inferable": dict(inferable),
        },
        persona=dict(persona),
    )


def goal_note(goal: Mapping[str, Any], index: int) -> str:
    """The plan's goal for a model writer: the reason and its tasks, round `index` marked."""
    if not goal:
        return ""
    tasks = goal.get("tasks", [])
    steps = "; ".join(
        f"{'>> ' if position == index else ''}{task.get('target', '')}"
        for position, task in enumerate(tasks)
    )
    return f"{goal.get('reason', '')} (tasks: {steps})"


def _query_flow(
    plan: DialoguePlan, registry: ToolRegistry, roles: RoleSet, config: QueryConfig
) -> Flow:
    outcome = QueryOutcome()
    earlier: list[str] = []
    earlier_did = ""
    generators = roles.generators()
    goal = lambda name: goal_phrase(registry.tool(name).description)  # noqa: E731
    for planned in plan.rounds:
        tool = abstract_round(plan, planned, registry, generators["tool_abstractor"])
        key = role_key(plan.plan_id, planned.index)
        trace = [call.call for call in planned.executed_calls()]
        naming = yield "name_tools", AbstractionTask(
            key, tool, registry.tool(planned.target).description, trace
        )
        tally = RoleTally()
        tally.add(naming)
        if naming.value is None:
            outcome.drops.append(_role_failure(plan, planned, naming, "abstraction_failed"))
            break
        tool = tool.model_copy(
            update={"name": naming.value.name, "description": naming.value.description}
        )
        omitted = omitted_input(tool, planned)
        allowed = choose_inferable(
            plan, planned, tool, inferable_candidates(plan, planned, tool, registry, omitted),
            config.inferable_share,
        )
        produced = produced_values(plan, planned)
        draft = yield "write_queries", QueryTask(
            key, tool, planned, omitted, list(earlier), inferable=allowed,
            persona=dict(plan.persona), produced=produced, earlier_did=earlier_did,
            plan_id=plan.plan_id,
            builds_on=bool(earlier_rounds_used(plan.rounds, planned.index)),
            user_goal=goal_note(plan.goal, planned.index),
        )
        tally.add(draft)
        if draft.value is None:
            outcome.drops.append(_role_failure(plan, planned, draft, "writer_failed"))
            break
        left = _left_inferable(allowed, tool, draft.value.query, draft.value.follow_up)
        violations = check_query(
            draft.value.query, draft.value.follow_up, plan, planned, tool, omitted, left
        )
        scores = None
        if not violations and roles.judging:
            spoken = "\n".join(t for t in (draft.value.query, draft.value.follow_up) if t)
            verdict = yield "judge", _judge_task(key, "query", spoken, tool, left, plan.persona)
            tally.add(verdict)
            if verdict.value is not None:
                scores = verdict.value.model_dump()
                low = min(verdict.value.naturalness, verdict.value.faithfulness)
                if low < config.judge_floor:
                    violations = [QueryViolation(
                        "judge_floor",
                        f"judge scored {low} < {config.judge_floor}: {verdict.value.reason}",
                    )]
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
                inferable=left or None,
                judge=scores,
                generator=draft.generator,
                prompt_version=PHRASING_VERSION if draft.generator == SCRIPTED
                else prompts.PROMPT_VERSIONS["query_writer"],
                model_calls=tally.calls,
                tokens=tally.tokens,
            )
        )
        earlier.append(draft.value.query)
        earlier_did = outcome_phrase(
            planned, tool, goal, registry.value_type,
            frozenset(json.dumps(v, sort_keys=True, default=str) for v in produced),
        )
    return outcome


def synthesize_queries(
    plans: Sequence[DialoguePlan],
    registry: ToolRegistry,
    roles: RoleSet,
    config: QueryConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[QueryOutcome]:
    """Phase II for every plan (`progress(done, total)` over plans)."""
    config = config or QueryConfig()
    return drive([_query_flow(plan, registry, roles, config) for plan in plans], roles, progress)


# ---------------------------------------------------------------------- checks and the phase


QUERY_RULES_CHECK = CheckSpec(
    "queries_obey_rules",
    "Every kept query carries every input value (stated, or left inferable with a reason that "
    "holds), names no intermediate tool, states no tool-produced value, really omits what it "
    "claims to omit, and has its follow-up if its round is split.",
    blocking=True,
)
MAX_DROP_SHARE = 0.2
DROP_SHARE_CHECK = CheckSpec(
    "query_drop_share",
    f"Share of rounds whose query was dropped by a rule stays below {MAX_DROP_SHARE:.0%}.",
    severity="warn",
)
QUERY_CHECKS = (QUERY_RULES_CHECK, DROP_SHARE_CHECK)


def query_violations(
    plans: Sequence[DialoguePlan], queries: Sequence[HardQuery]
) -> dict[str, list[str]]:
    """Kept queries that break a rule, re-checked against their plans, with the rules broken."""
    by_id = {plan.plan_id: plan for plan in plans}
    violations = {}
    for query in queries:
        plan = by_id[query.plan_id]
        found = check_query(query.query, query.follow_up, plan, plan.rounds[query.round_index],
                            query.advanced_tool, query.omitted, query.inferable)
        if found:
            violations[query.query_id] = [f"{v.rule}: {v.detail}" for v in found]
    return violations


def judge_queries(
    plans: Sequence[DialoguePlan], queries: list[HardQuery], drops: Sequence[QueryDrop]
) -> PhaseResult[list[HardQuery]]:
    """The kept queries with their check verdicts, and the drops per rule."""
    violations = query_violations(plans, queries)
    rounds = sum(len(plan.rounds) for plan in plans)
    dropped_rounds = len({(drop.plan_id, drop.round_index) for drop in drops})
    drop_share = dropped_rounds / rounds if rounds else 0.0
    return PhaseResult(
        value=queries,
        verdicts=[
            QUERY_RULES_CHECK.verdict(
                not violations, queries=len(queries), violating=first_items(violations)
            ),
            DROP_SHARE_CHECK.verdict(
                drop_share <= MAX_DROP_SHARE, rounds=rounds, dropped=dropped_rounds,
                share=round(drop_share, 4), threshold=MAX_DROP_SHARE,
            ),
        ],
        metrics={
            "rounds_in_plans": rounds,
            "drops_per_rule": dict(Counter(drop.rule for drop in drops)),
            "rounds_dropped": dropped_rounds,
            "variants": dict(Counter(query.variant for query in queries)),
            "inferable_share": inferable_share(queries),
            "judged_queries": sum(query.judge is not None for query in queries),
        },
        tables={"preview": [
            {"variant": q.variant, "target": q.target, "query": q.query[:120]} for q in queries[:8]
        ]},
    )


def inferable_share(queries: Sequence[HardQuery]) -> float:
    """The share of the kept queries' statable inputs that they left for the model to infer."""
    total = sum(
        1 for query in queries for item in query.advanced_tool.inputs
        if item.name not in (query.omitted or {})
        and any(input_forms(s, item.json_schema) for s in scalars(item.value))
    )
    left = sum(len(query.inferable or {}) for query in queries)
    return round(left / total, 4) if total else 0.0


def build_queries(
    plans: Sequence[DialoguePlan],
    registry: ToolRegistry,
    roles: RoleSet,
    config: QueryConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseResult[list[HardQuery]]:
    """Phase II for every plan: the kept queries, judged, and what the roles cost."""
    outcomes = synthesize_queries(plans, registry, roles, config, progress)
    result = judge_queries(
        plans,
        [query for outcome in outcomes for query in outcome.queries],
        [drop for outcome in outcomes for drop in outcome.drops],
    )
    result.metrics["generators"] = roles.generators()
    result.metrics["phrasing_version"] = PHRASING_VERSION
    result.metrics["model_calls"] = roles.accounting_metadata()
    return result
