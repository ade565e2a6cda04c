"""How a dialogue holds together: rounds that build on earlier ones, classes it stays in.

A round *uses* an earlier round when one of its calls takes a value that the earlier round's
calls passed or returned: an argument bound from that round's output (the booking id it
cancels), or the same meaningful value again (the file it wrote, the city it flew to).
Booleans, documented options, small numbers and credentials do not count: logging in again
with the same password, or asking for economy class twice, is not building on anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from funreason_assets.lib.records import DialoguePlan, ExecutedCall, PlannedRound

# Value types whose repetition says nothing about a dialogue's coherence.
_NOT_REUSE_TYPES = frozenset(
    {"enum", "unit", "boolean_text", "username", "password", "access_token", "client_id",
     "client_secret", "refresh_token", "person_name", "first_name", "last_name"}
)
# Leaves read from one result: a long-context listing holds thousands.
_MAX_LEAVES = 400


def _meaningful(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return abs(value) >= 10
    if isinstance(value, str):
        return len(value.strip()) >= 3
    return False


def _leaves(value: Any, budget: list[int]) -> Iterator[Any]:
    if budget[0] <= 0:
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item, budget)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item, budget)
    elif _meaningful(value):
        budget[0] -= 1
        yield value


def _key(value: Any) -> str:
    return f"{type(value).__name__}:{value}" if not isinstance(value, int | float) else (
        f"num:{float(value)}"
    )


def meaningful_values(planned: PlannedRound) -> list[Any]:
    """The meaningful values a round's calls passed (of types that count) or returned."""
    found: list[Any] = []
    for call in planned.executed_calls():
        for argument in call.arguments:
            if argument.value_type not in _NOT_REUSE_TYPES:
                found.extend(_leaves(argument.value, [_MAX_LEAVES]))
        found.extend(_leaves(call.output, [_MAX_LEAVES]))
    return found


def round_values(planned: PlannedRound) -> set[str]:
    """The meaningful values a round's calls passed or returned, as comparable keys."""
    return {_key(value) for value in meaningful_values(planned)}


def _taken(call: ExecutedCall) -> Iterable[tuple[str, Any, str]]:
    for argument in call.arguments:
        if argument.value_type in _NOT_REUSE_TYPES:
            continue
        yield argument.provenance, argument.value, argument.source


def earlier_rounds_used(rounds: Sequence[PlannedRound], index: int) -> set[int]:
    """The earlier rounds whose values round `index` takes (see the module docstring)."""
    return _used(rounds[index], index, [round_values(rounds[j]) for j in range(index)])


def rounds_used(rounds: Sequence[PlannedRound]) -> list[set[int]]:
    """`earlier_rounds_used` of every round, each round's values computed once."""
    values = [round_values(planned) for planned in rounds]
    return [_used(planned, index, values[:index]) for index, planned in enumerate(rounds)]


def _used(planned: PlannedRound, index: int, earlier: Sequence[set[str]]) -> set[int]:
    used: set[int] = set()
    for call in planned.executed_calls():
        for provenance, value, source in _taken(call):
            if provenance == "output":
                producer = int(source.split(":", 1)[0].split(".")[0])
                if producer < index:
                    used.add(producer)
                    continue
            keys = {_key(v) for v in _leaves(value, [_MAX_LEAVES])}
            used.update(j for j, values in enumerate(earlier) if keys & values)
    return used


def cohesion(plans: Sequence[DialoguePlan]) -> dict[str, Any]:
    """Cross-turn reuse and class hopping of a set of plans.

    Returns:
        `turns_after_first`, `reuse_share` (turns after the first that use an earlier turn),
        `dialogues`, `single_class_share` (dialogues whose calls all belong to one class) and
        `goal_share` (dialogues that carry a planned goal).
    """
    later = reused = single = with_goal = 0
    for plan in plans:
        for used in rounds_used(plan.rounds)[1:]:
            later += 1
            reused += bool(used)
        classes = {
            call.class_name for planned in plan.rounds for call in planned.executed_calls()
        }
        single += len(classes) <= 1
        with_goal += bool(plan.goal)
    return {
        "turns_after_first": later,
        "reuse_share": round(reused / later, 4) if later else 0.0,
        "dialogues": len(plans),
        "single_class_share": round(single / len(plans), 4) if plans else 0.0,
        "goal_share": round(with_goal / len(plans), 4) if plans else 0.0,
    }
