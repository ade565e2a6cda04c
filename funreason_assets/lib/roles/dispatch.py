"""Which implementation plays each role, and the driver that batches the phases' role tasks.

`RoleSet` picks, per role, the scripted or the model-backed implementation (a config may mix
them). Each phase writes one generator flow per dialogue that yields `(role, task)` and
receives the `RoleResult`, so its logic reads top to bottom; `drive` runs every flow in flight
together and sends each role one batch per round trip: with a model, a batch is one concurrent
`complete_many`; scripted, it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from funreason_assets.lib import prompts
from funreason_assets.lib.llm.client import ModelClient
from funreason_assets.lib.llm.settings import ModelSettings
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.model import ModelRoles
from funreason_assets.lib.roles.scripted import ScriptedRoles
from funreason_assets.lib.roles.tasks import (
    AbstractionTask,
    CritiqueTask,
    JudgeTask,
    QueryTask,
    ReasonerTask,
    ReplyTask,
    RoleBackend,
    RoleResult,
)


class RoleSet:
    """The role implementations of a run: per role, scripted or model-backed."""

    def __init__(
        self,
        settings: ModelSettings,
        registry: ToolRegistry,
        client: ModelClient | None = None,
        slip_rate: float = 0.15,
        seed: int = 0,
    ) -> None:
        self.settings = settings
        self.scripted = ScriptedRoles(registry, slip_rate=slip_rate, seed=seed)
        self.models = ModelRoles(client) if client is not None else None
        if self.models is None and not settings.all_scripted:
            raise ValueError("a model is configured for some role but no client was given")

    def _pick(self, role: str) -> RoleBackend:
        if self.settings.role(role).scripted or self.models is None:
            return self.scripted
        return self.models

    @property
    def judging(self) -> bool:
        """Whether a model judges queries and replies (a scripted judge scores nothing)."""
        return not self.settings.role("judge").scripted and self.models is not None

    def generators(self) -> dict[str, str]:
        """Which generator makes each role's output."""
        return self.settings.generators()

    def accounting_metadata(self) -> dict[str, Any]:
        """Model calls, cache hits, tokens, cost, failure kinds and budget, for metadata."""
        if self.models is None:
            return {"scripted": True}
        return self.models.client.metadata()

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

    def judge(self, tasks: Sequence[JudgeTask]) -> list[RoleResult[prompts.JudgeScores]]:
        """Judge (only asked when `judging`; the scripted judge scores nothing)."""
        return self._pick("judge").judge(tasks) if tasks else []


Flow = Generator[tuple[str, Any], RoleResult[Any], Any]


def drive(
    flows: Sequence[Flow],
    roles: RoleBackend,
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """Run generator flows to completion, batching their role tasks per role.

    `progress(done, total)` is called with the number of finished flows after each batch.
    """
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
        if progress is not None:
            progress(len(flows) - len(pending), len(flows))
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
