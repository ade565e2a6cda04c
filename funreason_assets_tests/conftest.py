"""Shared fixtures: the built-in registry and a graph probed on small default configs."""

from __future__ import annotations

import pytest

import funreason_assets  # noqa: F401  (environment settings before any third-party import)
from funreason_assets.lib.graph_probe import GraphBuildConfig, build_api_graph
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenario_sources import probe_scenarios
from funreason_assets.testing.openai_server import run_server


@pytest.fixture(scope="module")
def server():
    """The local OpenAI-compatible server, one per test module."""
    with run_server() as handle:
        yield handle


@pytest.fixture
def srv(server):
    """The module's server with default settings, no script and cleared counters."""
    server.configure(script=None, latency=0.0, faults={}, seed=0, retry_after=0.01,
                     timeout_seconds=30, error_latency=0.0)
    server.reset()
    return server


@pytest.fixture(scope="session")
def registry() -> ToolRegistry:
    return ToolRegistry.builtin()


@pytest.fixture(scope="session")
def api_graph(registry):
    """The graph the pipeline builds, with its default probe budget."""
    return build_api_graph(registry, probe_scenarios(registry, 4, 20251124), GraphBuildConfig())


def sample_plans(registry, graph, shard: str, count: int, seed: int = 11) -> list:
    """Directed-sampler plans of `count` generated scenarios of one shard (dropped ones skipped)."""
    from funreason_assets.lib.sampler import PlanSampler, SamplerConfig
    from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds

    sampler = PlanSampler(registry, graph, SamplerConfig())
    plans = []
    for scenario_seed in shard_seeds(shard, count, seed):
        s = generate_scenario(scenario_seed, sorted(registry.classes), 1, 3)
        plan = sampler.sample(s.scenario_id, s.seed, s.involved_classes, s.initial_config)
        if plan is not None:
            plans.append(plan)
    return plans
