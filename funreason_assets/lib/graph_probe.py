"""Execution probing: the engine that finds the API graph's edges (METHOD.md, Phase I).

Every tool of a class is called on a few initial configs of that class; what makes a failing
call succeed is evidence of an edge Ti -> Tj:

- `data_flow`: a value in Ti's output, passed as parameter p of Tj, makes Tj succeed, while a
  fabricated value of the same type makes it fail (the value matters and Ti produces it).
- `state`: Tj fails from a fresh state with some arguments, and succeeds with the very same
  arguments after Ti ran (Ti's effect on the state is a precondition of Tj). When no single
  tool suffices, pairs are probed, which yields AND-prerequisites (lock the doors AND press the
  brake before starting the engine).

Each node stores `prerequisites`: an AND-list of OR-groups of tool names (any member of a group
satisfies it), and `data_sources`: parameter -> tools whose output can fill it.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from funreason_assets.lib.binding import (
    ENUM_LIKE_TYPES,
    IDENTITY_TYPES,
    MEASURED_TYPES,
    ArgumentBinder,
    UnbindableError,
    ValueSource,
    is_generic_field,
    output_sources,
    param_profiles,
    plain_arguments,
    state_content,
    state_sources,
    tokens,
)
from funreason_assets.lib.environments import Environment
from funreason_assets.lib.executor import ParsedCall, execute_call, format_call
from funreason_assets.lib.literals import merged_literal_domains
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.state import state_digest
from funreason_assets.lib.tools import ToolSpec
from funreason_assets.lib.value_types import value_type

EDGE_KINDS = ("data_flow", "state")


@dataclass(frozen=True)
class ProbeScenario:
    """An initial config of one class used for probing."""

    label: str
    class_name: str
    config: Mapping[str, Any]


@dataclass
class GraphBuildConfig:
    """Probe budget.

    Attributes:
        binds_per_tool: Argument samples tried per tool and state before calling it failed.
        variants_per_tool: Distinct successful calls kept per tool as possible prerequisites.
        probe_pairs: Whether to search pairs of tools for AND-prerequisites.
        max_pairs: At most this many ordered pairs are tried per failing tool and scenario.
        max_chain_depth: Levels of single prerequisites searched (login -> create -> close).
        seed: Seed of the binder's random source.
    """

    binds_per_tool: int = 8
    variants_per_tool: int = 3
    probe_pairs: bool = True
    max_pairs: int = 400
    max_chain_depth: int = 3
    seed: int = 0


@dataclass
class _Success:
    tool: ToolSpec
    arguments: dict[str, Any]
    output: Any
    state_changed: bool
    snapshot_before: Any = field(repr=False, default=None)
    snapshot_after: Any = field(repr=False, default=None)
    prefix: tuple[str, ...] = ()  # calls that ran before this one, in BFCL syntax


def _fabricated(value: Any) -> Any:
    if isinstance(value, str):
        return "zz-unknown-7f3a"
    if isinstance(value, int):
        return 987_654_321
    return None


def _call_ok(environment: Environment, tool: ToolSpec, arguments: Mapping[str, Any]) -> bool:
    return execute_call(environment, ParsedCall(tool.name, (), dict(arguments))).ok


class GraphBuilder:
    """Probes one class at a time and accumulates evidence into a networkx graph."""

    def __init__(self, registry: ToolRegistry, config: GraphBuildConfig | None = None):
        """Start an empty graph with one node per tool of the registry."""
        self.registry = registry
        self.config = config or GraphBuildConfig()
        self.graph = nx.DiGraph()
        for tool in registry.tools():
            self.graph.add_node(
                tool.name,
                class_name=tool.class_name,
                description=tool.description,
                read_only=None,
                probes_succeeded=0,
                probes_failed_fresh=0,
            )
        self._groups: dict[str, list[frozenset[str]]] = defaultdict(list)
        self._data_sources: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        # Successful calls per tool, and those that changed the state themselves (a call that
        # only succeeds after a login still reads, it does not write).
        self._calls_ok: Counter[str] = Counter()
        self._state_changes: Counter[str] = Counter()
        self.literals = merged_literal_domains(
            env_class.cls for env_class in registry.classes.values()
        )

    def _add_evidence(self, source: str, target: str, kind: str, evidence: dict[str, Any]) -> None:
        if not self.graph.has_edge(source, target):
            self.graph.add_edge(source, target, kinds=[], evidence=[])
        data = self.graph.edges[source, target]
        if kind not in data["kinds"]:
            data["kinds"].append(kind)
            data["kinds"].sort()
        # A few probes per kind are enough evidence; more only bloats the graph file.
        if sum(1 for item in data["evidence"] if item["kind"] == kind) < 2:
            data["evidence"].append({"kind": kind, **evidence})

    def probe(self, scenario: ProbeScenario) -> None:
        """Probe every tool of one class on one initial config."""
        env_class = self.registry.classes[scenario.class_name]
        prober = _ScenarioProbe(self, scenario, list(env_class.tools.values()))
        prober.run()

    def finish(self) -> nx.DiGraph:
        """Write prerequisites, data sources and read-only flags onto the nodes."""
        for name in self.graph.nodes:
            node = self.graph.nodes[name]
            node["prerequisites"] = [sorted(group) for group in minimal_groups(self._groups[name])]
            node["data_sources"] = {
                param: sorted(producers)
                for param, producers in sorted(self._data_sources[name].items())
            }
            if self._calls_ok[name]:
                node["read_only"] = self._state_changes[name] == 0
        self.graph.graph["edge_kinds"] = list(EDGE_KINDS)
        return self.graph


def minimal_groups(groups: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """Drop duplicate OR-groups and any group that a smaller group already implies.

    Prerequisites are an AND of OR-groups: if group H is a subset of group G, whatever
    satisfies H satisfies G, so G adds nothing.
    """
    unique = sorted(set(groups), key=lambda group: (len(group), sorted(group)))
    kept: list[frozenset[str]] = []
    for group in unique:
        if not any(smaller <= group for smaller in kept):
            kept.append(group)
    return kept


def build_api_graph(
    registry: ToolRegistry,
    scenarios: Sequence[ProbeScenario],
    config: GraphBuildConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> nx.DiGraph:
    """Probe every scenario and return the finished graph."""
    builder = GraphBuilder(registry, config)
    for scenario in scenarios:
        if progress:
            progress(f"probing {scenario.label}")
        builder.probe(scenario)
    graph = builder.finish()
    graph.graph["probe_scenarios"] = [scenario.label for scenario in scenarios]
    graph.graph["registry_fingerprint"] = registry.fingerprint()
    return graph


class _ScenarioProbe:
    """All probes of one class on one initial config."""

    def __init__(self, builder: GraphBuilder, scenario: ProbeScenario, tools: list[ToolSpec]):
        self.builder = builder
        self.scenario = scenario
        self.tools = tools
        self.config = builder.config
        self.binder = ArgumentBinder(
            random.Random(f"{self.config.seed}:{scenario.label}"),
            builder.registry,
            optional_rate=0.2,
            literals=builder.literals,
        )
        self.environment = builder.registry.environment(
            [scenario.class_name], {scenario.class_name: dict(scenario.config)}
        )
        self.fresh = self.environment.snapshot()
        self.fresh_digest = self.environment.digest()
        self.successes: dict[str, list[_Success]] = defaultdict(list)
        # Digest of the state the last successful attempt started from.
        self._digest_before = self.fresh_digest

    def _known_outputs(self) -> list[ValueSource]:
        calls = [
            (index, name, variants[0].output)
            for index, (name, variants) in enumerate(sorted(self.successes.items()))
            if variants
        ]
        return output_sources(calls)

    def _attempt(
        self, tool: ToolSpec, before: Any, outputs: Sequence[ValueSource], attempts: int
    ) -> tuple[dict[str, Any], Any] | None:
        environment = self.environment
        for attempt in range(attempts):
            environment.restore(before)
            current = environment.state()
            try:
                bound = self.binder.bind(
                    tool,
                    outputs,
                    state_sources(current),
                    content=lambda: state_content(current.get(tool.class_name, {})),
                    attempt=attempt,
                )
            except UnbindableError:
                continue
            arguments = plain_arguments(bound)
            outcome = execute_call(environment, ParsedCall(tool.name, (), arguments))
            if outcome.ok:
                self._digest_before = state_digest(current)
                return arguments, outcome.output
        return None

    def _record(
        self, tool: ToolSpec, before: Any, arguments: dict[str, Any], output: Any, prefix=()
    ) -> _Success:
        digest = self.environment.digest()
        success = _Success(
            tool,
            arguments,
            output,
            digest != self.fresh_digest,
            before,
            self.environment.snapshot(),
            tuple(prefix),
        )
        self.successes[tool.name].append(success)
        self.builder._calls_ok[tool.name] += 1
        if digest != self._digest_before:
            self.builder._state_changes[tool.name] += 1
        return success

    def _fresh_pass(self, tools: Sequence[ToolSpec], outputs: Sequence[ValueSource]) -> None:
        for tool in tools:
            seen = {
                json.dumps(s.arguments, sort_keys=True, default=str)
                for s in self.successes[tool.name]
            }
            for _ in range(self.config.variants_per_tool):
                found = self._attempt(tool, self.fresh, outputs, self.config.binds_per_tool)
                if found is None:
                    break
                key = json.dumps(found[0], sort_keys=True, default=str)
                if key not in seen:
                    seen.add(key)
                    self._record(tool, self.fresh, *found)

    def run(self) -> None:
        graph = self.builder.graph
        self._fresh_pass(self.tools, ())
        failing = [tool for tool in self.tools if not self.successes[tool.name]]
        self._fresh_pass(failing, self._known_outputs())
        failing = [tool for tool in self.tools if not self.successes[tool.name]]
        for tool in self.tools:
            node = graph.nodes[tool.name]
            if self.successes[tool.name]:
                node["probes_succeeded"] += 1
            else:
                node["probes_failed_fresh"] += 1
        self._probe_state(failing)
        self._probe_data_flow()
        self._probe_measures()

    def _fixed_by(
        self, target: ToolSpec, prefix: Sequence[_Success]
    ) -> tuple[Any, Any, Any] | None:
        """Try the target after `prefix`; confirm by failing the same call without the last step.

        The counterfactual baseline is the state just before the prefix's first new step, so
        that the evidence names the tools whose effects the target needs.
        """
        environment = self.environment
        if len(prefix) == 1:
            before = prefix[0].snapshot_after
            baseline = prefix[0].snapshot_before
        else:
            environment.restore(self.fresh)
            for step in prefix:
                if not _call_ok(environment, step.tool, step.arguments):
                    return None
            before = environment.snapshot()
            baseline = self.fresh
        outputs = output_sources(
            [(index, step.tool.name, step.output) for index, step in enumerate(prefix)]
        ) + self._known_outputs()
        found = self._attempt(target, before, outputs, self.config.binds_per_tool)
        if found is None:
            return None
        arguments, output = found
        after = environment.snapshot()
        environment.restore(baseline)
        if _call_ok(environment, target, arguments):
            return None
        environment.restore(after)
        return before, arguments, output

    def _evidence_calls(self, success: _Success) -> list[str]:
        return [*success.prefix, format_call(success.tool.name, success.arguments)]

    def _probe_state(self, failing: Sequence[ToolSpec]) -> None:
        """Find single prerequisites level by level (chains), then AND-pairs for the rest."""
        frontier = [
            variant
            for variants in self.successes.values()
            for variant in variants
            if variant.state_changed
        ]
        remaining = list(failing)
        for _level in range(self.config.max_chain_depth):
            next_frontier = self._chain_level(frontier, remaining)
            if not next_frontier or not remaining:
                break
            frontier = next_frontier
        if self.config.probe_pairs:
            paired = []
            for target in list(remaining):
                record = self._probe_pairs(target)
                if record is not None:
                    paired.append(record)
                    remaining.remove(target)
            # What an AND-pair enables may enable more (lock the doors and press the brake,
            # start the engine, then set the cruise control): one more level from there.
            if paired and remaining:
                self._chain_level(paired, remaining)

    def _chain_level(
        self, frontier: Sequence[_Success], remaining: list[ToolSpec]
    ) -> list[_Success]:
        """Single prerequisites of the remaining tools among the frontier's calls.

        Tools found fixed are removed from `remaining`; their successful calls are returned
        as the next level's frontier.
        """
        builder = self.builder
        label = self.scenario.label
        next_frontier: list[_Success] = []
        for target in list(remaining):
            fixes: dict[str, _Success] = {}
            for variant in frontier:
                if variant.tool.name == target.name or variant.tool.name in fixes:
                    continue
                fixed = self._fixed_by(target, [variant])
                if fixed is None:
                    continue
                before, arguments, output = fixed
                fixes[variant.tool.name] = variant
                record = self._record(
                    target,
                    before,
                    arguments,
                    output,
                    prefix=self._evidence_calls(variant),
                )
                next_frontier.append(record)
                builder._add_evidence(
                    variant.tool.name,
                    target.name,
                    "state",
                    {
                        "scenario": label,
                        "prerequisite_calls": self._evidence_calls(variant),
                        "call": format_call(target.name, arguments),
                        "fails_without_prerequisite": True,
                    },
                )
            if fixes:
                builder._groups[target.name].append(frozenset(fixes))
                remaining.remove(target)
        return next_frontier

    def _probe_pairs(self, target: ToolSpec) -> _Success | None:
        builder = self.builder
        changers = [
            variant
            for name, variants in sorted(self.successes.items())
            if name != target.name
            for variant in variants
            if variant.state_changed and not variant.prefix
        ]
        pairs = [
            (first, second)
            for first, second in itertools.permutations(changers, 2)
            if first.tool.name != second.tool.name
        ]
        for first, second in pairs[: self.config.max_pairs]:
            fixed = self._fixed_by(target, [first, second])
            if fixed is None:
                continue
            before, arguments, output = fixed
            # Neither alone may suffice with these arguments, or it is not an AND of two.
            alone_ok = False
            for step in (first, second):
                self.environment.restore(step.snapshot_after)
                alone_ok = alone_ok or _call_ok(self.environment, target, arguments)
            if alone_ok:
                continue
            self.environment.restore(before)
            _call_ok(self.environment, target, arguments)
            calls = [
                format_call(first.tool.name, first.arguments),
                format_call(second.tool.name, second.arguments),
            ]
            record = self._record(target, before, arguments, output, prefix=calls)
            for step in (first, second):
                builder._add_evidence(
                    step.tool.name,
                    target.name,
                    "state",
                    {
                        "scenario": self.scenario.label,
                        "prerequisite_calls": calls,
                        "call": format_call(target.name, arguments),
                        "fails_without_prerequisite": True,
                        "and_group": True,
                    },
                )
            builder._groups[target.name].append(frozenset({first.tool.name}))
            builder._groups[target.name].append(frozenset({second.tool.name}))
            return record
        return None

    def _chosen_by_user(self, tool: ToolSpec, parameter: str) -> bool:
        """Whether a parameter's value is one the user makes up (an amount, a date, a text).

        Such a value is not produced by a tool even when an earlier output happens to hold a
        number that works (an order's share count is no amount to withdraw): no data flow.
        Values from a documented set (zipcodes, airports), ids and who someone is (a user's name
        as `list_users` lists it) can be produced.
        """
        kind = self.builder.registry.value_type(tool.name, parameter)
        return (
            value_type(kind).provide is not None
            and kind not in ENUM_LIKE_TYPES
            and kind not in IDENTITY_TYPES
        )

    def _probe_data_flow(self) -> None:
        """Confirm that a produced value, and not just any value, makes a call succeed."""
        produced: dict[Any, list[tuple[str, str]]] = defaultdict(list)
        for name, variants in self.successes.items():
            for variant in variants:
                for source in output_sources([(0, name, variant.output)]):
                    value = source.value
                    if isinstance(value, bool) or not isinstance(value, str | int):
                        continue
                    if is_generic_field(source.path):
                        continue
                    produced[(type(value), value)].append((name, source.path.split(":", 3)[-1]))
        environment = self.environment
        for consumer in self.tools:
            for success in self.successes[consumer.name]:
                for profile in param_profiles(consumer):
                    if profile.schema.get("enum") or profile.name not in success.arguments:
                        continue
                    if self._chosen_by_user(consumer, profile.name):
                        continue
                    value = success.arguments[profile.name]
                    if isinstance(value, bool) or not isinstance(value, str | int):
                        continue
                    producers = [
                        (name, path)
                        for name, path in produced.get((type(value), value), [])
                        if name != consumer.name
                        and (
                            isinstance(value, str)
                            or profile.name_tokens & tokens_of_path(path)
                            or profile.description_tokens & tokens_of_path(path)
                            # A bare list of numbers is a list of what its tool is named
                            # for: `get_order_history` lists order ids.
                            or ("[]" in path and profile.name_tokens & tokens(name))
                        )
                    ]
                    if isinstance(value, str) and len(value) < 2:
                        continue
                    if not producers:
                        continue
                    contrast = dict(success.arguments)
                    contrast[profile.name] = _fabricated(value)
                    environment.restore(success.snapshot_before)
                    if _call_ok(environment, consumer, contrast):
                        continue
                    for name, path in producers:
                        self.builder._data_sources[consumer.name][profile.name].add(name)
                        producer_call = self.successes[name][0]
                        self.builder._add_evidence(
                            name,
                            consumer.name,
                            "data_flow",
                            {
                                "scenario": self.scenario.label,
                                "producer_call": format_call(name, producer_call.arguments),
                                "output_field": path,
                                "parameter": profile.name,
                                "consumer_call": format_call(consumer.name, success.arguments),
                                "contrast_call_failed": format_call(consumer.name, contrast),
                            },
                        )


    def _probe_measures(self) -> None:
        """Confirm measured values: a price or distance a tool returns that a call takes.

        Any number makes such a call succeed (an order at any price), so no contrast can
        confirm the flow; what does is a field named as the parameter (`price`, `distance`) in
        a producer's result, and the call succeeding with that very value.
        """
        environment = self.environment
        for consumer in self.tools:
            measured = [
                profile for profile in param_profiles(consumer)
                if self.builder.registry.value_type(consumer.name, profile.name) in MEASURED_TYPES
            ]
            for profile in measured:
                success = next(
                    (s for s in self.successes[consumer.name] if profile.name in s.arguments),
                    None,
                )
                if success is None:
                    continue
                for name, variants in sorted(self.successes.items()):
                    if name == consumer.name or not variants:
                        continue
                    source = next((
                        source for source in output_sources([(0, name, variants[0].output)])
                        if isinstance(source.value, int | float)
                        and not isinstance(source.value, bool)
                        and tokens_of_path(source.path.split(":", 3)[-1]) == profile.name_tokens
                    ), None)
                    if source is None:
                        continue
                    arguments = {**success.arguments, profile.name: source.value}
                    environment.restore(success.snapshot_before)
                    if not _call_ok(environment, consumer, arguments):
                        continue
                    self.builder._data_sources[consumer.name][profile.name].add(name)
                    self.builder._add_evidence(name, consumer.name, "data_flow", {
                        "scenario": self.scenario.label,
                        "producer_call": format_call(name, variants[0].arguments),
                        "output_field": source.path.split(":", 3)[-1],
                        "parameter": profile.name,
                        "consumer_call": format_call(consumer.name, arguments),
                        "measured": True,
                    })


def tokens_of_path(path: str) -> frozenset[str]:
    """Tokens of an output field path."""
    return tokens(path.replace("[]", "").replace("<key>", ""))
