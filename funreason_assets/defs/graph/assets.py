"""Graph phase: the API dependency graph built by execution probing."""



import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.metadata import markdown_table, png_markdown
from funreason_assets.lib.graph import (
    GraphBuildConfig,
    build_api_graph,
    draw_graph,
    edges_without_evidence,
    graph_stats,
    graph_to_json,
    missing_known_dependencies,
)
from funreason_assets.lib.scenario_sources import probe_scenarios
from funreason_assets.lib.settings import load_generation_settings

GROUP = "graph"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "networkx", "json"},
    code_version="1",
    deps=["tool_catalog"],
    check_specs=[
        dg.AssetCheckSpec("every_tool_is_a_node", asset="api_graph", blocking=True,
                          description="Every catalog tool is a node of the graph."),
        dg.AssetCheckSpec("known_dependencies_found", asset="api_graph", blocking=True,
                          description="Known prerequisites of the built-in classes are edges "
                          "(login before send, authenticate before booking, lock doors AND "
                          "press brake before starting, zipcode before distance, create "
                          "before close)."),
        dg.AssetCheckSpec("edges_have_evidence", asset="api_graph", blocking=True,
                          description="Every edge kind is backed by the probe that confirmed "
                          "it."),
    ],
)
def api_graph(
    context: dg.AssetExecutionContext, environment_packs: EnvironmentPacksResource
):
    """The API dependency graph (node-link JSON): nodes are tools, edges carry evidence."""
    settings = load_generation_settings()
    registry = environment_packs.registry()
    scenarios = probe_scenarios(
        registry, settings.graph_probe.scenarios_per_class, settings.base_seed
    )
    graph = build_api_graph(
        registry,
        scenarios,
        GraphBuildConfig(binds_per_tool=settings.graph_probe.binds_per_tool,
                         seed=settings.base_seed),
    )
    stats = graph_stats(graph)
    tool_names = {tool.name for tool in registry.tools()}
    missing_nodes = sorted(tool_names - set(graph.nodes))
    missing_known = missing_known_dependencies(graph)
    unsupported = edges_without_evidence(graph)
    prerequisites = [
        {
            "tool": name,
            "class": data["class_name"],
            "prerequisites (AND of OR-groups)": " AND ".join(
                "(" + " | ".join(group) + ")" for group in data["prerequisites"]
            ),
        }
        for name, data in sorted(graph.nodes(data=True))
        if data.get("prerequisites")
    ]
    figure = draw_graph(graph)
    context.log.info("api graph: %s", stats)
    return dg.MaterializeResult(
        value=graph_to_json(graph),
        metadata={
            "nodes": stats["nodes"],
            "edges": stats["edges"],
            "edges_per_kind": stats["edges_per_kind"],
            "edges_per_class": stats["edges_per_class"],
            "tools_with_prerequisites": stats["tools_with_prerequisites"],
            "max_prerequisite_depth": stats["max_prerequisite_depth"],
            "probe_scenarios": len(scenarios),
            "picture": png_markdown(figure, "API dependency graph"),
            "prerequisites": dg.MetadataValue.md(markdown_table(prerequisites, limit=200)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="every_tool_is_a_node",
                passed=not missing_nodes,
                metadata={"tools": len(tool_names), "missing": missing_nodes},
            ),
            dg.AssetCheckResult(
                check_name="known_dependencies_found",
                passed=not missing_known,
                metadata={"missing": missing_known},
            ),
            dg.AssetCheckResult(
                check_name="edges_have_evidence",
                passed=not unsupported,
                metadata={"edges": stats["edges"], "without_evidence": unsupported},
            ),
        ],
    )
