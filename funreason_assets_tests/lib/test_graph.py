import json

import networkx as nx

from funreason_assets.lib.graph import (
    BFCL_KNOWN_DEPENDENCIES,
    edges_without_evidence,
    graph_from_json,
    graph_stats,
    graph_to_json,
    missing_known_dependencies,
    prerequisite_depth,
)
from funreason_assets.lib.graph_probe import minimal_groups


def test_every_tool_is_a_node(registry, api_graph):
    assert set(api_graph.nodes) == {tool.name for tool in registry.tools()}
    assert api_graph.number_of_nodes() == 128


def test_known_dependencies_are_found(api_graph):
    assert missing_known_dependencies(api_graph) == []
    assert {"message_login"} in [set(g) for g in api_graph.nodes["send_message"]["prerequisites"]]
    groups = [set(g) for g in api_graph.nodes["startEngine"]["prerequisites"]]
    assert {"lockDoors"} in groups and {"pressBrakePedal"} in groups
    sources = api_graph.nodes["estimate_distance"]["data_sources"]
    assert sources["cityA"] == ["get_zipcode_based_on_city"]
    assert "data_flow" in api_graph.edges["get_zipcode_based_on_city", "estimate_distance"]["kinds"]


def test_a_logged_out_history_is_an_error_and_its_ids_feed_the_order_tools(api_graph):
    # BFCL answers a logged-out history request with `[{"error": ...}]`: a failure, so the
    # login is its prerequisite; the ids it lists are the orders the order tools take.
    assert {"trading_login"} in [
        set(g) for g in api_graph.nodes["get_order_history"]["prerequisites"]]
    for consumer in ("get_order_details", "cancel_order"):
        edge = api_graph.edges["get_order_history", consumer]
        assert "data_flow" in edge["kinds"]
        assert edge["evidence"][0]["output_field"].startswith("history")
        assert "get_order_history" in api_graph.nodes[consumer]["data_sources"]["order_id"]


def test_measured_values_flow_from_the_tool_that_measures_them(api_graph):
    # Any price or distance makes the call succeed, so the evidence is the field named as
    # the parameter and the call succeeding with that very value.
    for producer, consumer, parameter in (
        ("estimate_distance", "estimate_drive_feasibility_by_mileage", "distance"),
        ("get_stock_info", "place_order", "price"),
    ):
        [evidence] = [e for e in api_graph.edges[producer, consumer]["evidence"]
                      if e.get("measured")][:1]
        assert evidence["output_field"] == parameter and evidence["parameter"] == parameter
        assert f"{parameter}=" in evidence["consumer_call"]
        assert producer in api_graph.nodes[consumer]["data_sources"][parameter]
    # An amount of shares is the user's to decide, even where an order's result holds one.
    assert "amount" not in api_graph.nodes["place_order"]["data_sources"]


def test_every_edge_has_evidence_of_its_kind(api_graph):
    assert edges_without_evidence(api_graph) == []
    edge = api_graph.edges["message_login", "send_message"]
    state = [e for e in edge["evidence"] if e["kind"] == "state"]
    assert state and state[0]["fails_without_prerequisite"]
    assert state[0]["call"].startswith("send_message(")


def test_both_edge_kinds_and_chains_are_present(api_graph):
    stats = graph_stats(api_graph)
    assert stats["edges_per_kind"]["data_flow"] >= 20
    assert stats["edges_per_kind"]["state"] >= 20
    # authenticate -> register card -> card balance is a two-level chain
    assert stats["max_prerequisite_depth"] >= 2


def test_checks_fail_on_bad_graphs(api_graph):
    broken = api_graph.copy()
    broken.remove_edge("message_login", "send_message")
    assert "message_login -> send_message (state)" in missing_known_dependencies(broken)
    broken.add_edge("ls", "cat", kinds=["state"], evidence=[])
    assert "ls -> cat (state)" in edges_without_evidence(broken)


def test_known_dependency_list_only_checks_registered_tools():
    graph = nx.DiGraph()
    graph.add_node("only_tool", prerequisites=[])
    assert missing_known_dependencies(graph, BFCL_KNOWN_DEPENDENCIES) == []


def test_minimal_groups_drop_implied_or_groups():
    groups = [frozenset({"cd", "touch"}), frozenset({"cd"}), frozenset({"cd"}), frozenset({"ls"})]
    assert minimal_groups(groups) == [frozenset({"cd"}), frozenset({"ls"})]


def test_node_link_round_trip(api_graph):
    data = json.loads(json.dumps(graph_to_json(api_graph)))
    again = graph_from_json(data)
    assert set(again.edges) == set(api_graph.edges)
    assert again.nodes["startEngine"]["prerequisites"] == api_graph.nodes["startEngine"][
        "prerequisites"
    ]
    assert prerequisite_depth(again, "startEngine") >= 1
