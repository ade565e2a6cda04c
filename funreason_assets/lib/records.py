"""Records that cross module borders: plans, rounds and executed calls (Phase I).

Every record has a stable id derived from its content and seed, and the ids of what it came
from, so any exported sample can be traced back to its scenario and graph walk.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Variant = Literal["base", "missing_parameter", "missing_function", "long_context", "error_recovery"]
VARIANTS: tuple[str, ...] = (
    "base",
    "missing_parameter",
    "missing_function",
    "long_context",
    "error_recovery",
)
ArgumentProvenance = Literal["literal", "output", "state"]


def stable_id(prefix: str, *parts: Any) -> str:
    """A short content-derived id (`prefix-<12 hex>`)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return f"{prefix}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


class Argument(BaseModel):
    """One argument of an executed call and where its value came from.

    Attributes:
        name: Parameter name.
        value: The value passed.
        provenance: `literal` (a value the user can state), `output` (produced by an earlier
            call of the dialogue), or `state` (an entity present in the environment).
        source: For `output`: `<round>.<call>:<field path>`; for `state`: the state path; for
            `literal`: how it was chosen (`enum`, `mined`, `default`, `typed`).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    value: Any
    provenance: ArgumentProvenance
    source: str = ""


class ExecutedCall(BaseModel):
    """One call of a ground-truth trace, as executed."""

    model_config = ConfigDict(frozen=True)

    index: int
    tool: str
    class_name: str
    arguments: list[Argument]
    call: str = Field(description="The call in BFCL syntax.")
    status: str
    output: Any = None
    error: str | None = None
    injected_error: bool = Field(
        default=False,
        description="An injected environment error (not executed); the next call recovers.",
    )

    def argument_values(self) -> dict[str, Any]:
        """Arguments as a plain mapping."""
        return {argument.name: argument.value for argument in self.arguments}


class PlannedRound(BaseModel):
    """One round (user turn) of a plan: a target tool and the executed trace reaching it."""

    model_config = ConfigDict(frozen=True)

    index: int
    target: str
    variant: Variant
    calls: list[ExecutedCall]
    state_digest_after: str
    dependency_depth: int
    edges_followed: list[tuple[str, str]]
    missing_parameter: str | None = None
    missing_function: str | None = None
    read_only: bool = False

    def executed_calls(self) -> list[ExecutedCall]:
        """The calls that ran (injected errors excluded)."""
        return [call for call in self.calls if not call.injected_error]


class DialoguePlan(BaseModel):
    """One dialogue plan: N rounds on one persistent environment (Phase I ground truth)."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    scenario_id: str
    shard: str
    seed: int
    sampler: Literal["directed", "random_walk"]
    involved_classes: list[str]
    initial_config: dict[str, Any]
    long_context: bool
    rounds: list[PlannedRound]
    graph_fingerprint: str
