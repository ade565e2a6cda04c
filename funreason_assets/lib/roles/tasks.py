"""What the phases ask of the model roles: typed tasks and answers, and the one role interface.

A phase builds tasks, hands a batch to a `RoleBackend` and gets one `RoleResult` per task back,
in order; the scripted and the model-backed roles both satisfy the protocol, so a phase never
knows which one answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from funreason_assets.lib import prompts
from funreason_assets.lib.records import AdvancedTool, FailureKind, PlannedRound, TurnMode

T = TypeVar("T", bound=BaseModel)


@dataclass
class RoleResult(Generic[T]):
    """A role's answer to one task, or why there is none."""

    value: T | None
    generator: str
    error: str | None = None
    # Why there is no value (`llm.failures.ModelFailureKind`); None when there is one.
    failure: str | None = None
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
    """Write the hard query of one round.

    Attributes:
        inferable: Inputs the query may leave for the model to infer, with the reason
            (`earlier_turn: ...`, `airport_of_city: <city>`, ...).
        persona: The user the query speaks for (may be empty).
        produced: Values only tools produced: a query never states them.
        earlier_did: The previous round's outcome in words, for the scripted writer.
        plan_id: The plan the round belongs to (seeds a persona-less voice).
        builds_on: Whether the round's calls take a value an earlier round passed or returned
            (only then does the query tie back to what was just done).
        user_goal: The dialogue's hidden goal and this round's place in it, for model writers.
    """

    key: str
    tool: AdvancedTool
    planned: PlannedRound
    omitted: dict[str, Any] | None
    earlier_queries: list[str]
    inferable: dict[str, str] = field(default_factory=dict)
    persona: dict[str, Any] = field(default_factory=dict)
    produced: list[Any] = field(default_factory=list)
    earlier_did: str = ""
    plan_id: str = ""
    builds_on: bool = True
    user_goal: str = ""


@dataclass
class ReasonerTask:
    """One step of the reasoner's loop for one turn."""

    key: str
    mode: TurnMode  # act: solve; ask: a value is missing; decline: the tool is missing
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
    failure_kind: FailureKind
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


@dataclass
class JudgeTask:
    """Score one user query or closing reply for naturalness and faithfulness.

    Attributes:
        kind: `query` (a user turn) or `reply` (a closing reply).
        text: The text judged.
        facts: What the text must be faithful to: the request's values and goal for a query,
            the request and the tool results for a reply.
        persona: The user the text speaks for or to (may be empty).
    """

    key: str
    kind: str
    text: str
    facts: dict[str, Any]
    persona: dict[str, Any] = field(default_factory=dict)


class RoleBackend(Protocol):
    """One implementation of every role: a batch of tasks in, one result per task out, in order."""

    def name_tools(self, tasks: Sequence[AbstractionTask]) -> list[RoleResult[prompts.ToolNaming]]:
        """Tool abstractor: name and describe each advanced tool."""
        ...

    def write_queries(self, tasks: Sequence[QueryTask]) -> list[RoleResult[prompts.QueryDraft]]:
        """Query writer: write each round's hard query."""
        ...

    def reason(self, tasks: Sequence[ReasonerTask]) -> list[RoleResult[prompts.ReasonerStep]]:
        """Reasoner: take one step per task."""
        ...

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[RoleResult[prompts.Critique]]:
        """Critic: explain each failed attempt."""
        ...

    def reply(self, tasks: Sequence[ReplyTask]) -> list[RoleResult[prompts.ClosingReply]]:
        """Replier: write each turn's closing reply."""
        ...

    def judge(self, tasks: Sequence[JudgeTask]) -> list[RoleResult[prompts.JudgeScores]]:
        """Judge: score each query or reply (1-5) for naturalness and faithfulness."""
        ...


def role_key(*parts: Any) -> str:
    """A stable task key from its parts."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def tool_openai_specs(tools: Sequence[Any], hidden: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Tool specs shown to the reasoner (OpenAI function format), minus hidden ones."""
    return [tool.openai_tool() for tool in tools if tool.name not in set(hidden)]
