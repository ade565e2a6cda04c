"""Environments phase: the tool catalog and the generated scenario seeds."""


import dagster as dg
from pydantic import Field

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.metadata import markdown_table, record_metadata
from funreason_assets.defs.partitions import shard_partitions
from funreason_assets.lib.catalog import (
    catalog_frame,
    catalog_records,
    invalid_parameter_schemas,
)
from funreason_assets.lib.expectations import Expectation, validate_frame
from funreason_assets.lib.scenarios.contamination import BfclTestIndex
from funreason_assets.lib.scenarios.generators import (
    diversity_stats,
    generate_scenario,
    shard_seeds,
    validate_scenario,
)
from funreason_assets.lib.settings import load_generation_settings

GROUP = "environments"

CATALOG_EXPECTATIONS = [
    Expectation("ExpectColumnValuesToBeUnique", {"column": "tool_key"}),
    Expectation("ExpectColumnValuesToNotBeNull", {"column": "description"}),
    Expectation("ExpectColumnValueLengthsToBeBetween", {"column": "description", "min_value": 1}),
    Expectation("ExpectColumnValuesToNotBeNull", {"column": "class_name"}),
    Expectation("ExpectColumnValuesToMatchRegex", {"column": "name", "regex": r"^[A-Za-z_]\w*$"}),
]


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec("catalog_expectations", asset="tool_catalog", blocking=True,
                          description="Great Expectations: unique class+name, every tool "
                          "described, valid identifiers."),
        dg.AssetCheckSpec("parameter_schemas_valid", asset="tool_catalog", blocking=True,
                          description="Every parameter schema is valid JSON Schema (2020-12)."),
    ],
)
def tool_catalog(
    context: dg.AssetExecutionContext, environment_packs: EnvironmentPacksResource
):
    """One record per tool of every configured environment class, with its JSON Schema."""
    registry = environment_packs.registry()
    records = catalog_records(registry)
    frame = catalog_frame(records)
    suite = validate_frame(frame, "tool_catalog", CATALOG_EXPECTATIONS)
    invalid = invalid_parameter_schemas(records)
    per_class = frame.groupby("class_name").size().to_dict()
    context.log.info("catalog: %d tools in %d classes", len(records), len(per_class))
    return dg.MaterializeResult(
        value=records,
        metadata={
            **record_metadata(frame.drop(columns=["description"]).head(20)),
            "dagster/row_count": len(records),
            "tools_per_class": per_class,
            "registry_fingerprint": registry.fingerprint(),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="catalog_expectations",
                passed=suite.success,
                metadata=suite.to_metadata(),
            ),
            dg.AssetCheckResult(
                check_name="parameter_schemas_valid",
                passed=not invalid,
                metadata={"tools_checked": len(records), "invalid": invalid},
            ),
        ],
    )


class ScenarioSeedsConfig(dg.Config):
    """Run-time knobs of scenario generation (defaults from the generation config)."""

    scenarios_per_shard: int | None = Field(
        default=None, description="Scenarios per shard; None takes the generation config value."
    )


# Diversity floors per shard of 250 scenarios, set well below what the generators measure
# (see funreason_assets_tests) so only a real collapse of variety fails the check: a shard
# whose scenarios reuse a few names would teach a model to memorize them.
DIVERSITY_FLOORS_PER_100 = {
    "distinct_file_names": 40,
    "distinct_user_names": 10,
    "distinct_stock_symbols": 5,
    "distinct_fingerprints": 99,
}


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    partitions_def=shard_partitions,
    deps=["tool_catalog"],
    check_specs=[
        dg.AssetCheckSpec("seeds_load", asset="scenario_seeds", blocking=True,
                          description="Every initial config loads and passes read-only smoke "
                          "calls."),
        dg.AssetCheckSpec("seed_diversity", asset="scenario_seeds",
                          description="Distinct file names, users, symbols and fingerprints "
                          "above the floors."),
        dg.AssetCheckSpec("no_bfcl_overlap", asset="scenario_seeds", blocking=True,
                          description="No config or content equals one of BFCL's multi-turn "
                          "test entries."),
    ],
)
def scenario_seeds(
    context: dg.AssetExecutionContext,
    config: ScenarioSeedsConfig,
    environment_packs: EnvironmentPacksResource,
):
    """One record per generated initial state (for 1-3 involved classes) of this shard."""
    settings = load_generation_settings()
    registry = environment_packs.registry()
    count = config.scenarios_per_shard or settings.scenarios_per_shard
    seeds = shard_seeds(context.partition_key, count, settings.base_seed)
    available = sorted(registry.classes)
    scenarios = [
        generate_scenario(
            seed,
            available,
            settings.involved_classes.min,
            settings.involved_classes.max,
        )
        for seed in seeds
    ]
    problems = {s.scenario_id: validate_scenario(s) for s in scenarios}
    problems = {key: value for key, value in problems.items() if value}
    overlaps = BfclTestIndex.load()
    overlapping = {
        s.scenario_id: found for s in scenarios if (found := overlaps.config_overlaps(s))
    }
    stats = diversity_stats(scenarios)
    scale = len(scenarios) / 100
    below = {
        key: {"measured": stats.get(key, 0), "floor": round(floor * scale)}
        for key, floor in DIVERSITY_FLOORS_PER_100.items()
        if stats.get(key, 0) < floor * scale
    }
    class_mix: dict[str, int] = {}
    for scenario in scenarios:
        for class_name in scenario.involved_classes:
            class_mix[class_name] = class_mix.get(class_name, 0) + 1
    preview = [
        {
            "scenario_id": s.scenario_id,
            "seed": s.seed,
            "involved_classes": ", ".join(s.involved_classes),
        }
        for s in scenarios[:10]
    ]
    return dg.MaterializeResult(
        value=scenarios,
        metadata={
            "dagster/row_count": len(scenarios),
            "class_mix": class_mix,
            "diversity": stats,
            "preview": dg.MetadataValue.md(markdown_table(preview)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="seeds_load",
                passed=not problems,
                metadata={"checked": len(scenarios), "failing": dict(list(problems.items())[:20])},
            ),
            dg.AssetCheckResult(
                check_name="seed_diversity",
                passed=not below,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"measured": stats, "below_floor": below},
            ),
            dg.AssetCheckResult(
                check_name="no_bfcl_overlap",
                passed=not overlapping,
                metadata={
                    "checked": len(scenarios),
                    "bfcl_test_configs_indexed": overlaps.size(),
                    "overlapping": dict(list(overlapping.items())[:20]),
                },
            ),
        ],
    )
