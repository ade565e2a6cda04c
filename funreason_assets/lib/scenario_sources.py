"""Initial-config generators for every registered class, built-in or user-provided."""

from __future__ import annotations

import random
from collections.abc import Callable

from funreason_assets.lib.graph_probe import ProbeScenario
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenarios.generators import CLASS_GENERATORS

ConfigGenerator = Callable[[random.Random], dict]


def class_generator(registry: ToolRegistry, class_name: str) -> ConfigGenerator:
    """The config generator of a class: the pack's own, else the built-in one, else `{}`."""
    env_class = registry.classes[class_name]
    if env_class.scenario_generator is not None:
        return env_class.scenario_generator
    if class_name in CLASS_GENERATORS:
        return CLASS_GENERATORS[class_name]
    return lambda rng: {}


def probe_scenarios(registry: ToolRegistry, per_class: int, seed: int) -> list[ProbeScenario]:
    """Initial configs to probe each stateful class on: the class defaults plus generated ones.

    The class's own default state (an empty config) is included because tools often behave
    differently on a bare state (nobody logged in, no files), which is exactly where state
    prerequisites show.
    """
    scenarios = []
    for class_name, env_class in registry.classes.items():
        scenarios.append(ProbeScenario(f"{class_name}:default", class_name, {}))
        if env_class.stateless:
            continue
        generate = class_generator(registry, class_name)
        for index in range(per_class):
            rng = random.Random(f"probe:{seed}:{class_name}:{index}")
            scenarios.append(
                ProbeScenario(f"{class_name}:generated-{index}", class_name, generate(rng))
            )
    return scenarios
