"""The hidden user goal of a dialogue: a reason and tasks that belong together.

Before any round is sampled, the directed sampler plans what the user is out to do: a reason in
their words ("I'm flying to Denver next week") and an ordered list of tasks, one per round, each
a target tool of the API graph. Tasks after the first are drawn, most of the time, among the
tools that act on what an earlier task made or found: the graph's data-flow and prerequisite
edges out of it (cancel the booking just made, resolve the ticket just opened), or the tools
that take the same kind of entity (check a stock, then buy it). Targets are weighted by the
depth of their unmet prerequisite chain (METHOD.md, Eq. 1 and 2) and by how rarely they were
targeted, so deep tools are oversampled and every tool is reached.

The goal is stored with the plan, its tasks rewritten to what the walk realized: a task whose
target could not be reached from the state is replaced by another, and what each task builds
on is read off the values its calls took from earlier rounds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Why the user is doing this, by the goal's key class; `{...}` are persona fields.
REASONS: dict[str, tuple[str, ...]] = {
    "TravelAPI": (
        "I'm planning a trip to {travel_city} and want the flight and the paperwork sorted",
        "I have to fly out to {travel_city} for work and need the travel side handled",
        "I'm organizing a visit to {travel_city} and want to get my booking in order",
        "my plans for {travel_city} changed and I need to sort out my travel",
    ),
    "TradingBot": (
        "I'm rebalancing my portfolio toward {sector}",
        "I want to act on what the market is doing in {sector} today",
        "I'm keeping an eye on my {sector} positions and adjusting them",
        "I'm putting some money to work in {sector} stocks",
    ),
    "TicketAPI": (
        "I'm chasing down a problem with {project} through the support desk",
        "I need to get my support tickets about {project} in order",
        "something broke on {project} and I'm working it through the ticket system",
    ),
    "GorillaFileSystem": (
        "I'm tidying up my {project} files before a review",
        "I'm preparing the {project} workspace to hand it over",
        "I'm pulling together notes on {topic} from my files",
        "I'm reorganizing the {project} folder so the team can find things",
    ),
    "VehicleControlAPI": (
        "I'm getting the car ready to drive to {nearby_city}",
        "I'm about to head out to {nearby_city} and want the car sorted first",
        "I'm checking the car over before a drive to {nearby_city}",
    ),
    "TwitterAPI": (
        "I'm catching up on my account and the conversation about {topic}",
        "I want to get the word out about {topic}",
        "I'm managing my posts about {topic} today",
    ),
    "MessageAPI": (
        "I need to get in touch with {friend} about {topic}",
        "I'm sorting out my messages with {friend}",
        "I'm coordinating with {friend} on {project}",
    ),
}
_GENERIC_REASONS = (
    "I have a few related things to get done with {key}",
    "I'm working through a task with {key} step by step",
)


class GoalConfig(BaseModel):
    """How the directed sampler plans a dialogue's goal."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="Plan a goal before the rounds (off: targets drawn per round)."
    )
    build_on_share: float = Field(
        default=0.9, ge=0, le=1,
        description="Chance that a task after the first acts on what an earlier task made or "
        "found (when the graph offers such a tool).",
    )
    companion_share: float = Field(
        default=0.2, ge=0, le=1,
        description="Chance that a task after the first uses a companion class of the goal "
        "(tell a friend about the booking) in a multi-class scenario.",
    )
    earn_share: float = Field(
        default=0.95, ge=0, le=1,
        description="Share of rounds whose target takes the values a tool produces from calls "
        "of its own round (the chain is earned), not from earlier rounds or the state.",
    )


class GoalTask(BaseModel):
    """One task of a goal: a round's target and the earlier tasks whose results it uses."""

    model_config = ConfigDict(frozen=True)

    target: str
    class_name: str
    builds_on: list[int] = Field(
        default_factory=list,
        description="Indices of earlier tasks whose calls made or found a value this task's "
        "calls take (the booking it cancels, the file it moves)",
    )
    planned: str = Field(
        default="", description="The target planned for this task when another was realized"
    )


class DialogueGoal(BaseModel):
    """The user's hidden goal: the reason, the key class, and the tasks in order."""

    model_config = ConfigDict(frozen=True)

    key_class: str
    reason: str
    tasks: list[GoalTask]

    def describe(self) -> str:
        """The goal in a few lines (lineage, model prompts)."""
        lines = [f"Goal: {self.reason}."]
        for index, task in enumerate(self.tasks):
            after = (
                f" (uses what task {', '.join(str(i + 1) for i in task.builds_on)} produced)"
                if task.builds_on else ""
            )
            lines.append(f"{index + 1}. {task.target}{after}")
        return "\n".join(lines)


def goal_reason(key_class: str, persona: Mapping[str, Any], rng: random.Random) -> str:
    """Why the user is doing this, in their words, filled from their persona."""
    options = REASONS.get(key_class, _GENERIC_REASONS)
    friends = persona.get("friends") or [{}]
    fields = {
        "travel_city": (persona.get("travel_cities") or ["the coast"])[0],
        "nearby_city": (persona.get("nearby_cities") or ["town"])[0],
        "sector": (persona.get("stock_sectors") or ["tech"])[0].lower(),
        "project": persona.get("project") or "my project",
        "topic": (persona.get("topics") or ["work"])[0],
        "friend": friends[0].get("first_name", "a friend") if friends else "a friend",
        "key": key_class,
    }
    return rng.choice(options).format(**fields)


class GoalPlanner:
    """Plans goals over one API graph; the weights come from the sampler (coverage, depth)."""

    def __init__(
        self,
        graph_successors: Callable[[str], Sequence[str]],
        producers: Mapping[str, frozenset[str]],
        class_of: Mapping[str, str],
        config: GoalConfig,
    ):
        """Create a planner.

        Args:
            graph_successors: The tools a tool's results or effects feed (graph edges out).
            producers: Every tool's producers (the data sources of its parameters).
            class_of: Every tool's class.
            config: The goal knobs.
        """
        self.successors = graph_successors
        self.producers = producers
        self.class_of = class_of
        self.config = config
        self._builds: dict[str, frozenset[str]] = {}

    def builds_on(self, tool: str) -> frozenset[str]:
        """Tools that act on what `tool` made or found.

        The graph's successors of the tool and theirs (the booking, then its invoice, then its
        cancellation), and tools taking an entity from the same producers (get the stock's
        price, then buy it).
        """
        cached = self._builds.get(tool)
        if cached is None:
            found = set(self.successors(tool))
            for successor in list(found):
                found.update(self.successors(successor))
            mine = self.producers.get(tool, frozenset())
            if mine:
                found.update(
                    other for other, theirs in self.producers.items() if theirs & mine
                )
            found.discard(tool)
            cached = self._builds[tool] = frozenset(
                name for name in found if self.class_of.get(name) == self.class_of.get(tool)
            )
        return cached

    def plan(
        self,
        rng: random.Random,
        key_class: str,
        tools: Sequence[str],
        n_tasks: int,
        weight: Callable[[str], float],
        persona: Mapping[str, Any],
        wanted: Callable[[str], bool] = lambda tool: False,
        first: str | None = None,
    ) -> DialogueGoal:
        """Plan a goal of `n_tasks` tasks on the dialogue's tools.

        Args:
            rng: The goal's generator.
            key_class: The class the goal is about (its first task's).
            tools: The dialogue's tools (of every involved class).
            n_tasks: Tasks to plan (the dialogue's rounds).
            weight: A tool's weight as a target (coverage and unmet depth).
            persona: The user, for the reason.
            wanted: Whether a tool is still below its target quota: some later tasks go to
                such a tool when the dialogue has one, so every tool is a target.
            first: The first task's target, when the caller decides it (a quota top-up).
        """
        config = self.config
        own = [tool for tool in tools if self.class_of.get(tool) == key_class]
        others = [tool for tool in tools if self.class_of.get(tool) != key_class]
        tasks: list[GoalTask] = []
        chosen: list[str] = []
        for index in range(n_tasks):
            # A task may come back (a second message, another file to move), never twice in a
            # row.
            previous = chosen[-1:]
            related = sorted(
                {name for earlier in chosen for name in self.builds_on(earlier)}
                & set(tools)
                - set(previous)
            )
            missing = [tool for tool in tools if tool not in chosen and wanted(tool)]
            if index == 0:
                pool = [first] if first is not None else own or list(tools)
            elif missing and rng.random() < _QUOTA_TASK_SHARE:
                pool = missing
            elif others and rng.random() < config.companion_share:
                pool = others
            elif related and rng.random() < config.build_on_share:
                pool = related
            else:
                pool = [tool for tool in own if tool not in previous] or own or list(tools)
            target = _weighted(
                rng, pool, lambda tool: weight(tool) * (_AGAIN if tool in chosen else 1.0)
            )
            chosen.append(target)
            builds = [
                position for position, earlier in enumerate(chosen[:-1])
                if target in self.builds_on(earlier)
            ]
            tasks.append(GoalTask(
                target=target, class_name=self.class_of.get(target, ""), builds_on=builds
            ))
        reason = goal_reason(key_class, persona, rng)
        return DialogueGoal(key_class=key_class, reason=reason, tasks=tasks)


# Share of later tasks given to a tool still below its target quota (when the dialogue has one).
_QUOTA_TASK_SHARE = 0.5
# Weight factor of a tool an earlier task of the goal already targets.
_AGAIN = 0.5


def _weighted(rng: random.Random, pool: Sequence[str], weight: Callable[[str], float]) -> str:
    weights = [max(weight(tool), 1e-9) for tool in pool]
    return rng.choices(list(pool), weights=weights)[0]


def realized_goal(
    goal: DialogueGoal, targets: Sequence[str], uses: Sequence[set[int]],
    class_of: Mapping[str, str],
) -> DialogueGoal:
    """The goal as the walk realized it: one task per kept round.

    Args:
        goal: The planned goal.
        targets: Each kept round's target.
        uses: Each kept round's earlier rounds whose values its calls took.
        class_of: Every tool's class.
    """
    tasks = []
    for index, target in enumerate(targets):
        planned = goal.tasks[index].target if index < len(goal.tasks) else ""
        tasks.append(GoalTask(
            target=target,
            class_name=class_of.get(target, ""),
            builds_on=sorted(uses[index]),
            planned="" if planned == target else planned,
        ))
    return goal.model_copy(update={"tasks": tasks})
