"""The graph phase: the API dependency graph, its statistics, checks and picture.

Nodes are tools. An edge Ti -> Tj means Ti must (or may usefully) run before Tj, and every edge
carries the probe that confirmed it (`lib.graph_probe` finds them by executing tools). The
graph is stored as node-link JSON; its checks assert that every tool is a node, that the known
prerequisites of the built-in classes were found, and that every edge kind has its evidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.checks import CheckSpec, PhaseResult, Picture
from funreason_assets.lib.figures import figure_png, pyplot
from funreason_assets.lib.graph_probe import GraphBuildConfig, build_api_graph
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenario_sources import probe_scenarios

EVERY_TOOL_CHECK = CheckSpec(
    "every_tool_is_a_node", "Every catalog tool is a node of the graph.", blocking=True
)
KNOWN_DEPENDENCIES_CHECK = CheckSpec(
    "known_dependencies_found",
    "Known prerequisites of the built-in classes are edges (login before send, authenticate "
    "before booking, lock doors AND press brake before starting, zipcode before distance, "
    "create before close).",
    blocking=True,
)
EDGE_EVIDENCE_CHECK = CheckSpec(
    "edges_have_evidence",
    "Every edge kind is backed by the probe that confirmed it.",
    blocking=True,
)
GRAPH_CHECKS = (EVERY_TOOL_CHECK, KNOWN_DEPENDENCIES_CHECK, EDGE_EVIDENCE_CHECK)

# Graph statistics shown on the asset page (`graph_stats` also counts nodes per class).
_SHOWN_STATS = (
    "nodes",
    "edges",
    "edges_per_kind",
    "edges_per_class",
    "tools_with_prerequisites",
    "max_prerequisite_depth",
)


class GraphProbeSettings(BaseModel):
    """Budget of the execution probes that build the API graph."""

    model_config = ConfigDict(extra="forbid")

    scenarios_per_class: int = Field(default=4, ge=1)
    binds_per_tool: int = Field(default=8, ge=1)


def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    """Node-link JSON of the graph."""
    return nx.node_link_data(graph, edges="edges")


def graph_from_json(data: Mapping[str, Any]) -> nx.DiGraph:
    """Inverse of `graph_to_json`."""
    return nx.node_link_graph(data, directed=True, edges="edges")


def graph_stats(graph: nx.DiGraph) -> dict[str, Any]:
    """Counts per edge kind and per class, for metadata and reports."""
    per_kind: Counter[str] = Counter()
    per_class_edges: Counter[str] = Counter()
    for source, _target, data in graph.edges(data=True):
        for kind in data["kinds"]:
            per_kind[kind] += 1
        per_class_edges[graph.nodes[source]["class_name"]] += 1
    per_class_nodes = Counter(data["class_name"] for _, data in graph.nodes(data=True))
    with_prereq = sum(1 for _, data in graph.nodes(data=True) if data.get("prerequisites"))
    return {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "edges_per_kind": dict(sorted(per_kind.items())),
        "nodes_per_class": dict(sorted(per_class_nodes.items())),
        "edges_per_class": dict(sorted(per_class_edges.items())),
        "tools_with_prerequisites": with_prereq,
        "max_prerequisite_depth": max(
            (prerequisite_depth(graph, node) for node in graph.nodes), default=0
        ),
    }


def prerequisite_depth(graph: nx.DiGraph, tool: str, _seen: frozenset[str] = frozenset()) -> int:
    """Length of the longest chain of state prerequisites leading to a tool."""
    if tool in _seen:
        return 0
    groups = graph.nodes[tool].get("prerequisites") or []
    depth = 0
    for group in groups:
        depth = max(
            depth,
            1 + min(prerequisite_depth(graph, member, _seen | {tool}) for member in group),
        )
    return depth


# Dependencies of the built-in BFCL classes that any correct graph must contain; the check
# applies those whose tools are registered. (prerequisites, target, kind)
BFCL_KNOWN_DEPENDENCIES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("message_login",), "send_message", "state"),
    (("authenticate_travel",), "book_flight", "any"),
    (("lockDoors", "pressBrakePedal"), "startEngine", "state"),
    (("get_zipcode_based_on_city",), "estimate_distance", "data_flow"),
    (("create_ticket",), "close_ticket", "any"),
)


def missing_known_dependencies(
    graph: nx.DiGraph,
    known: Sequence[tuple[tuple[str, ...], str, str]] = BFCL_KNOWN_DEPENDENCIES,
) -> list[str]:
    """Known dependencies (whose tools are in the graph) that the graph lacks."""
    missing = []
    for sources, target, kind in known:
        if target not in graph or any(source not in graph for source in sources):
            continue
        for source in sources:
            edge = graph.edges.get((source, target))
            if edge is None or (kind != "any" and kind not in edge["kinds"]):
                missing.append(f"{source} -> {target} ({kind})")
        if len(sources) > 1:
            groups = [set(group) for group in graph.nodes[target].get("prerequisites", [])]
            missing.extend(
                f"{source} as AND-prerequisite of {target}"
                for source in sources
                if {source} not in groups
            )
    return missing


def edges_without_evidence(graph: nx.DiGraph) -> list[str]:
    """Edges with no probe, or a kind with no probe of that kind."""
    problems = []
    for source, target, data in graph.edges(data=True):
        kinds_with_evidence = {item.get("kind") for item in data.get("evidence", [])}
        problems.extend(
            f"{source} -> {target} ({kind})"
            for kind in data.get("kinds", []) or ["<none>"]
            if kind not in kinds_with_evidence
        )
    return problems


def draw_graph(graph: nx.DiGraph) -> Any:
    """A figure with one panel per class: tools, and edges colored by kind."""
    plt = pyplot()
    classes = sorted({data["class_name"] for _, data in graph.nodes(data=True)})
    columns = 2
    rows = (len(classes) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(14, 5 * rows), squeeze=False)
    colors = {"data_flow": "#1f77b4", "state": "#d62728"}
    for index, class_name in enumerate(classes):
        axis = axes[index // columns][index % columns]
        nodes = [n for n, d in graph.nodes(data=True) if d["class_name"] == class_name]
        sub = graph.subgraph(nodes)
        layout = nx.spring_layout(sub, seed=7, k=1.2)
        node_colors = [
            "#ffbf80" if sub.nodes[n].get("prerequisites") else "#dddddd" for n in sub.nodes
        ]
        nx.draw_networkx_nodes(sub, layout, ax=axis, node_size=260, node_color=node_colors)
        nx.draw_networkx_labels(sub, layout, ax=axis, font_size=7)
        for kind, color in colors.items():
            edges = [(u, v) for u, v, d in sub.edges(data=True) if kind in d["kinds"]]
            nx.draw_networkx_edges(
                sub, layout, edgelist=edges, ax=axis, edge_color=color, arrows=True,
                arrowsize=10, width=1.2, alpha=0.8, connectionstyle="arc3,rad=0.08",
            )
        axis.set_title(f"{class_name} ({sub.number_of_edges()} edges)", fontsize=10)
        axis.axis("off")
    for index in range(len(classes), rows * columns):
        axes[index // columns][index % columns].axis("off")
    figure.suptitle(
        "API dependency graph - blue: data flow, red: state prerequisite, "
        "orange nodes: tools with prerequisites",
        fontsize=11,
    )
    figure.tight_layout()
    return figure


def prerequisites_table(graph: nx.DiGraph) -> list[dict[str, Any]]:
    """One row per tool with prerequisites: its class and its AND of OR-groups."""
    return [
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


def judge_graph(graph: nx.DiGraph, registry: ToolRegistry) -> PhaseResult[dict[str, Any]]:
    """The graph as node-link JSON, with its check verdicts, statistics and prerequisites."""
    stats = graph_stats(graph)
    tool_names = {tool.name for tool in registry.tools()}
    missing_nodes = sorted(tool_names - set(graph.nodes))
    missing_known = missing_known_dependencies(graph)
    unsupported = edges_without_evidence(graph)
    return PhaseResult(
        value=graph_to_json(graph),
        verdicts=[
            EVERY_TOOL_CHECK.verdict(
                not missing_nodes, tools=len(tool_names), missing=missing_nodes
            ),
            KNOWN_DEPENDENCIES_CHECK.verdict(not missing_known, missing=missing_known),
            EDGE_EVIDENCE_CHECK.verdict(
                not unsupported, edges=stats["edges"], without_evidence=unsupported
            ),
        ],
        metrics={key: stats[key] for key in _SHOWN_STATS},
        tables={"prerequisites": prerequisites_table(graph)},
    )


def build_graph(
    registry: ToolRegistry,
    probe: GraphProbeSettings,
    seed: int,
) -> PhaseResult[dict[str, Any]]:
    """Probe every class of the registry into the API graph, judged and drawn."""
    scenarios = probe_scenarios(registry, probe.scenarios_per_class, seed)
    graph = build_api_graph(
        registry,
        scenarios,
        GraphBuildConfig(binds_per_tool=probe.binds_per_tool, seed=seed),
    )
    result = judge_graph(graph, registry)
    result.metrics["probe_scenarios"] = len(scenarios)
    result.pictures["picture"] = Picture(
        "API dependency graph", figure_png(draw_graph(graph), dpi=90)
    )
    return result
