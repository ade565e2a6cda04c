"""The scenario seeds phase: a shard's generated initial states and the checks they pass.

Every seed must load into its classes and answer read-only smoke calls, the shard must keep a
variety of names and contents (a shard that reuses a few names would teach a model to memorize
them), and no config may equal one of BFCL's multi-turn test entries.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.checks import CheckSpec, PhaseResult, first_items
from funreason_assets.lib.packs import BFCL_BACKEND, BFCL_V3_CLASSES
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenarios.contamination import BfclTestIndex
from funreason_assets.lib.scenarios.generators import (
    Scenario,
    ScenarioMix,
    class_generators,
    generate_scenario,
    shard_seeds,
)

SEEDS_LOAD_CHECK = CheckSpec(
    "seeds_load",
    "Every initial config loads and passes read-only smoke calls.",
    blocking=True,
)
SEED_DIVERSITY_CHECK = CheckSpec(
    "seed_diversity",
    "Distinct file names, users, symbols and fingerprints above the floors.",
    severity="warn",
)
NO_BFCL_OVERLAP_CHECK = CheckSpec(
    "no_bfcl_overlap",
    "No config or content equals one of BFCL's multi-turn test entries.",
    blocking=True,
)
SEED_CHECKS = (SEEDS_LOAD_CHECK, SEED_DIVERSITY_CHECK, NO_BFCL_OVERLAP_CHECK)

# Diversity floors per 100 scenarios (scaled to the shard's size), set well below what the
# generators measure (see funreason_assets_tests) so only a real collapse of variety fails.
DIVERSITY_FLOORS_PER_100 = {
    "distinct_file_names": 40,
    "distinct_user_names": 10,
    "distinct_stock_symbols": 5,
    "distinct_fingerprints": 99,
}
# Problems listed per failing check: enough to diagnose, small enough for the asset page.
_LISTED = 20


class InvolvedClassesRange(BaseModel):
    """How many environment classes a scenario involves."""

    model_config = ConfigDict(extra="forbid")

    min: int = Field(default=1, ge=1)
    max: int = Field(default=3, ge=1)


SMOKE_CALLS: dict[str, Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]] = {
    "GorillaFileSystem": lambda c: [("pwd", {}), ("ls", {}), ("du", {"human_readable": True})],
    "MessageAPI": lambda c: [
        ("list_users", {}),
        ("get_user_id", {"user": next(iter(c["user_map"]))}),
    ],
    "TwitterAPI": lambda c: [
        ("get_user_stats", {"username": c["username"]}),
        ("get_tweet", {"tweet_id": next(iter(c["tweets"].values()))["id"]}),
    ],
    "TicketAPI": lambda c: [("get_ticket", {"ticket_id": c["ticket_queue"][0]["id"]})],
    "TradingBot": lambda c: [
        ("get_stock_info", {"symbol": next(iter(c["stocks"]))}),
        ("get_watchlist", {}),
        ("get_current_time", {}),
    ],
    "TravelAPI": lambda c: [
        ("list_all_airports", {}),
        ("get_nearest_airport_by_city", {"location": "Rivermist"}),
    ],
    "VehicleControlAPI": lambda c: [
        ("displayCarStatus", {"option": "doors"}),
        ("check_tire_pressure", {}),
    ],
}


def validate_scenario(scenario: Scenario, registry: ToolRegistry | None = None) -> list[str]:
    """Load every involved class and run read-only smoke calls; list the problems.

    Args:
        scenario: The scenario to check.
        registry: When given, user pack classes are loaded from it too (no smoke calls: their
            tools are unknown here); without it only the BFCL classes are checked.
    """
    import funreason_assets  # noqa: F401  (bfcl-eval settings)

    problems = []
    for class_name, config in scenario.initial_config.items():
        if class_name not in BFCL_V3_CLASSES:
            if registry is not None and class_name in registry.classes:
                try:
                    registry.environment([class_name], {class_name: config})
                except Exception as exc:
                    problems.append(
                        f"{class_name}: config does not load ({type(exc).__name__}: {exc})"
                    )
            continue
        module_name, _ = BFCL_V3_CLASSES[class_name]
        module = importlib.import_module(f"{BFCL_BACKEND}.{module_name}")
        instance = getattr(module, class_name)()
        try:
            instance._load_scenario(copy.deepcopy(config), long_context=False)
        except Exception as exc:
            problems.append(f"{class_name}: config does not load ({type(exc).__name__}: {exc})")
            continue
        for tool, arguments in SMOKE_CALLS.get(class_name, lambda c: [])(config):
            try:
                result = getattr(instance, tool)(**arguments)
            except Exception as exc:
                problems.append(f"{class_name}.{tool}: raised {type(exc).__name__}: {exc}")
                continue
            if isinstance(result, dict) and "error" in result:
                problems.append(f"{class_name}.{tool}: {result['error']}")
    return problems


def diversity_stats(scenarios: Sequence[Scenario]) -> dict[str, int]:
    """Distinct entities across scenarios (the check compares them with floors)."""
    files: set[str] = set()
    users: set[str] = set()
    symbols: set[str] = set()
    tweets: set[str] = set()
    tickets: set[str] = set()

    def walk_files(contents: dict[str, Any]) -> None:
        for name, node in contents.items():
            if node.get("type") == "file":
                files.add(name)
            else:
                walk_files(node.get("contents", {}))

    for scenario in scenarios:
        config = scenario.initial_config
        if "GorillaFileSystem" in config:
            for top in config["GorillaFileSystem"]["root"].values():
                walk_files(top.get("contents", {}))
        if "MessageAPI" in config:
            users.update(config["MessageAPI"]["user_map"])
        if "TwitterAPI" in config:
            users.add(config["TwitterAPI"]["username"])
            tweets.update(t["content"] for t in config["TwitterAPI"]["tweets"].values())
        if "TicketAPI" in config:
            tickets.update(t["title"] for t in config["TicketAPI"]["ticket_queue"])
        if "TradingBot" in config:
            symbols.update(config["TradingBot"]["stocks"])
        if "TravelAPI" in config:
            cards = config["TravelAPI"]["credit_card_list"].values()
            users.update(card["cardholder_name"] for card in cards)
    return {
        "scenarios": len(scenarios),
        "distinct_fingerprints": len({s.fingerprint for s in scenarios}),
        "distinct_file_names": len(files),
        "distinct_user_names": len(users),
        "distinct_stock_symbols": len(symbols),
        "distinct_tweet_texts": len(tweets),
        "distinct_ticket_titles": len(tickets),
    }


def below_diversity_floors(stats: Mapping[str, int], scenarios: int) -> dict[str, Any]:
    """Diversity figures under their floor for this many scenarios, with measured and floor."""
    scale = scenarios / 100
    return {
        key: {"measured": stats.get(key, 0), "floor": round(floor * scale)}
        for key, floor in DIVERSITY_FLOORS_PER_100.items()
        if stats.get(key, 0) < floor * scale
    }


def class_mix(scenarios: Sequence[Scenario]) -> dict[str, int]:
    """How many scenarios involve each class, in order of first appearance."""
    mix: dict[str, int] = {}
    for scenario in scenarios:
        for class_name in scenario.involved_classes:
            mix[class_name] = mix.get(class_name, 0) + 1
    return mix


def judge_seeds(
    scenarios: list[Scenario], test_index: BfclTestIndex, registry: ToolRegistry | None = None
) -> PhaseResult[list[Scenario]]:
    """The scenarios with their check verdicts, class mix, diversity and a preview.

    Args:
        scenarios: The shard's scenarios.
        test_index: BFCL's multi-turn test index (the overlap check).
        registry: The registry the scenarios were generated from, to load user pack classes.
    """
    problems = {s.scenario_id: validate_scenario(s, registry) for s in scenarios}
    problems = {key: value for key, value in problems.items() if value}
    overlapping = {
        s.scenario_id: found for s in scenarios if (found := test_index.config_overlaps(s))
    }
    stats = diversity_stats(scenarios)
    below = below_diversity_floors(stats, len(scenarios))
    return PhaseResult(
        value=scenarios,
        verdicts=[
            SEEDS_LOAD_CHECK.verdict(
                not problems, checked=len(scenarios), failing=first_items(problems, _LISTED)
            ),
            SEED_DIVERSITY_CHECK.verdict(not below, measured=stats, below_floor=below),
            NO_BFCL_OVERLAP_CHECK.verdict(
                not overlapping,
                checked=len(scenarios),
                bfcl_test_configs_indexed=test_index.size(),
                overlapping=first_items(overlapping, _LISTED),
            ),
        ],
        metrics={"class_mix": class_mix(scenarios), "diversity": stats},
        tables={
            "preview": [
                {
                    "scenario_id": s.scenario_id,
                    "seed": s.seed,
                    "involved_classes": ", ".join(s.involved_classes),
                }
                for s in scenarios[:10]
            ]
        },
    )


def generate_shard(
    registry: ToolRegistry,
    shard: str,
    count: int,
    base_seed: int,
    involved: InvolvedClassesRange,
    mix: ScenarioMix | None = None,
) -> list[Scenario]:
    """The shard's scenarios: one per seed derived from the shard key.

    Every registered class generates its config with its own generator: a user pack's when it
    gives one, else the built-in one.
    """
    available = sorted(registry.classes)
    generators = class_generators(registry)
    return [
        generate_scenario(seed, available, involved.min, involved.max, generators, mix)
        for seed in shard_seeds(shard, count, base_seed)
    ]


def build_seeds(
    registry: ToolRegistry,
    shard: str,
    count: int,
    base_seed: int,
    involved: InvolvedClassesRange,
    mix: ScenarioMix | None = None,
) -> PhaseResult[list[Scenario]]:
    """Generate a shard's scenarios and judge them against BFCL's test index."""
    scenarios = generate_shard(registry, shard, count, base_seed, involved, mix)
    return judge_seeds(scenarios, BfclTestIndex.load(), registry)
