"""Phase I: the directed graph sampler and multi-round ground-truth plans.

A dialogue runs N rounds on one persistent environment. Each round picks a target tool and
walks the API graph toward it (METHOD.md, Eq. 2): the target as soon as it is legal, otherwise
the legal tool nearest to it, then optionally a short random tail. Legality (Eq. 1) is
state-aware: a prerequisite group is met when one of its tools was called in this dialogue, or
when the current state already satisfies it (the call succeeds). Every call is executed for
real; the executed trace is the ground truth.

A call enters the ground truth only if it does something: the walk rejects (rolls back and
re-binds, or tries another tool) a call whose real result reports a failure, a state-changing
call that left its class's state as it was (a login into an open session, a follow of a
followed user), and most searches that find nothing. Logins and logouts are called only as a
round's target or as a prerequisite the target needs, never as filler.

The random-walk baseline the paper argues against (random legal calls, no target) runs on the
same seeds behind `SamplerConfig.strategy` so the two can be compared.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.binding import (
    ArgumentBinder,
    BoundValue,
    SourcePool,
    StateContent,
    UnbindableError,
    class_sources,
    output_sources,
    state_content,
)
from funreason_assets.lib.dialogue_stats import meaningful_values, rounds_used
from funreason_assets.lib.digests import canonical_json
from funreason_assets.lib.environments import Environment, EnvironmentSnapshot
from funreason_assets.lib.executor import ParsedCall, execute_call, format_call
from funreason_assets.lib.goals import DialogueGoal, GoalConfig, GoalPlanner, realized_goal
from funreason_assets.lib.literals import LiteralDomains, merged_literal_domains
from funreason_assets.lib.records import (
    VARIANTS,
    Argument,
    DialoguePlan,
    ExecutedCall,
    PlannedRound,
    stable_id,
)
from funreason_assets.lib.registry import ToolRegistry

# Candidate values taken from one class's state: enough variety for binding, and a bound on
# the walk over long-context states (thousands of files and records).
STATE_SOURCE_LIMIT = 600

# Tools that open or close a session: called only as a target or a needed prerequisite.
_AUTH_TOOL = re.compile(r"login|logout|authenticat|sign_?in|sign_?out")
_LOGOUT_TOOL = re.compile(r"logout|sign_?out")
# Tools that undo what an earlier call made: never a follow-up of the round's own target (a
# booking is not cancelled in the request that made it).
_UNDO_TOOL = re.compile(
    r"^(cancel|delete|remove|close|resolve|rm|rmdir|unfollow|withdraw)(_|$)"
)
# Their weight as a round's target, relative to other tools, and the weight of a target that
# needs a login first, and nothing else or more.
_AUTH_TARGET_WEIGHT = 0.1
_LOGIN_ONLY_WEIGHT = 0.1
_LOGIN_GATED_WEIGHT = 0.6
# Met-prerequisite sets whose unmet depths are kept (each dialogue state makes one).
_UNMET_STATES_KEPT = 512
# Weight factor of a tool still below its target quota in this shard.
_QUOTA_BOOST = 30.0
# Weight (in rounds) of the graph's unmet depth against the depth a target's rounds reached.
_DEPTH_PRIOR = 2.0
# Share of directed rounds whose target takes produced values from earlier outputs only.
_PRODUCED_SHARE = 0.5
# Failed rounds after which a tool no probe made succeed, and no round reached, is given up.
_GIVE_UP_FAILURES = 3
# Result texts of a failure that the tool reports as a plain value, not as an `error` field.
_FAILURE_TEXT = re.compile(
    r"^error\b|\bnot found\b|\bno such\b|\bnot authenticated\b|\bnot logged in\b|"
    r"\bno user is currently\b|^already\b|\binvalid\b|\bfailed\b|^unknown$|\bcannot\b|"
    r"\binsufficient\b|\bunsupported\b|\bdoes not exist\b",
    re.IGNORECASE,
)
# Types of graph data sources the user states themselves (never forced from outputs).
_STATED_TYPES = frozenset({"enum", "first_name", "person_name", "last_name"})
# Result fields that report an outcome (free text such as a tweet's content is not one).
_OUTCOME_FIELD = re.compile(r"status|result|symbol|airport|error|failure|success")

INJECTED_ERRORS = (
    "Service temporarily unavailable. Please retry the request.",
    "Request timed out before the server responded. Please try again.",
    "Too many requests: rate limit exceeded, retry shortly.",
    "Upstream connection reset while processing the request.",
)


class VariantMix(BaseModel):
    """Share of dialogues per BFCL category, and of rounds with an injected tool error."""

    model_config = ConfigDict(extra="forbid")

    base: float = 0.55
    missing_parameter: float = 0.15
    missing_function: float = 0.15
    long_context: float = 0.15
    error_recovery_rounds: float = Field(
        default=0.1, description="Probability that a round carries an injected tool error."
    )


class SamplerConfig(BaseModel):
    """Knobs of Phase I (defaults follow METHOD.md)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["directed", "random_walk"] = "directed"
    min_calls: int = Field(default=2, ge=1, description="M: minimum calls per round.")
    max_calls: int = Field(default=6, ge=1, description="M: maximum calls per round.")
    min_rounds: int = Field(default=2, ge=1, description="N: minimum rounds per dialogue.")
    max_rounds: int = Field(default=5, ge=1, description="N: maximum rounds per dialogue.")
    resamples: int = Field(default=3, ge=1, description="Argument re-samples on an error.")
    target_retries: int = Field(default=4, ge=1, description="Targets tried per round.")
    tail_stop_probability: float = Field(
        default=0.6, description="Chance to stop after each post-target call (focus)."
    )
    depth_oversampling: float = Field(
        default=1.0, description="Extra target weight per level of unmet prerequisite depth."
    )
    depth_power: float = Field(
        default=6.0, ge=0,
        description="Exponent of the depth factor of a target's weight (Eq. 2 oversampling).",
    )
    coverage_power: float = Field(
        default=0.5, ge=0,
        description="Exponent of the damping of often-targeted tools (1: strict balance).",
    )
    target_quota: int = Field(
        default=1, ge=0,
        description="Targets below this count in the shard get first call on the rounds.",
    )
    goal: GoalConfig = Field(default_factory=GoalConfig)
    variants: VariantMix = Field(default_factory=VariantMix)


@dataclass
class SamplerStats:
    """Counters of one sampling run (drops are counted, not hidden)."""

    dialogues_attempted: int = 0
    dialogues_kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    rounds_failed: Counter[str] = field(default_factory=Counter)
    targets: Counter[str] = field(default_factory=Counter)
    target_failures: Counter[str] = field(default_factory=Counter)
    tools_reached: Counter[str] = field(default_factory=Counter)
    # Dependency depth the kept rounds of each target reached (sum), for the depth estimate.
    target_depth: Counter[str] = field(default_factory=Counter)


@dataclass
class GraphIndex:
    """Precomputed graph facts the sampler needs on its hot path."""

    graph: nx.DiGraph
    prerequisites: dict[str, list[frozenset[str]]]
    data_sources: dict[str, frozenset[str]]
    depth: dict[str, int]
    read_only: frozenset[str] = frozenset()
    _distances: dict[str, dict[str, int]] = field(default_factory=dict)
    _requirements: dict[str, frozenset[str]] = field(default_factory=dict)
    _unmet: dict[frozenset[str], dict[str, int]] = field(default_factory=dict)
    # (tool, parameter) data sources whose value the user states (a person's name, an option).
    stated: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def build(cls, graph: nx.DiGraph) -> GraphIndex:
        """Index a graph built by `lib.graph`."""
        prerequisites = {
            node: [frozenset(group) for group in data.get("prerequisites", [])]
            for node, data in graph.nodes(data=True)
        }
        data_sources = {
            node: frozenset(data.get("data_sources", {}))
            for node, data in graph.nodes(data=True)
        }
        index = cls(graph, prerequisites, data_sources, {})
        index.depth = {node: index._dependency_depth(node) for node in graph.nodes}
        index.read_only = frozenset(
            node for node, data in graph.nodes(data=True) if data.get("read_only")
        )
        return index

    def distances(self, target: str) -> dict[str, int]:
        """Hops from each tool to the target along dependency edges (cached)."""
        cached = self._distances.get(target)
        if cached is None:
            cached = dict(nx.single_target_shortest_path_length(self.graph, target))
            self._distances[target] = cached
        return cached

    def requirements(self, target: str) -> frozenset[str]:
        """Tools the target needs, transitively: its prerequisites and its data sources.

        Narrower than the graph's ancestors, which also hold tools that merely can feed a
        value (a login is an ancestor of `get_stock_info` through `place_order`).
        """
        cached = self._requirements.get(target)
        if cached is None:
            found: set[str] = set()
            frontier = [target]
            while frontier:
                tool = frontier.pop()
                direct = {name for group in self.prerequisites.get(tool, ()) for name in group}
                producers = self.graph.nodes[tool].get("data_sources", {}).values()
                direct.update(name for names in producers for name in names)
                frontier.extend(sorted(direct - found - {target}))
                found |= direct
            cached = self._requirements[target] = frozenset(found)
        return cached

    def _dependency_depth(self, target: str) -> int:
        distances = self.distances(target)
        return max(distances.values(), default=0)

    def unmet_depth(self, target: str, satisfied: frozenset[str]) -> int:
        """Calls the target needs before it, along its longest unmet chain.

        Each prerequisite group not met by a `satisfied` tool adds one call plus the chain of
        its cheapest member; each produced parameter adds its cheapest producer's chain (a
        session credential is met while its login is). Cycles count nothing twice.
        """
        if satisfied not in self._unmet and len(self._unmet) >= _UNMET_STATES_KEPT:
            self._unmet.clear()  # one entry per dialogue state seen: keep memory flat
        cache = self._unmet.setdefault(satisfied, {})
        found = cache.get(target)
        if found is not None:
            return found

        def depth(tool: str, stack: frozenset[str]) -> int:
            known = cache.get(tool)
            if known is not None:
                return known
            stack = stack | {tool}
            best = 0
            for group in self.prerequisites.get(tool, ()):
                if group & satisfied:
                    continue
                options = [depth(m, stack) for m in group if m not in stack]
                if options:
                    best = max(best, 1 + min(options))
            for param, producers in self.graph.nodes[tool].get("data_sources", {}).items():
                if (tool, param) in self.stated or any(
                    p in satisfied and is_auth_tool(p) for p in producers
                ):
                    continue
                options = [depth(p, stack) for p in producers if p not in stack]
                if options:
                    best = max(best, 1 + min(options))
            if len(stack) == 1:
                cache[tool] = best
            return best

        return depth(target, frozenset())


@functools.lru_cache(maxsize=4096)
def unreachable_tools(graph: nx.DiGraph) -> list[str]:
    """Tools no graph probe ever made succeed, from any state or after any prerequisite."""
    return sorted(
        str(node) for node, data in graph.nodes(data=True)
        if data.get("read_only") is None and not data.get("prerequisites")
        and not data.get("data_sources")
    )


@functools.cache
def is_auth_tool(tool: str) -> bool:
    """Whether a tool logs in, logs out or authenticates (not a login-status query)."""
    return bool(_AUTH_TOOL.search(tool.lower())) and "status" not in tool.lower()


def result_problem(tool: str, output: Any) -> str | None:
    """Why a call's real result reports a failure the tool did not flag as an error, if it does.

    BFCL tools answer some failures with a plain value: `{"login_status": False}`, `{"symbol":
    "Stock not found"}`, `["Error: User not authenticated..."]`, a list holding an error
    record. Login-status queries answer False legitimately.
    """
    if isinstance(output, dict):
        fields: Any = output.items()
    elif isinstance(output, list):
        fields = enumerate(output)
    else:
        return None
    for key, value in fields:
        if isinstance(value, dict) and "error" in value:
            return f"{key}: {value['error']}"
        outcome = isinstance(key, int) or bool(_OUTCOME_FIELD.search(str(key).lower()))
        if not outcome:
            continue
        if isinstance(value, str) and len(value) <= 200 and _FAILURE_TEXT.search(value.strip()):
            return f"{key}: {value}"
        if "fail" in str(key).lower() and value:
            return f"{key}: {value}"
        if value is False and "status" not in tool.lower():
            return f"{key} is false"
    return None


def found_nothing(output: Any) -> bool:
    """Whether a search's result is empty (an empty list, or only empty lists in a record)."""
    if isinstance(output, list):
        return not output
    if isinstance(output, dict):
        lists = [value for value in output.values() if isinstance(value, list)]
        return bool(lists) and not any(lists)
    return False


def _argument(name: str, bound: BoundValue, call_positions: Mapping[int, str]) -> Argument:
    if bound.provenance == "output":
        # Paths look like `call:<global index>:<tool>:<field path>`.
        _, index, _tool, path = bound.source.split(":", 3)
        return Argument(
            name=name,
            value=bound.value,
            provenance="output",
            source=f"{call_positions[int(index)]}:{path}",
            value_type=bound.value_type,
        )
    if bound.provenance == "state":
        return Argument(
            name=name, value=bound.value, provenance="state", source=bound.source,
            value_type=bound.value_type,
        )
    return Argument(
        name=name, value=bound.value, provenance="literal", source=bound.source or "provider",
        value_type=bound.value_type,
    )


class PlanSampler:
    """Samples dialogue plans on one registry and graph; keeps coverage counters across calls."""

    def __init__(
        self,
        registry: ToolRegistry,
        graph: nx.DiGraph,
        config: SamplerConfig | None = None,
        literals: LiteralDomains | None = None,
    ):
        """Create a sampler.

        Args:
            registry: Environment classes and tools.
            graph: The API graph (`lib.graph`), with prerequisites and data sources on nodes.
            config: Phase I knobs.
            literals: Accepted literal values (mined from the classes' source when None).
        """
        self.registry = registry
        self.index = GraphIndex.build(graph)
        self.index.stated = frozenset(
            (str(node), param)
            for node, data in graph.nodes(data=True)
            for param in data.get("data_sources", {})
            if registry.owner(str(node)) is not None
            and registry.value_type(str(node), param) in _STATED_TYPES
        )
        # The parameters whose value a tool produces: the graph's data sources, less the ones
        # the user states themselves (a documented option, a person's name), even where an
        # output happens to hold one (an invoice's travel class).
        self.produced_params = {
            tool: frozenset(name for name in params if (tool, name) not in self.index.stated)
            for tool, params in self.index.data_sources.items()
        }
        self.config = config or SamplerConfig()
        if literals is None:
            literals = merged_literal_domains(
                env_class.cls for env_class in registry.classes.values()
            )
        self.literals = literals
        self.stats = SamplerStats()
        # Tools no probe made succeed: a weather service that always errors, but also tools
        # the probe could not bind that a walk reaches (a mention of friends in a tweet).
        self.unreachable = frozenset(unreachable_tools(graph))
        # Validators' verdicts, shared by the dialogues' binders (a value's verdict for a
        # parameter never changes).
        self.verdicts: dict[Any, dict[Any, bool]] = {}
        self.graph_fingerprint = str(graph.graph.get("registry_fingerprint", ""))
        self.class_of = {
            str(node): str(data.get("class_name", "")) for node, data in graph.nodes(data=True)
        }
        producers = {
            node: frozenset(name for names in sources.values() for name in names)
            for node, sources in (
                (node, data.get("data_sources", {})) for node, data in graph.nodes(data=True)
            )
        }
        self.goals = GoalPlanner(
            lambda tool: sorted(
                successor for successor in graph.successors(tool) if not is_auth_tool(successor)
            ),
            producers,
            self.class_of,
            self.config.goal,
        )

    # ------------------------------------------------------------------ dialogue level

    def sample(
        self,
        scenario_id: str,
        seed: int,
        involved_classes: Sequence[str],
        initial_config: Mapping[str, Any],
        shard: str = "",
        persona: Mapping[str, Any] | None = None,
        key_class: str = "",
        first_task: str | None = None,
    ) -> DialoguePlan | None:
        """Sample one dialogue plan, or None if it cannot reach the minimum number of rounds.

        Args:
            scenario_id: The scenario's id.
            seed: The scenario's seed (the walk's generator is seeded from it).
            involved_classes: The classes of the dialogue.
            initial_config: The classes' initial state.
            shard: The shard the plan belongs to.
            persona: The scenario's persona: the user the values made up for them belong to.
            key_class: The class the scenario's goal is about (the first stateful involved
                class when empty).
            first_task: The goal's first target (a top-up dialogue for a tool below its
                quota); the plan id then names it.
        """
        config = self.config
        rng = random.Random(
            f"plan:{config.strategy}:{seed}" + (f":{first_task}" if first_task else "")
        )
        self.stats.dialogues_attempted += 1
        category = self._category(rng)
        long_context = category == "long_context"
        environment = self.registry.environment(involved_classes, initial_config, long_context)
        walk = _DialogueWalk(self, environment, rng, persona or {})
        n_rounds = rng.randint(config.min_rounds, config.max_rounds)
        goal = None
        if config.strategy == "directed" and config.goal.enabled:
            stateful = [
                name for name in involved_classes if not self.registry.classes[name].stateless
            ]
            key = (
                self.class_of.get(first_task, "") if first_task else ""
            ) or key_class or (stateful or list(involved_classes))[0]
            satisfied = walk.satisfied()
            goal = self.goals.plan(
                random.Random(f"goal:{seed}"), key, walk.targets, n_rounds,
                lambda tool: self.target_weight(tool, satisfied), persona or {},
                lambda tool: self.stats.targets.get(tool, 0) < config.target_quota,
                first_task,
            )
            walk.goal = goal
        for round_index in range(n_rounds):
            planned = walk.next_round(round_index)
            if planned is None:
                break
        if len(walk.rounds) < config.min_rounds:
            self.stats.dropped["too_few_rounds"] += 1
            return None
        if goal is not None:
            goal = realized_goal(
                goal, [planned.target for planned in walk.rounds],
                rounds_used(walk.rounds), self.class_of,
            )
        rounds = self._apply_variants(walk.rounds, category, rng)
        self.stats.dialogues_kept += 1
        # Only kept dialogues count toward the targets' quotas and depth estimates.
        for planned in walk.rounds:
            self.stats.targets[planned.target] += 1
            self.stats.target_depth[planned.target] += planned.dependency_depth
        for planned in rounds:
            for call in planned.executed_calls():
                self.stats.tools_reached[call.tool] += 1
        return DialoguePlan(
            plan_id=stable_id(
                "plan", config.strategy, scenario_id, seed, *([first_task] if first_task else [])
            ),
            scenario_id=scenario_id,
            shard=shard,
            seed=seed,
            sampler=config.strategy,
            involved_classes=list(involved_classes),
            initial_config=dict(initial_config),
            long_context=long_context,
            rounds=rounds,
            graph_fingerprint=self.graph_fingerprint,
            persona=dict(persona or {}),
            goal=goal.model_dump() if goal is not None else {},
        )

    def _category(self, rng: random.Random) -> str:
        mix = self.config.variants
        # The dialogue categories are the variants the mix weighs, in the variants' order.
        weights = {name: getattr(mix, name) for name in VARIANTS if name in VariantMix.model_fields}
        names = list(weights)
        return rng.choices(names, weights=[weights[name] for name in names])[0]

    def _apply_variants(
        self, rounds: list[PlannedRound], category: str, rng: random.Random
    ) -> list[PlannedRound]:
        """Tag rounds with their variant; plan the one missing-parameter/function round."""
        tagged: list[PlannedRound] = []
        special_index = None
        if category in ("missing_parameter", "missing_function") and len(rounds) > 1:
            candidates = list(range(1, len(rounds)))
            if category == "missing_parameter":
                candidates = [
                    i
                    for i in candidates
                    if any(a.provenance == "literal" for a in rounds[i].target_call().arguments)
                ]
            special_index = rng.choice(candidates) if candidates else None
        for planned in rounds:
            update: dict[str, Any] = {}
            if category == "long_context":
                update["variant"] = "long_context"
            if planned.index == special_index and category == "missing_parameter":
                literal = [
                    a.name for a in planned.target_call().arguments if a.provenance == "literal"
                ]
                update.update(variant="missing_parameter", missing_parameter=rng.choice(literal))
            elif planned.index == special_index and category == "missing_function":
                update.update(variant="missing_function", missing_function=planned.target)
            elif (
                rng.random() < self.config.variants.error_recovery_rounds
                and category in ("base", "long_context")
            ):
                planned = _inject_error(planned, rng)
                update["variant"] = "error_recovery"
            tagged.append(planned.model_copy(update=update))
        return tagged

    # ------------------------------------------------------------------ target choice

    def _session_weight(self, tool: str, logged_out: frozenset[str]) -> float:
        """A target's weight factor for the closed sessions it needs opened.

        A target that needs only a login makes a round of a login and one call: it is chosen
        much less often, so logins stay a small share of the data. A target with a longer
        chain behind its login (a card to register, then its balance) loses less weight.
        """
        if not logged_out:
            return 1.0
        requirements = self.index.requirements(tool)
        if not logged_out & requirements:
            return 1.0
        if all(is_auth_tool(name) for name in requirements):
            return _LOGIN_ONLY_WEIGHT
        return _LOGIN_GATED_WEIGHT

    def given_up(self, tool: str) -> bool:
        """A tool no probe made succeed whose rounds keep failing is no target any more.

        Every round planned on it is lost and its attempts cost the walk; one the walk does
        reach stays a target.
        """
        stats = self.stats
        return (
            tool in self.unreachable
            and stats.target_failures.get(tool, 0) >= _GIVE_UP_FAILURES
            and not stats.targets.get(tool, 0)
        )

    def target_weight(self, tool: str, satisfied: frozenset[str]) -> float:
        """A tool's weight as a target: deep unmet chains up, often-targeted tools down.

        Quotas: tools targeted fewer than `target_quota` times come first; tools that keep
        failing to be reached from these states lose weight so they do not eat the budget;
        sessions are a means, not a goal, so logins and logouts are targeted less often.
        """
        config = self.config
        # `get` rather than indexing: a Counter answers a missing key through a Python call.
        count = self.stats.targets.get(tool, 0)
        # The depth a round of this target is expected to reach: the graph's unmet chain as
        # a prior, corrected by what its kept rounds reached from these states.
        unmet = (
            self.index.unmet_depth(tool, satisfied) * _DEPTH_PRIOR
            + self.stats.target_depth.get(tool, 0)
        ) / (_DEPTH_PRIOR + count)
        quota = _QUOTA_BOOST if count < config.target_quota else 1.0
        logged_out = frozenset(
            name for name in self.index.requirements(tool)
            if is_auth_tool(name) and name not in satisfied
        )
        return (
            quota * (1.0 + config.depth_oversampling * unmet) ** config.depth_power
            * (_AUTH_TARGET_WEIGHT if is_auth_tool(tool) else 1.0)
            * self._session_weight(tool, logged_out)
            / ((1.0 + count) ** config.coverage_power
               * (1.0 + 0.5 * self.stats.target_failures.get(tool, 0)))
        )

    def choose_target(
        self,
        tools: Sequence[str],
        rng: random.Random,
        exclude: set[str],
        satisfied: frozenset[str] = frozenset(),
    ) -> str | None:
        """Weighted choice favouring rarely-targeted tools with deep unmet chains.

        Args:
            tools: The candidate tools.
            rng: The walk's generator.
            exclude: Tools already tried this round.
            satisfied: Prerequisite tools met now (sessions open, effects in place).
        """
        candidates = [tool for tool in tools if tool not in exclude]
        if not candidates:
            return None
        weights = [self.target_weight(tool, satisfied) for tool in candidates]
        return rng.choices(candidates, weights=weights)[0]


def _inject_error(planned: PlannedRound, rng: random.Random) -> PlannedRound:
    """Insert a failed attempt before one call; the call itself then recovers by retrying."""
    calls = list(planned.calls)
    position = rng.randrange(len(calls))
    original = calls[position]
    message = rng.choice(INJECTED_ERRORS)
    injected = original.model_copy(
        update={"status": "tool_error", "output": {"error": message}, "error": message,
                "injected_error": True}
    )
    # The injected attempt shares the index of the call it precedes, so argument provenance
    # (`round.call`) keeps pointing at executed calls.
    calls.insert(position, injected)
    return planned.model_copy(update={"calls": calls})


class _DialogueWalk:
    """The state of one dialogue being sampled."""

    def __init__(
        self,
        sampler: PlanSampler,
        environment: Environment,
        rng: random.Random,
        persona: Mapping[str, Any],
    ):
        self.sampler = sampler
        self.environment = environment
        self.rng = rng
        self.binder = ArgumentBinder(
            rng, sampler.registry, optional_rate=0.25, literals=sampler.literals,
            persona=persona, verdicts=sampler.verdicts,
        )
        self.tools = [tool.name for tool in environment.tools]
        self.targets = [tool for tool in self.tools if not sampler.given_up(tool)]
        self.called: set[str] = set()
        self.outputs: list[tuple[int, str, Any]] = []
        # Each output's number, never reused (outputs of pruned lookups leave gaps).
        self._next_output = 0
        self.output_pool = SourcePool()
        # This round's outputs, and the session credentials of any round: what an earned
        # target takes its produced values from.
        self.round_sources: list[Any] = []
        self.credentials: list[Any] = []
        self.positions: dict[int, str] = {}
        self.rounds: list[PlannedRound] = []
        self.goal: DialogueGoal | None = None
        # The parameter the last call could not bind (no value of its type anywhere).
        self.unbound: str | None = None
        self._class_pools: dict[str, SourcePool] = {}
        self._contents: dict[str, StateContent] = {}
        # Whether each class's session is open, as its login-status query answers.
        self._sessions: dict[str, bool] = {}
        # Per-class copies of the current state (pickled, and as digest text), valid until a
        # call of that class may have changed it: most calls touch one class, and a failed
        # call is rolled back to exactly the state these describe.
        self._snapshots: dict[str, EnvironmentSnapshot] = {}
        self._digest_texts: dict[str, str] = {}
        self._stateless = {
            name for name in environment.involved_classes
            if sampler.registry.classes[name].stateless
        }
        self._read_only = sampler.index.read_only
        # Each class's login-status query, which tells whether a login is needed.
        self._status_tools: dict[str, str] = {}
        for name in sorted(environment.methods):
            if "login_status" in name:
                self._status_tools.setdefault(environment.methods[name][1].class_name, name)

    # --------------------------------------------------------------- calls

    def _public_state(self, class_name: str) -> dict[str, Any]:
        instance = self.environment.instances[class_name]
        return {k: v for k, v in vars(instance).items() if not k.startswith("_")}

    def _class_pool(self, class_name: str) -> SourcePool:
        # A class's candidate values change only when one of its state-changing calls succeeds
        # or the environment is rolled back, so they are computed once per state version.
        # Arguments bind from the state of the tool's own class only: a ticket's creator is no
        # trading account, a booking's card id is no OAuth client id.
        pool = self._class_pools.get(class_name)
        if pool is None:
            pool = SourcePool(
                class_sources(class_name, self._public_state(class_name), STATE_SOURCE_LIMIT)
            )
            self._class_pools[class_name] = pool
        return pool

    def _content(self, class_name: str) -> StateContent:
        content = self._contents.get(class_name)
        if content is None:
            content = self._contents[class_name] = state_content(self._public_state(class_name))
        return content

    def _invalidate(self, class_name: str) -> None:
        self._class_pools.pop(class_name, None)
        self._contents.pop(class_name, None)
        self._sessions.pop(class_name, None)

    def _forget(self, class_name: str) -> None:
        """Drop the cached copies of a class whose state a call may have changed."""
        self._snapshots.pop(class_name, None)
        self._digest_texts.pop(class_name, None)

    def _state_text(self, class_name: str) -> str:
        """The canonical text of a class's state (the round digest's part), cached."""
        text = self._digest_texts.get(class_name)
        if text is None:
            text = self._digest_texts[class_name] = canonical_json(
                self.environment.class_state(class_name)
            )
        return text

    def _snapshot(self, class_names: Sequence[str]) -> EnvironmentSnapshot:
        parts = []
        for name in class_names:
            part = self._snapshots.get(name)
            if part is None:
                part = self._snapshots[name] = self.environment.snapshot([name])
            parts.append(part)
        return parts[0] if len(parts) == 1 else EnvironmentSnapshot.combine(parts)

    def try_call(
        self,
        tool: str,
        round_index: int,
        calls: list[ExecutedCall],
        produced_only: bool = False,
        outputs: SourcePool | None = None,
        follow_up: bool = False,
    ) -> bool:
        """Bind and execute a tool (re-binding when a call fails or does nothing); record it.

        A call is kept only if it succeeds, its result reports no failure, a state-changing
        call changed its class's state, and a search found something (nine times in ten).
        With `produced_only`, the values a tool produces (graph data sources) come from
        earlier outputs only, not from the state; `outputs` narrows which outputs. A
        `follow_up` call takes at least one value from those outputs.
        """
        sampler = self.sampler
        spec = self.environment.methods[tool][1]
        class_name = spec.class_name
        sourced = sampler.produced_params.get(tool, frozenset())
        stateful = class_name not in self._stateless
        # A failing call may still change the state (BFCL's add_contact bumps its counter
        # before it fails), and rejected attempts are not part of the ground truth, so calls
        # that can change state run against a snapshot they roll back to.
        guard = (
            self._snapshot([class_name]) if tool not in self._read_only and stateful else None
        )
        before = self._state_text(class_name) if guard is not None else None
        state = (lambda: self._class_pool(class_name)) if stateful else ()
        content = (lambda: self._content(class_name)) if stateful else None
        for attempt in range(sampler.config.resamples):
            try:
                bound = self.binder.bind(
                    spec, self.output_pool if outputs is None else outputs, state,
                    sourced=sourced, content=content, attempt=attempt,
                    produced_only=produced_only,
                )
            except UnbindableError as exc:
                # `<tool>.<parameter>: why`: the walk fetches that parameter's producers next.
                self.unbound = str(exc).split(":", 1)[0].rpartition(".")[2]
                return False
            arguments = {name: value.value for name, value in bound.items()}
            if any(
                call.tool == tool and call.argument_values() == arguments for call in calls
            ):
                continue  # the same call again in one round adds nothing a user asked for
            if follow_up and not any(value.provenance == "output" for value in bound.values()):
                continue  # it would not act on what the round made
            outcome = execute_call(self.environment, ParsedCall(tool, (), arguments))
            rejected = not outcome.ok or result_problem(tool, outcome.output) is not None
            if not rejected and found_nothing(outcome.output) and any(
                self.binder.typed(tool, name).searchable for name in bound
            ):
                # Searches find something, but not always: a miss is kept now and then.
                rejected = self.rng.random() < 0.9
            after = None
            if not rejected and guard is not None:
                after = canonical_json(self.environment.class_state(class_name))
                # The class's state reads as before: the call did nothing.
                rejected = after == before
            if rejected:
                if guard is not None:
                    # Back to the exact state the cached pools and copies were taken from.
                    self.environment.restore(guard)
                else:
                    self._forget(class_name)
                continue
            global_index = self._next_output
            self._next_output += 1
            position = f"{round_index}.{len(calls)}"
            self.positions[global_index] = position
            calls.append(
                ExecutedCall(
                    index=len(calls),
                    tool=tool,
                    class_name=class_name,
                    arguments=[
                        _argument(name, value, self.positions) for name, value in bound.items()
                    ],
                    call=format_call(tool, arguments),
                    status=outcome.status,
                    output=outcome.output,
                )
            )
            self.outputs.append((global_index, tool, outcome.output))
            made = output_sources([(global_index, tool, outcome.output)])
            self.output_pool.extend(made)
            self.round_sources.extend(made)
            if is_auth_tool(tool):
                self.credentials.extend(made)
            self.called.add(tool)
            # Read-only is what graph probing observed; the copies that define the recorded
            # ground truth (snapshots, digests) do not rely on it.
            self._forget(class_name)
            if after is not None:
                self._digest_texts[class_name] = after
            if tool not in self._read_only:
                self._invalidate(class_name)
            return True
        return False

    def _login_needed(self, tool: str) -> bool:
        """Whether a login or authentication tool has work to do (its session is not open).

        Logouts never are, as a step toward another target. A class without a login-status
        query is taken at its graph's word (the tool is a prerequisite of the target).
        """
        if _LOGOUT_TOOL.search(tool.lower()):
            return False
        class_name = self.environment.methods[tool][1].class_name
        status_tool = self._status_tools.get(class_name)
        if status_tool is None:
            return True
        open_session = self._sessions.get(class_name)
        if open_session is None:
            outcome = execute_call(self.environment, ParsedCall(status_tool, (), {}))
            open_session = self._sessions[class_name] = not outcome.ok or _any_true(
                outcome.output
            )
        return not open_session

    # --------------------------------------------------------------- rounds

    def satisfied(self) -> frozenset[str]:
        """Prerequisite tools met now: open sessions, and tools called in this dialogue."""
        open_sessions = {
            tool for tool in self.tools
            if is_auth_tool(tool) and not _LOGOUT_TOOL.search(tool.lower())
            and not self._login_needed(tool)
        }
        return frozenset(open_sessions | self.called)

    def _alternatives(self) -> list[str]:
        """Targets that still serve the goal when its planned task cannot be reached.

        Tools acting on what earlier rounds made or found, else the goal's key class.
        """
        goals = self.sampler.goals
        related = sorted(
            {name for planned in self.rounds for name in goals.builds_on(planned.target)}
            & set(self.targets)
        )
        if related:
            return related
        key = self.goal.key_class if self.goal is not None else ""
        own = [tool for tool in self.targets if self.sampler.class_of.get(tool) == key]
        return own or self.targets

    def next_round(self, round_index: int) -> PlannedRound | None:
        sampler = self.sampler
        config = sampler.config
        snapshot = self._snapshot(self.environment.involved_classes)
        saved = (
            set(self.called), list(self.outputs), self.output_pool.copy(), dict(self.positions),
            list(self.credentials),
        )
        saved_state = (dict(self._class_pools), dict(self._contents), dict(self._digest_texts))
        tried: set[str] = set()
        directed = config.strategy == "directed"
        satisfied = self.satisfied() if directed else frozenset()
        goal = self.goal
        task = (
            goal.tasks[round_index].target
            if goal is not None and round_index < len(goal.tasks) else None
        )
        # Most rounds earn their target's produced values by calls of their own; the last
        # try of a round takes them from anywhere, so a goal is not lost to one hard state.
        earn = directed and goal is not None and self.rng.random() < config.goal.earn_share
        for attempt in range(config.target_retries):
            self.round_sources = []
            if config.strategy == "random_walk":
                calls = self._random_round(round_index)
                target = calls[-1].tool if calls else None
            else:
                if task is not None and attempt == 0:
                    target = task
                else:
                    pool = self._alternatives() if goal is not None else self.targets
                    target = sampler.choose_target(pool, self.rng, tried, satisfied)
                    if target is None and pool is not self.targets:
                        target = sampler.choose_target(self.targets, self.rng, tried, satisfied)
                if target is None:
                    break
                tried.add(target)
                last = attempt == config.target_retries - 1
                calls = self._directed_round(round_index, target, earn and not last)
            if calls and target is not None:
                if directed:
                    calls = self._prune(round_index, target, calls, saved)
                planned = self._finish_round(round_index, target, calls)
                self.rounds.append(planned)
                if goal is not None:
                    self.binder.remember(meaningful_values(planned))
                return planned
            sampler.stats.rounds_failed["target_unreachable" if target else "no_target"] += 1
            if target is not None:
                sampler.stats.target_failures[target] += 1
            self.environment.restore(snapshot)
            # Every class is back to the round's start: so are the copies describing it.
            self._snapshots = snapshot.parts()
            self._class_pools, self._contents = dict(saved_state[0]), dict(saved_state[1])
            self._sessions = {}
            self._digest_texts = dict(saved_state[2])
            self.called, self.outputs, self.output_pool, self.positions = (
                set(saved[0]), list(saved[1]), saved[2].copy(), dict(saved[3])
            )
            self.credentials = list(saved[4])
        return None

    def _directed_round(
        self, round_index: int, target: str, earn: bool = False
    ) -> list[ExecutedCall] | None:
        config = self.sampler.config
        rng = self.rng
        budget = rng.randint(config.min_calls, config.max_calls)
        calls: list[ExecutedCall] = []
        distances = self.sampler.index.distances(target)
        requirements = self.sampler.index.requirements(target)
        uses: Counter[str] = Counter()
        reached = False
        # In some rounds the target takes the values its producers make from their outputs
        # only (the ticket id `create_ticket` returns, not one read off the state), so the
        # walk reaches it through them, as the graph's data-flow edges say. An earned round
        # takes them from this round's calls (and the open session's credentials) only.
        produced = earn or rng.random() < _PRODUCED_SHARE
        # A target that undoes an entity (cancel, close, delete) acts on one that exists: made
        # by an earlier round or found by a lookup, never made by this round to be undone.
        undo = bool(_UNDO_TOOL.match(target))
        makers = frozenset(
            name for name in self.sampler.index.graph.predecessors(target)
            if name not in self._read_only and not is_auth_tool(name)
        ) if undo else frozenset()
        sources = self.sampler.index.graph.nodes[target].get("data_sources", {})
        lacking: str | None = None  # the value the target could not bind at its last try
        while len(calls) < config.max_calls:
            if reached:
                if len(calls) >= budget or rng.random() < config.tail_stop_probability:
                    break
                if not self._follow_up(target, round_index, calls, uses):
                    break
                continue
            # Eq. 1 is state-aware: with prerequisites not yet called the state may still
            # satisfy them, and only the call itself can tell, so the target is tried first;
            # not again, though, while it lacks a value the calls since made none of.
            if lacking is None or calls[-1].tool in sources.get(lacking, ()):
                outputs = SourcePool([*self.round_sources, *self.credentials]) if earn else None
                self.unbound = None
                if self._use(target, round_index, calls, uses, produced, outputs):
                    reached = True
                    continue
                lacking = self.unbound
            else:
                self.unbound = lacking
            # Eq. 2: the legal tool nearest to the target (random tie-break), the tools that
            # make what the target lacks (a value it could not bind, an unmet prerequisite)
            # and what those lack first.
            needed = self._needed(target, self.unbound)
            candidates = [
                tool
                for tool, hops in distances.items()
                if hops > 0 and tool in self.environment.methods and uses.get(tool, 0) < 2
                and tool not in makers
            ]
            rng.shuffle(candidates)
            # Looking an entity up comes before making a new one: the invoice of the booking
            # already made, not a second booking to cancel.
            candidates.sort(key=lambda tool: (
                needed.get(tool, 9), tool not in self._read_only, distances[tool]
            ))
            if earn and any(tool in needed for tool in candidates):
                # An earned round takes only steps that make what the target lacks: a call
                # that merely lies near it in the graph would be a request of its own.
                candidates = [tool for tool in candidates if tool in needed]
            # In an earned round the steps earn their own produced values too (the order's
            # id found in the history before its details are read), not only the target.
            if not any(
                self._step(tool, round_index, calls, uses, earn)
                for tool in candidates[:6]
                if not is_auth_tool(tool)
                or (tool in requirements and self._login_needed(tool))
            ):
                # No lookup finds the entity to undo: the one an earlier round made.
                if undo and earn and self._use(target, round_index, calls, uses, True):
                    reached = True
                    continue
                return None
        return calls if reached else None

    def _prune(
        self, round_index: int, target: str, calls: list[ExecutedCall], saved: tuple[Any, ...]
    ) -> list[ExecutedCall]:
        """The round without the lookups nothing in it used.

        A step toward a target that could not bind may look things up that the target then
        did not take (the airports listed before the nearest one was asked for): a person
        would not ask for them, so the query would have to. A read-only call changes no state,
        so dropping it leaves every later result and state as recorded. Kept: the target and
        its tail, every call that changes state or opens a session, and every call whose
        output a kept call took.
        """
        read_only = self._read_only
        position = next(i for i, call in enumerate(calls) if call.tool == target)
        keep = set(range(position, len(calls))) | {
            i for i, call in enumerate(calls[:position])
            if call.tool not in read_only or is_auth_tool(call.tool)
        }
        prefix = f"{round_index}."
        pending = sorted(keep)
        while pending:
            for argument in calls[pending.pop()].arguments:
                if argument.provenance == "output" and argument.source.startswith(prefix):
                    index = int(argument.source.split(":", 1)[0].split(".")[1])
                    if index not in keep:
                        keep.add(index)
                        pending.append(index)
        if len(keep) == len(calls):
            return calls
        renumber = {old: new for new, old in enumerate(sorted(keep))}

        def moved(source: str) -> str:
            place, _, path = source.partition(":")
            return f"{prefix}{renumber[int(place.split('.')[1])]}:{path}"

        kept = [
            calls[old].model_copy(update={
                "index": renumber[old],
                "arguments": [
                    argument.model_copy(update={"source": moved(argument.source)})
                    if argument.provenance == "output" and argument.source.startswith(prefix)
                    else argument
                    for argument in calls[old].arguments
                ],
            })
            for old in sorted(keep)
        ]
        # The walk's record of outputs: the pruned calls' go, the kept ones are renumbered.
        start = len(saved[1])
        outputs = list(self.outputs[:start])
        for entry in self.outputs[start:]:
            old = int(self.positions[entry[0]].split(".")[1])
            if old in keep:
                self.positions[entry[0]] = f"{prefix}{renumber[old]}"
                outputs.append(entry)
            else:
                del self.positions[entry[0]]
        self.outputs = outputs
        self.output_pool = saved[2].copy()
        self.output_pool.extend(output_sources(outputs[start:]))
        self.called = set(saved[0]) | {call.tool for call in kept}
        return kept

    def _follow_up(
        self, target: str, round_index: int, calls: list[ExecutedCall], uses: Counter[str]
    ) -> bool:
        """One call of the post-target tail: it acts on what this round made or found.

        METHOD.md's tail is any legal tool; one unrelated to the round's own results would be
        a second request stitched onto the first, so the tail takes a value a call of this
        round produced (the invoice of the booking just made) and never undoes one.
        """
        sampler = self.sampler
        nodes = sampler.index.graph.nodes
        made = {call.tool for call in calls}
        # Tools with a parameter only a call makes (not one the user states) that a call of
        # this round makes: bound from this round's outputs only, they build on it.
        pool = sorted(
            tool for tool, params in sampler.produced_params.items()
            if tool != target and tool in self.environment.methods and uses.get(tool, 0) < 1
            and not is_auth_tool(tool) and not _UNDO_TOOL.match(tool)
            and any(made & set(nodes[tool]["data_sources"][name]) for name in params)
        )
        self.rng.shuffle(pool)
        outputs = SourcePool(self.round_sources)
        return any(
            self._use(tool, round_index, calls, uses, True, outputs, follow_up=True)
            for tool in pool[:4]
        )

    def _needed(self, target: str, unbound: str | None) -> dict[str, int]:
        """Tools that make what the target lacks, by rank (0 first), two levels deep.

        Rank 0: producers of the parameter the target could not bind, or members of its
        prerequisite groups no call of this dialogue met; rank 1: the same for those tools.
        """
        index = self.sampler.index
        ranks: dict[str, int] = {}
        level = [(target, unbound)]
        for rank in range(2):
            following: list[tuple[str, str | None]] = []
            for tool, missing in level:
                sources = index.graph.nodes[tool].get("data_sources", {})
                found = set(sources.get(missing, ())) if missing else set()
                if not found:
                    found = {name for names in sources.values() for name in names}
                for group in index.prerequisites.get(tool, ()):
                    if not group & self.called:
                        found |= group
                # Tools whose effect the tool was seen to need (entering the folder a file
                # is in), beyond the groups every probed state needed.
                found.update(
                    source for source, _, kinds in index.graph.in_edges(tool, data="kinds")
                    if "state" in (kinds or ()) and source not in self.called
                )
                for name in sorted(found - {target}):
                    if name not in ranks:
                        ranks[name] = rank
                        following.append((name, None))
            level = following
        return ranks

    def _step(
        self, tool: str, round_index: int, calls: list[ExecutedCall], uses: Counter[str],
        earn: bool,
    ) -> bool:
        """Call a step toward the target; in an earned round it earns its own inputs too.

        A lookup that cannot (the invoice of a booking no call of this round made) may then
        name what earlier rounds made: looking up *that* booking, never a second booking made
        only to be cancelled.
        """
        if not earn:
            return self._use(tool, round_index, calls, uses)
        pool = SourcePool([*self.round_sources, *self.credentials])
        if self._use(tool, round_index, calls, uses, True, pool):
            return True
        return tool in self._read_only and self._use(tool, round_index, calls, uses, True)

    def _random_round(self, round_index: int) -> list[ExecutedCall] | None:
        config = self.sampler.config
        rng = self.rng
        budget = rng.randint(config.min_calls, config.max_calls)
        calls: list[ExecutedCall] = []
        uses: Counter[str] = Counter()
        failures = 0
        # Every call of the baseline is filler: sessions are neither opened nor closed.
        fillers = [tool for tool in self.tools if not is_auth_tool(tool)] or self.tools
        while len(calls) < budget and failures < 3 * budget:
            tool = rng.choice(fillers)
            if not self._use(tool, round_index, calls, uses):
                failures += 1
        return calls or None

    def _use(
        self,
        tool: str,
        round_index: int,
        calls: list[ExecutedCall],
        uses: Counter[str],
        produced_only: bool = False,
        outputs: SourcePool | None = None,
        follow_up: bool = False,
    ) -> bool:
        if self.try_call(tool, round_index, calls, produced_only, outputs, follow_up):
            uses[tool] += 1
            return True
        return False

    def _finish_round(
        self, round_index: int, target: str, calls: list[ExecutedCall]
    ) -> PlannedRound:
        graph = self.sampler.index.graph
        edges = [
            (earlier.tool, later.tool)
            for position, later in enumerate(calls)
            for earlier in calls[:position]
            if graph.has_edge(earlier.tool, later.tool)
        ]
        target_position = next(i for i, call in enumerate(calls) if call.tool == target)
        depth = _chain_depth(calls[: target_position + 1], graph, round_index)
        read_only = all(
            graph.nodes[call.tool].get("read_only") is True for call in calls
        )
        return PlannedRound(
            index=round_index,
            target=target,
            variant="base",
            calls=calls,
            state_digest_after=self.environment.digest(self._digest_texts),
            dependency_depth=depth,
            edges_followed=sorted(set(edges)),
            read_only=read_only,
        )


def _any_true(output: Any) -> bool:
    if output is True:
        return True
    if isinstance(output, dict):
        return any(_any_true(value) for value in output.values())
    if isinstance(output, list):
        return any(_any_true(value) for value in output)
    return False


def _chain_depth(calls: Sequence[ExecutedCall], graph: nx.DiGraph, round_index: int) -> int:
    """Longest chain of dependent calls of one round ending at its last call.

    A call depends on an earlier call of the round when it takes that call's output or the
    graph has an edge between their tools; values from earlier rounds add no depth.
    """
    depth = [0] * len(calls)
    for later in range(len(calls)):
        used = {
            argument.source.split(":", 1)[0]
            for argument in calls[later].arguments
            if argument.provenance == "output"
        }
        for earlier in range(later):
            depends = graph.has_edge(calls[earlier].tool, calls[later].tool) or (
                f"{round_index}.{calls[earlier].index}" in used
            )
            if depends:
                depth[later] = max(depth[later], depth[earlier] + 1)
    return depth[-1] if depth else 0
