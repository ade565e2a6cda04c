"""Shared fixtures: the built-in registry and a graph probed on small default configs."""

from __future__ import annotations

import pytest

import funreason_assets  # noqa: F401  (environment settings before any third-party import)
from funreason_assets.lib.environments import ToolRegistry
from funreason_assets.lib.graph import GraphBuildConfig, build_api_graph
from funreason_assets.lib.scenario_sources import probe_scenarios


@pytest.fixture(scope="session")
def registry() -> ToolRegistry:
    return ToolRegistry.builtin()


@pytest.fixture(scope="session")
def api_graph(registry):
    """The graph the pipeline builds, with its default probe budget."""
    return build_api_graph(registry, probe_scenarios(registry, 4, 20251124), GraphBuildConfig())
