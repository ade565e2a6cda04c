"""The model-backed roles: every role through the litellm model client.

Each batch becomes one concurrent `complete_many` of typed requests with versioned prompts;
a result names the model that made it and what it cost (calls, tokens, cache hit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from funreason_assets.lib import prompts
from funreason_assets.lib.llm.client import ModelClient, ModelRequest
from funreason_assets.lib.roles.tasks import (
    AbstractionTask,
    CritiqueTask,
    JudgeTask,
    QueryTask,
    ReasonerTask,
    ReplyTask,
    RoleResult,
    T,
)


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
                failure=reply.failure,
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
                    t.persona,
                    t.inferable,
                    t.user_goal,
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

    def judge(self, tasks: Sequence[JudgeTask]) -> list[RoleResult[prompts.JudgeScores]]:
        """Score each query or reply for naturalness and faithfulness."""
        return self._run(
            "judge",
            [t.key for t in tasks],
            [prompts.judge_messages(t.kind, t.text, t.facts, t.persona) for t in tasks],
            prompts.JudgeScores,
        )
