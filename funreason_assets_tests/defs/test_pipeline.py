"""Materialize the first phases with Dagster and assert on outputs and check results."""

from pathlib import Path

import dagster as dg
import pytest

import funreason_assets
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.io_manager import RecordIOManager
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import partition_sharded_assets
from funreason_assets.lib.records import DialoguePlan, HardQuery, ReasoningChain
from funreason_assets.lib.scenarios.generators import Scenario

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GENERATING = ["tool_catalog", "scenario_seeds", "api_graph", "ground_truth_plans", "hard_queries",
              "reasoning_chains"]
# As the code location builds them (shard assets partitioned), without its bound resources.
LOADED = partition_sharded_assets(
    dg.load_from_defs_folder(path_within_project=Path(funreason_assets.__file__).parent)
)
ASSETS = [
    assets_def for assets_def in LOADED.assets
    if isinstance(assets_def, dg.AssetsDefinition)
    and assets_def.key.to_user_string() in GENERATING
]

pytestmark = pytest.mark.slow


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    base = tmp_path_factory.mktemp("assets")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ASSETS,
            partition_key="shard-0000",
            instance=instance,
            resources={
                "io_manager": RecordIOManager(base_path=str(base)),
                "environment_packs": EnvironmentPacksResource(),
                "models": ModelsResource(cache_dir=str(base / "model_cache")),
            },
            run_config=dg.RunConfig(
                ops={"scenario_seeds": {"config": {"scenarios_per_shard": 60}}}
            ),
        )
        yield result, base


def test_pipeline_outputs_and_every_check_pass(materialized):
    result, base = materialized
    assert result.success
    evaluations = checks(result)
    assert set(evaluations) == {
        "catalog_expectations", "parameter_schemas_valid", "seeds_load", "seed_diversity",
        "no_bfcl_overlap", "every_tool_is_a_node", "known_dependencies_found",
        "edges_have_evidence", "plans_replay_deterministically", "rounds_well_formed",
        "tool_coverage", "duplicate_plans", "arguments_have_meaning", "queries_obey_rules",
        "query_drop_share",
        "kept_reasoning_has_no_leakage", "attempts_well_formed", "accepted_share",
    }
    failing = {name: e.metadata for name, e in evaluations.items() if not e.passed}
    # Coverage is a WARN check whose floor a 60-dialogue shard need not reach.
    failing.pop("tool_coverage", None)
    assert failing == {}
    catalog = result.output_for_node("tool_catalog")
    assert len(catalog) == 128
    seeds = result.output_for_node("scenario_seeds")
    assert len(seeds) == 60 and all(isinstance(s, Scenario) for s in seeds)
    graph = result.output_for_node("api_graph")
    assert len(graph["nodes"]) == 128 and graph["edges"]
    plans = result.output_for_node("ground_truth_plans")
    assert len(plans) >= 50 and all(isinstance(p, DialoguePlan) for p in plans)
    assert (base / "ground_truth_plans" / "shard-0000.parquet").exists()
    queries = result.output_for_node("hard_queries")
    assert len(queries) >= 2 * len(plans) * 0.9 and all(isinstance(q, HardQuery) for q in queries)
    chains = result.output_for_node("reasoning_chains")
    assert all(isinstance(c, ReasoningChain) for c in chains)
    assert sum(c.passed for c in chains) >= 0.9 * len(queries)
    # Offline default: nothing was cached because no model was called.
    assert not (base / "model_cache").exists()
    assert (base / "api_graph" / "all.json").exists()


def test_metadata_reports_what_users_read(materialized):
    result, _ = materialized
    by_asset = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    graph_meta = by_asset["api_graph"]
    assert graph_meta["edges_per_kind"].value["state"] > 0
    assert graph_meta["picture"].value.startswith("![API dependency graph](data:image/png;base64,")
    plans_meta = by_asset["ground_truth_plans"]
    assert plans_meta["coverage_directed"].value["share_reached"] > 0.5
    assert "random walk" in plans_meta["coverage_comparison"].value
    assert plans_meta["distributions"].value["dialogues"] == plans_meta["dagster/row_count"].value
    chains_meta = by_asset["reasoning_chains"]
    assert chains_meta["generators"].value["reasoner"] == "scripted"
    assert chains_meta["pass_rate_per_attempt"].value["1"] > 0.5
    assert chains_meta["dialogues_verified"].value > 0
    assert by_asset["hard_queries"]["drops_per_rule"].value is not None


def test_stored_records_load_back_typed(materialized, tmp_path):
    result, base = materialized
    manager = RecordIOManager(base_path=str(base))
    context = dg.build_input_context(
        asset_key=dg.AssetKey("ground_truth_plans"),
        partition_key="shard-0000",
        asset_partitions_def=dg.StaticPartitionsDefinition(["shard-0000"]),
    )
    loaded = manager.load_input(context)
    assert [p.model_dump() for p in loaded] == [
        p.model_dump() for p in result.output_for_node("ground_truth_plans")
    ]


def test_a_malformed_pack_fails_the_run_before_any_output(tmp_path):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [next(a for a in ASSETS if a.key == dg.AssetKey("tool_catalog"))],
            instance=instance,
            resources={
                "io_manager": RecordIOManager(base_path=str(tmp_path)),
                "environment_packs": EnvironmentPacksResource(
                    pack_config=str(FIXTURES / "broken_packs" / "bad_json_pack.yaml")
                ),
            },
            raise_on_error=False,
        )
    assert not result.success
    assert list(tmp_path.iterdir()) == []
    failure = next(e for e in result.all_events if e.is_failure)
    assert "bad_json_docs.json" in str(failure.event_specific_data.error)
