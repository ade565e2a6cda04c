"""Records that cross module borders: plans, rounds and executed calls (Phase I).

Every record has a stable id derived from its content and seed, and the ids of what it came
from, so any exported sample can be traced back to its scenario and graph walk.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# The vocabularies that records share with the phases: each is defined here once, and code
# that needs the list of names takes it from the `Literal` (`get_args`).
Variant = Literal["base", "missing_parameter", "missing_function", "long_context", "error_recovery"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)
# Variants whose round has two user turns: the query, then the follow-up that completes it.
SPLIT_VARIANTS: tuple[Variant, ...] = ("missing_parameter", "missing_function")
ArgumentProvenance = Literal["literal", "output", "state"]
TurnMode = Literal["act", "ask", "decline"]
# Why the checker failed an attempt (Phase III); the critic answers with one of these too.
FailureKind = Literal[
    "missing_prerequisite",
    "wrong_argument",
    "wrong_tool",
    "premature_stop",
    "tool_error",
    "state_mismatch",
    "missing_result",
    "should_ask",
    "should_decline",
    "unparseable",
]
FAILURE_KINDS: tuple[FailureKind, ...] = get_args(FailureKind)


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
        source: For `output`: `<round>.<call>:<field path>`; for `state`: the state path (a
            search term drawn from a text ends in `.<text>`); for `literal`: how it was chosen
            (`enum`: the documented set; `mined`: a value the tool's code names; `default`:
            the schema's default; `provider`: made fresh by the value type's provider;
            `typed`: the type-based fallback of plans made before semantic types).
        value_type: The parameter's semantic value type (`lib.value_types`); empty in plans
            made before semantic types.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    value: Any
    provenance: ArgumentProvenance
    source: str = ""
    value_type: str = ""


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

    def target_call(self) -> ExecutedCall:
        """The executed call of the round's target."""
        for call in self.calls:
            if call.tool == self.target and not call.injected_error:
                return call
        raise ValueError(f"round {self.index} does not contain its target {self.target}")


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
    persona: dict[str, Any] = Field(
        default_factory=dict,
        description="The scenario's persona (`Persona.model_dump()`): the user the query "
        "writer speaks for; empty in plans made before plans carried it",
    )
    goal: dict[str, Any] = Field(
        default_factory=dict,
        description="The user's hidden goal (`lib.goals.DialogueGoal.model_dump()`): reason, "
        "key class and one task per round; empty for the random-walk baseline",
    )


# ---------------------------------------------------------------------- Phase II


class AdvancedToolInput(BaseModel):
    """One input of an advanced tool: a free value of the trace (not produced by a call)."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    json_schema: dict[str, Any]
    value: Any
    provenance: ArgumentProvenance
    used_by: list[str] = Field(description="`<call index>.<parameter>` that take this value")


class SubCall(BaseModel):
    """One step of an advanced tool's decomposition and where each argument comes from.

    `bindings` maps a parameter to `input:<name>` (an advanced-tool input), `call:<k>:<path>`
    (a field of sub-call k's output) or `context:<round>.<call>:<path>` (an earlier round's
    output that the dialogue already holds).
    """

    model_config = ConfigDict(frozen=True)

    index: int
    tool: str
    bindings: dict[str, str]


class AdvancedTool(BaseModel):
    """The trace of one round abstracted into one tool (METHOD.md Phase II)."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON Schema object of the inputs")
    inputs: list[AdvancedToolInput]
    output_of: str = Field(description="The target tool whose output this tool returns")
    decomposition: list[SubCall]
    hidden_intermediates: list[str] = Field(description="Tools whose outputs stay hidden")
    generator: str


class HardQuery(BaseModel):
    """One round's advanced tool and the hard query a user would write (Phase II record)."""

    model_config = ConfigDict(frozen=True)

    query_id: str
    plan_id: str
    scenario_id: str
    shard: str
    round_index: int
    variant: Variant
    target: str
    advanced_tool: AdvancedTool
    query: str
    follow_up: str | None = Field(
        default=None,
        description="The next user turn of a missing-parameter or missing-function round "
        "(supplies the value, or says the function is available again)",
    )
    omitted: dict[str, Any] | None = Field(
        default=None, description="Missing parameter: {name: value} the query leaves out"
    )
    inferable: dict[str, str] | None = Field(
        default=None,
        description="Inputs the query leaves for the model to infer: {name: reason} (an earlier "
        "turn stated it, or the state maps what the query says to it)",
    )
    judge: dict[str, Any] | None = Field(
        default=None, description="The judge's scores (naturalness, faithfulness 1-5, reason)"
    )
    generator: str
    prompt_version: str
    model_calls: int = Field(
        default=0, description="Model calls the tool abstractor and query writer spent on it"
    )
    tokens: int = Field(default=0, description="Tokens of those model calls")


class QueryDrop(BaseModel):
    """A query rejected by a computed rule, kept for the funnel."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    round_index: int
    rule: str
    detail: str
    query: str


# ---------------------------------------------------------------------- Phase III


class StepRecord(BaseModel):
    """One step of the reasoner's agent loop: its text, its calls and what they returned."""

    model_config = ConfigDict(frozen=True)

    reasoning: str
    calls: list[str]
    results: list[Any]
    statuses: list[str]
    raw: str = ""


class Attempt(BaseModel):
    """One reasoning attempt in the sandbox, with its verdict and (on failure) the critique."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    steps: list[StepRecord]
    passed: bool
    failure_kind: FailureKind | None = None
    diff: list[str] = Field(default_factory=list)
    critique: str | None = None
    generator: str
    hint_given: bool = False


class ReasonedTurn(BaseModel):
    """One user turn of a verified round: what the user said and the kept assistant answer."""

    model_config = ConfigDict(frozen=True)

    user: str
    reasoning: str
    steps: list[StepRecord]
    reply: str
    round_index: int = 0
    variant: Variant = "base"
    mode: TurnMode = "act"
    ground_truth: list[str] = Field(
        default_factory=list, description="The plan's calls for this turn (BFCL ground truth)"
    )
    tools_hidden: list[str] = Field(default_factory=list)
    error_tool_response: bool = False
    judge: dict[str, Any] | None = Field(
        default=None,
        description="The judge's scores of the reply (naturalness, faithfulness 1-5, reason)",
    )


class ReasoningChain(BaseModel):
    """Phase III record for one round: every attempt and, when verified, the kept turns."""

    model_config = ConfigDict(frozen=True)

    chain_id: str
    query_id: str
    plan_id: str
    scenario_id: str
    shard: str
    round_index: int
    variant: Variant
    attempts: list[Attempt]
    passed: bool
    turns: list[ReasonedTurn] = Field(default_factory=list)
    drop_reason: str | None = None
    generators: dict[str, str]
    model_calls: int = 0
    tokens: int = 0


class VerifiedDialogue(BaseModel):
    """Rounds of one plan that passed, in order, on one persistent state."""

    model_config = ConfigDict(frozen=True)

    dialogue_id: str
    plan_id: str
    scenario_id: str
    shard: str
    involved_classes: list[str]
    initial_config: dict[str, Any]
    long_context: bool
    rounds: list[int]
    chain_ids: list[str]
    turns: list[ReasonedTurn]
    bfcl_entry_digest: str | None = Field(
        default=None,
        description="Set by curation: the digest of the BFCL entry (question and possible "
        "answer) bfcl-eval's checker accepted; None before curation and for dialogues BFCL's "
        "format cannot express. Not part of the dialogue id.",
    )
