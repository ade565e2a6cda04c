"""Phase II: abstract a round's trace into an advanced tool, and check hard queries.

The machine-readable part of the advanced tool (inputs, output, decomposition) is computed from
the executed trace, never asked of a model: the free values of the trace (arguments the user can
state, or entities present in the state) become its inputs, values produced by calls stay
hidden, and the decomposition records where every argument of every sub-call comes from. The
tool abstractor role only names the tool and states its user-level goal.

Query checks are computed too (METHOD.md Phase II): a hard query carries every input value,
names no intermediate tool, contains no value that only a tool produced, and a
missing-parameter query really omits the value it claims to omit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from funreason_assets.lib.environments import ToolRegistry
from funreason_assets.lib.records import (
    AdvancedTool,
    AdvancedToolInput,
    DialoguePlan,
    ExecutedCall,
    PlannedRound,
    SubCall,
)
from funreason_assets.lib.sampler import target_call

_TOOL_DESCRIPTION = re.compile(r"Tool description:\s*(.*)", re.DOTALL)


def goal_phrase(description: str) -> str:
    """The first sentence of a tool description as a lower-case verb phrase."""
    match = _TOOL_DESCRIPTION.search(description)
    text = (match.group(1) if match else description).strip()
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".!? ")
    if not sentence:
        return "do this"
    first, _, rest = sentence.partition(" ")
    return " ".join(part for part in (_imperative(first), rest) if part)


def _imperative(verb: str) -> str:
    """`Retrieves` -> `retrieve`: docs describe tools in the third person, users ask."""
    word = verb.lower()
    if not word.isalpha() or len(word) < 4:
        return word
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def humanize(name: str) -> str:
    """A parameter or tool name as words (`file_name` -> `file name`, `userId` -> `user id`)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return re.sub(r"\s+", " ", spaced).strip().lower()


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
    target = target_call(planned)
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


def describe_value(value: Any) -> str:
    """A value as a user would write it in a sentence."""
    if isinstance(value, str):
        return f"'{value}'" if " " in value or not value else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(describe_value(item) for item in value) or "nothing"
    if isinstance(value, dict):
        return ", ".join(f"{humanize(k)} {describe_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
