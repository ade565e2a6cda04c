"""Phase I: the directed graph sampler and multi-round ground-truth plans.

A dialogue runs N rounds on one persistent environment. Each round picks a target tool and
walks the API graph toward it (METHOD.md, Eq. 2): the target as soon as it is legal, otherwise
the legal tool nearest to it, then optionally a short random tail. Legality (Eq. 1) is
state-aware: a prerequisite group is met when one of its tools was called in this dialogue, or
when the current state already satisfies it (the call succeeds). Every call is executed for
real; the executed trace is the ground truth.

The random-walk baseline the paper argues against (random legal calls, no target) runs on the
same seeds behind `SamplerConfig.strategy` so the two can be compared.
"""

from __future__ import annotations

import random
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
    UnbindableError,
    class_sources,
    output_sources,
)
from funreason_assets.lib.environments import Environment, EnvironmentSnapshot
from funreason_assets.lib.executor import ParsedCall, execute_call, format_call
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
        default=1.0, description="Extra target weight per level of prerequisite depth."
    )
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


@dataclass
class GraphIndex:
    """Precomputed graph facts the sampler needs on its hot path."""

    graph: nx.DiGraph
    prerequisites: dict[str, list[frozenset[str]]]
    data_sources: dict[str, frozenset[str]]
    depth: dict[str, int]
    read_only: frozenset[str] = frozenset()
    _distances: dict[str, dict[str, int]] = field(default_factory=dict)

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

    def _dependency_depth(self, target: str) -> int:
        distances = self.distances(target)
        return max(distances.values(), default=0)


def _argument(name: str, bound: BoundValue, call_positions: Mapping[int, str]) -> Argument:
    if bound.provenance == "output":
        # Paths look like `call:<global index>:<tool>:<field path>`.
        _, index, _tool, path = bound.source.split(":", 3)
        return Argument(
            name=name,
            value=bound.value,
            provenance="output",
            source=f"{call_positions[int(index)]}:{path}",
        )
    if bound.provenance == "state":
        return Argument(name=name, value=bound.value, provenance="state", source=bound.source)
    return Argument(
        name=name, value=bound.value, provenance="literal", source=bound.source or "typed"
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
        self.config = config or SamplerConfig()
        if literals is None:
            literals = merged_literal_domains(
                env_class.cls for env_class in registry.classes.values()
            )
        self.literals = literals
        self.stats = SamplerStats()
        self.graph_fingerprint = str(graph.graph.get("registry_fingerprint", ""))

    # ------------------------------------------------------------------ dialogue level

    def sample(
        self,
        scenario_id: str,
        seed: int,
        involved_classes: Sequence[str],
        initial_config: Mapping[str, Any],
        shard: str = "",
    ) -> DialoguePlan | None:
        """Sample one dialogue plan, or None if it cannot reach the minimum number of rounds."""
        config = self.config
        rng = random.Random(f"plan:{config.strategy}:{seed}")
        self.stats.dialogues_attempted += 1
        category = self._category(rng)
        long_context = category == "long_context"
        environment = self.registry.environment(involved_classes, initial_config, long_context)
        walk = _DialogueWalk(self, environment, rng)
        n_rounds = rng.randint(config.min_rounds, config.max_rounds)
        for round_index in range(n_rounds):
            planned = walk.next_round(round_index)
            if planned is None:
                break
        if len(walk.rounds) < config.min_rounds:
            self.stats.dropped["too_few_rounds"] += 1
            return None
        rounds = self._apply_variants(walk.rounds, category, rng)
        self.stats.dialogues_kept += 1
        for planned in rounds:
            for call in planned.executed_calls():
                self.stats.tools_reached[call.tool] += 1
        return DialoguePlan(
            plan_id=stable_id("plan", config.strategy, scenario_id, seed),
            scenario_id=scenario_id,
            shard=shard,
            seed=seed,
            sampler=config.strategy,
            involved_classes=list(involved_classes),
            initial_config=dict(initial_config),
            long_context=long_context,
            rounds=rounds,
            graph_fingerprint=self.graph_fingerprint,
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

    def choose_target(
        self, tools: Sequence[str], rng: random.Random, exclude: set[str]
    ) -> str | None:
        """Weighted choice favouring rarely-targeted and deeply-dependent tools."""
        candidates = [tool for tool in tools if tool not in exclude]
        if not candidates:
            return None
        depth = self.index.depth
        bonus = self.config.depth_oversampling
        targets = self.stats.targets
        failures = self.stats.target_failures
        # Quotas: rarely-targeted tools first; deep ones oversampled; tools that keep failing
        # to be reached from these states lose weight so they do not eat the budget.
        # `get` rather than indexing: a Counter answers a missing key through a Python call.
        weights = [
            (1.0 + bonus * depth.get(tool, 0))
            / ((1.0 + targets.get(tool, 0)) * (1.0 + 0.5 * failures.get(tool, 0)))
            for tool in candidates
        ]
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

    def __init__(self, sampler: PlanSampler, environment: Environment, rng: random.Random):
        self.sampler = sampler
        self.environment = environment
        self.rng = rng
        self.binder = ArgumentBinder(rng, optional_rate=0.25, literals=sampler.literals)
        self.tools = [tool.name for tool in environment.tools]
        self.called: set[str] = set()
        self.outputs: list[tuple[int, str, Any]] = []
        self.output_pool = SourcePool()
        self.positions: dict[int, str] = {}
        self.rounds: list[PlannedRound] = []
        self._state_pool: SourcePool | None = None
        self._class_pools: dict[str, SourcePool] = {}
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

    # --------------------------------------------------------------- calls

    def _state(self) -> SourcePool:
        # The state's candidate values change only when a state-changing call succeeds or the
        # environment is rolled back, so they are computed once per state version, per class:
        # a call changes only its own class's state.
        if self._state_pool is None:
            pools = []
            for class_name in self.environment.involved_classes:
                if class_name in self._stateless:
                    continue
                pool = self._class_pools.get(class_name)
                if pool is None:
                    instance = self.environment.instances[class_name]
                    public = {k: v for k, v in vars(instance).items() if not k.startswith("_")}
                    pool = SourcePool(class_sources(class_name, public, STATE_SOURCE_LIMIT))
                    self._class_pools[class_name] = pool
                pools.append(pool)
            self._state_pool = pools[0] if len(pools) == 1 else SourcePool.union(pools)
        return self._state_pool

    def _invalidate(self, class_name: str) -> None:
        self._state_pool = None
        self._class_pools.pop(class_name, None)

    def _forget(self, class_name: str) -> None:
        """Drop the cached copies of a class whose state a call may have changed."""
        self._snapshots.pop(class_name, None)
        self._digest_texts.pop(class_name, None)

    def _snapshot(self, class_names: Sequence[str]) -> EnvironmentSnapshot:
        parts = []
        for name in class_names:
            part = self._snapshots.get(name)
            if part is None:
                part = self._snapshots[name] = self.environment.snapshot([name])
            parts.append(part)
        return parts[0] if len(parts) == 1 else EnvironmentSnapshot.combine(parts)

    def try_call(self, tool: str, round_index: int, calls: list[ExecutedCall]) -> bool:
        """Bind and execute a tool (re-sampling on errors); record it on success."""
        sampler = self.sampler
        spec = self.environment.methods[tool][1]
        sourced = sampler.index.data_sources.get(tool, frozenset())
        # A failing call may still change the state (BFCL's add_contact bumps its counter
        # before it fails), and failed attempts are not part of the ground truth, so calls that
        # can change state run against a snapshot they roll back to on failure.
        guard = (
            self._snapshot([spec.class_name])
            if tool not in self._read_only and spec.class_name not in self._stateless
            else None
        )
        for _ in range(sampler.config.resamples):
            try:
                bound = self.binder.bind(spec, self.output_pool, self._state, sourced=sourced)
            except UnbindableError:
                return False
            arguments = {name: value.value for name, value in bound.items()}
            outcome = execute_call(self.environment, ParsedCall(tool, (), arguments))
            if not outcome.ok:
                if guard is not None:
                    # Back to the exact state the cached pools and copies were taken from.
                    self.environment.restore(guard)
                else:
                    self._forget(spec.class_name)
                continue
            global_index = len(self.outputs)
            position = f"{round_index}.{len(calls)}"
            self.positions[global_index] = position
            calls.append(
                ExecutedCall(
                    index=len(calls),
                    tool=tool,
                    class_name=spec.class_name,
                    arguments=[
                        _argument(name, value, self.positions) for name, value in bound.items()
                    ],
                    call=format_call(tool, arguments),
                    status=outcome.status,
                    output=outcome.output,
                )
            )
            self.outputs.append((global_index, tool, outcome.output))
            self.output_pool.extend(output_sources([(global_index, tool, outcome.output)]))
            self.called.add(tool)
            # Read-only is what graph probing observed; the copies that define the recorded
            # ground truth (snapshots, digests) do not rely on it.
            self._forget(spec.class_name)
            if tool not in self._read_only:
                self._invalidate(spec.class_name)
            return True
        return False

    # --------------------------------------------------------------- rounds

    def next_round(self, round_index: int) -> PlannedRound | None:
        sampler = self.sampler
        config = sampler.config
        snapshot = self._snapshot(self.environment.involved_classes)
        saved = (
            set(self.called), list(self.outputs), self.output_pool.copy(), dict(self.positions)
        )
        saved_state = (dict(self._class_pools), self._state_pool, dict(self._digest_texts))
        tried: set[str] = set()
        for _ in range(config.target_retries):
            if config.strategy == "random_walk":
                calls = self._random_round(round_index)
                target = calls[-1].tool if calls else None
            else:
                target = sampler.choose_target(self.tools, self.rng, tried)
                if target is None:
                    break
                tried.add(target)
                calls = self._directed_round(round_index, target)
            if calls and target is not None:
                planned = self._finish_round(round_index, target, calls)
                self.rounds.append(planned)
                sampler.stats.targets[target] += 1
                return planned
            sampler.stats.rounds_failed["target_unreachable" if target else "no_target"] += 1
            if target is not None:
                sampler.stats.target_failures[target] += 1
            self.environment.restore(snapshot)
            # Every class is back to the round's start: so are the copies describing it.
            self._snapshots = snapshot.parts()
            self._class_pools, self._state_pool = dict(saved_state[0]), saved_state[1]
            self._digest_texts = dict(saved_state[2])
            self.called, self.outputs, self.output_pool, self.positions = (
                set(saved[0]), list(saved[1]), saved[2].copy(), dict(saved[3])
            )
        return None

    def _directed_round(self, round_index: int, target: str) -> list[ExecutedCall] | None:
        config = self.sampler.config
        rng = self.rng
        budget = rng.randint(config.min_calls, config.max_calls)
        calls: list[ExecutedCall] = []
        distances = self.sampler.index.distances(target)
        uses: Counter[str] = Counter()
        reached = False
        while len(calls) < config.max_calls:
            if reached:
                if len(calls) >= budget or rng.random() < config.tail_stop_probability:
                    break
                pool = [tool for tool in self.tools if tool != target and uses.get(tool, 0) < 1]
                rng.shuffle(pool)
                if not any(self._use(tool, round_index, calls, uses) for tool in pool[:4]):
                    break
                continue
            # Eq. 1 is state-aware: with prerequisites not yet called the state may still
            # satisfy them, and only the call itself can tell, so the target is tried first.
            if self._use(target, round_index, calls, uses):
                reached = True
                continue
            # Eq. 2: the legal tool nearest to the target (random tie-break).
            candidates = [
                tool
                for tool, hops in distances.items()
                if hops > 0 and tool in self.environment.methods and uses.get(tool, 0) < 2
            ]
            rng.shuffle(candidates)
            candidates.sort(key=lambda tool: distances[tool])
            if not any(self._use(tool, round_index, calls, uses) for tool in candidates[:6]):
                return None
        return calls if reached else None

    def _random_round(self, round_index: int) -> list[ExecutedCall] | None:
        config = self.sampler.config
        rng = self.rng
        budget = rng.randint(config.min_calls, config.max_calls)
        calls: list[ExecutedCall] = []
        uses: Counter[str] = Counter()
        failures = 0
        while len(calls) < budget and failures < 3 * budget:
            tool = rng.choice(self.tools)
            if not self._use(tool, round_index, calls, uses):
                failures += 1
        return calls or None

    def _use(
        self, tool: str, round_index: int, calls: list[ExecutedCall], uses: Counter[str]
    ) -> bool:
        if self.try_call(tool, round_index, calls):
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
        depth = _chain_depth(calls[: target_position + 1], graph)
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


def _chain_depth(calls: Sequence[ExecutedCall], graph: nx.DiGraph) -> int:
    """Longest chain of dependent calls ending at the last call (output use or graph edge)."""
    depth = [0] * len(calls)
    for later in range(len(calls)):
        used = {
            argument.source.split(":", 1)[0]
            for argument in calls[later].arguments
            if argument.provenance == "output"
        }
        for earlier in range(later):
            depends = graph.has_edge(calls[earlier].tool, calls[later].tool) or any(
                source.endswith(f".{earlier}") for source in used
            )
            if depends:
                depth[later] = max(depth[later], depth[earlier] + 1)
    return depth[-1] if depth else 0
