"""A small run's records made offline (scripted roles), for tests of lineage and the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funreason_assets.lib.graph import graph_to_json
from funreason_assets.lib.llm.settings import ModelSettings
from funreason_assets.lib.reasoning import ChainConfig, build_chains
from funreason_assets.lib.records import DialoguePlan, HardQuery, ReasoningChain
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.roles.dispatch import RoleSet
from funreason_assets.lib.sampler import PlanSampler, SamplerConfig
from funreason_assets.lib.scenarios.generators import Scenario, generate_scenario, shard_seeds
from funreason_assets.lib.synthesis import synthesize_queries


@dataclass
class RunRecords:
    """The records of one shard, as the pipeline's phases make them."""

    scenarios: list[Scenario]
    plans: list[DialoguePlan]
    queries: list[HardQuery]
    chains: list[ReasoningChain]
    graph: dict[str, Any]


def make_run_records(
    registry: ToolRegistry, graph: Any, shard: str = "shard-0000", count: int = 24, seed: int = 7
) -> RunRecords:
    """Scenarios, plans, hard queries and reasoning chains of one shard (offline roles)."""
    sampler = PlanSampler(registry, graph, SamplerConfig())
    scenarios, plans = [], []
    for scenario_seed in shard_seeds(shard, count, seed):
        scenario = generate_scenario(scenario_seed, sorted(registry.classes), 1, 3)
        scenarios.append(scenario)
        plan = sampler.sample(
            scenario.scenario_id, scenario.seed, scenario.involved_classes,
            scenario.initial_config, shard=shard,
        )
        if plan is not None:
            plans.append(plan)
    roles = RoleSet(ModelSettings(), registry)
    queries = [q for outcome in synthesize_queries(plans, registry, roles) for q in outcome.queries]
    chains = build_chains(plans, queries, registry, roles, ChainConfig()).value
    return RunRecords(scenarios, plans, queries, chains, graph_to_json(graph))
