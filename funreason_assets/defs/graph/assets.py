"""Graph phase: the API dependency graph built by execution probing."""

import dagster as dg

from funreason_assets.defs.config import generation_settings
from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.results import asset_check_specs, materialize, preview, table_schema
from funreason_assets.lib import column_schemas, graph
from funreason_assets.lib.versions import code_version

GROUP = "graph"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "networkx", "json"},
    code_version=code_version(graph.__name__),
    deps=["tool_catalog"],
    check_specs=asset_check_specs("api_graph", graph.GRAPH_CHECKS),
)
def api_graph(
    context: dg.AssetExecutionContext, environment_packs: EnvironmentPacksResource
):
    """The API dependency graph (node-link JSON): nodes are tools, edges carry evidence."""
    settings = generation_settings()
    result = graph.build_graph(
        environment_packs.registry(), settings.graph_probe, settings.base_seed
    )
    context.log.info("api graph: %s", result.metrics)
    return materialize(result, graph.GRAPH_CHECKS, {
        "dagster/column_schema": table_schema(column_schemas.API_GRAPH_EDGES),
        "preview": preview(column_schemas.graph_edge_rows(result.value)),
    })
