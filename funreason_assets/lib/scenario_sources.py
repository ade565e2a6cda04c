"""The scenarios the API graph is probed on: each class's defaults and generated configs."""

from __future__ import annotations

import random

from funreason_assets.lib.graph_probe import ProbeScenario
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenarios.generators import class_generator, withhold_prerequisites
from funreason_assets.lib.scenarios.personas import draw_persona


def probe_scenarios(registry: ToolRegistry, per_class: int, seed: int) -> list[ProbeScenario]:
    """Initial configs to probe each stateful class on: the class defaults plus generated ones.

    The class's own default state (an empty config) is included because tools often behave
    differently on a bare state (nobody logged in, no files), which is exactly where state
    prerequisites show. Each generated config gets its own persona, drawn first as in scenarios;
    every second one withholds its prerequisites (`withhold_prerequisites`).
    """
    scenarios = []
    for class_name, env_class in registry.classes.items():
        scenarios.append(ProbeScenario(f"{class_name}:default", class_name, {}))
        if env_class.stateless:
            continue
        generate = class_generator(registry, class_name)
        for index in range(per_class):
            rng = random.Random(f"probe:{seed}:{class_name}:{index}")
            config = generate(rng, draw_persona(rng))
            if index % 2:
                # Half the probed states withhold prerequisites, as sampled scenarios do:
                # what a tool needs shows where the state does not already provide it.
                withhold_prerequisites({class_name: config}, rng)
            scenarios.append(ProbeScenario(f"{class_name}:generated-{index}", class_name, config))
    return scenarios
