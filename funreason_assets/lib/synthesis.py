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
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from funreason_assets.lib import prompts
from funreason_assets.lib.checks import CheckSpec, PhaseResult, first_items
from funreason_assets.lib.phrasing import goal_phrase, humanize
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
from funreason_assets.lib.roles.tasks import AbstractionTask, QueryTask, role_key


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


def _scalars(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)
    else:
        yield value


def value_forms(value: Any) -> list[str]:
    """Ways a scalar value may be written in a query (lower case); empty when not statable."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [str(value), f"{value:,}"]
    if isinstance(value, float):
        forms = {repr(value), f"{value:g}", f"{value:,}"}
        if value.is_integer():
            forms.add(str(int(value)))
        return sorted(forms)
    text = str(value).strip().lower()
    return [text] if text else []


def carries(query: str, value: Any) -> bool:
    """Whether every statable scalar of a value appears in the query."""
    lowered = query.lower()
    for scalar in _scalars(value):
        forms = value_forms(scalar)
        if forms and not any(form in lowered for form in forms):
            return False
    return True


def _mentions(query: str, value: Any) -> bool:
    """Whether a value is stated as a whole token ("12" is not in "2012", "on" not in "one")."""
    lowered = query.lower()
    for form in value_forms(value):
        if form and re.search(rf"(?<![\w.]){re.escape(form)}(?![\w]|\.\d)", lowered):
            return True
    return False


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
        for scalar in _scalars(value)
        if not isinstance(scalar, bool) and scalar is not None
    }


@dataclass(frozen=True)
class QueryViolation:
    """One rule a query breaks."""

    rule: str
    detail: str


def produced_values(plan: DialoguePlan, planned: PlannedRound) -> list[Any]:
    """Values only tools produced.

    Those passed between calls in the dialogue up to this round that are absent from the
    initial state and from every statable input of the round.
    """
    visible = _strings_of(plan.initial_config)
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
        for scalar in _scalars(value):
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
) -> list[QueryViolation]:
    """Every rule a hard query breaks (empty when it passes)."""
    violations = _content_violations(query, follow_up, plan, planned, tool, omitted)
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
) -> list[QueryViolation]:
    violations = []
    if not query.strip():
        return [QueryViolation("empty_query", "the query is empty")]
    omitted_names = set(omitted or {})
    spoken = f"{query}\n{follow_up or ''}"
    for item in tool.inputs:
        if item.name in omitted_names:
            continue
        if not carries(spoken, item.value):
            violations.append(
                QueryViolation("missing_input", f"input {item.name} = {item.value!r} not stated")
            )
    lowered = query.lower()
    for name in tool.hidden_intermediates:
        for form in {name.lower(), humanize(name)}:
            if len(form) > 3 and form in lowered:
                violations.append(
                    QueryViolation("names_intermediate", f"names intermediate tool {name}")
                )
                break
    for value in produced_values(plan, planned):
        if _mentions(query, value):
            violations.append(
                QueryViolation("leaks_produced_value", f"states tool-produced value {value!r}")
            )
            break
    for name, value in (omitted or {}).items():
        if _mentions(query, value):
            violations.append(
                QueryViolation("omitted_value_present", f"states the omitted {name} = {value!r}")
            )
        if follow_up is None or not carries(follow_up, value):
            violations.append(
                QueryViolation("omitted_value_not_supplied", f"follow-up lacks {name}")
            )
    return violations


def omitted_input(tool: AdvancedTool, planned: PlannedRound) -> dict[str, Any] | None:
    """The advanced-tool input a missing-parameter round leaves out of its query."""
    if planned.variant != "missing_parameter" or not planned.missing_parameter:
        return None
    target = planned.target_call()
    wanted = f"{target.index}.{planned.missing_parameter}"
    statable = [
        item for item in tool.inputs
        if any(use.startswith(f"{target.index}.") for use in item.used_by)
        and isinstance(item.value, str | int | float) and value_forms(item.value)
    ]
    # The sampler's choice when it can be stated; otherwise another statable input of the
    # target (a bool or a dict cannot be "left out" of a sentence in a checkable way).
    statable.sort(key=lambda item: wanted not in item.used_by)
    return {statable[0].name: statable[0].value} if statable else None


# ---------------------------------------------------------------------- the flow


@dataclass
class QueryOutcome:
    """Phase II output for one plan: accepted queries and the drops."""

    queries: list[HardQuery] = field(default_factory=list)
    drops: list[QueryDrop] = field(default_factory=list)


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
        tally = RoleTally()
        tally.add(naming)
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
        tally.add(draft)
        if draft.value is None:
            outcome.drops.append(
                QueryDrop(plan_id=plan.plan_id, round_index=planned.index,
                          rule="writer_failed", detail=draft.error or "", query="")
            )
            break
        violations = check_query(
            draft.value.query, draft.value.follow_up, plan, planned, tool, omitted
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
                model_calls=tally.calls,
                tokens=tally.tokens,
            )
        )
        earlier.append(draft.value.query)
    return outcome


def synthesize_queries(
    plans: Sequence[DialoguePlan], registry: ToolRegistry, roles: RoleSet
) -> list[QueryOutcome]:
    """Phase II for every plan."""
    return drive([_query_flow(plan, registry, roles) for plan in plans], roles)


# ---------------------------------------------------------------------- checks and the phase


QUERY_RULES_CHECK = CheckSpec(
    "queries_obey_rules",
    "Every kept query carries every input value, names no intermediate tool, states no "
    "tool-produced value, really omits what it claims to omit, and has its follow-up if its "
    "round is split.",
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
                            query.advanced_tool, query.omitted)
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
        },
        tables={"preview": [
            {"variant": q.variant, "target": q.target, "query": q.query[:120]} for q in queries[:8]
        ]},
    )


def build_queries(
    plans: Sequence[DialoguePlan], registry: ToolRegistry, roles: RoleSet
) -> PhaseResult[list[HardQuery]]:
    """Phase II for every plan: the kept queries, judged, and what the roles cost."""
    outcomes = synthesize_queries(plans, registry, roles)
    result = judge_queries(
        plans,
        [query for outcome in outcomes for query in outcome.queries],
        [drop for outcome in outcomes for drop in outcome.drops],
    )
    result.metrics["generators"] = roles.generators()
    result.metrics["model_calls"] = roles.accounting_metadata()
    return result
