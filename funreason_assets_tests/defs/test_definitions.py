"""The code location loads, and its lineage matches the reviewed snapshot."""

import json
import os
from pathlib import Path

import dagster as dg

from funreason_assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def describe(definitions: dg.Definitions) -> dict:
    graph = definitions.get_repository_def().asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "partitioned": node.partitions_def is not None,
            "checks": sorted(
                check.name for check in graph.get_check_keys_for_assets({key})
            ),
        }
    return {
        "assets": assets,
        "jobs": sorted(job.name for job in definitions.get_repository_def().get_all_jobs()
                       if not job.name.startswith("__")),
    }


def test_definitions_match_snapshot():
    current = describe(defs())
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == expected, "lineage changed: review and run with UPDATE_SNAPSHOTS=1"


def test_every_asset_has_checks_and_a_group():
    described = describe(defs())
    for name, asset in described["assets"].items():
        assert asset["checks"], f"{name} has no checks"
        assert asset["group"] != "default", f"{name} has no group"
