"""What a materialization tells a reader: progress lines, a records preview, column schemas."""

from types import SimpleNamespace

import dagster as dg

from funreason_assets.defs.results import materialize, progress_log, table_schema
from funreason_assets.lib import column_schemas
from funreason_assets.lib.checks import CheckSpec, PhaseResult
from funreason_assets.lib.records import QueryDrop


def test_progress_is_logged_once_per_tenth():
    lines: list[str] = []
    context = SimpleNamespace(log=SimpleNamespace(info=lambda text, *args: lines.append(
        text % args)))
    report = progress_log(context, "scenarios sampled")
    for done in range(1, 251):
        report(done, 250)
    assert lines[0] == "scenarios sampled: 1 / 250 done (0%)"
    assert lines[1:] == [f"scenarios sampled: {25 * k} / 250 done ({10 * k}%)"
                         for k in range(1, 11)]


def test_a_record_asset_shows_a_preview_and_a_document_asset_its_columns():
    spec = CheckSpec("always", "passes")
    drops = [QueryDrop(plan_id=f"plan-{n}", round_index=n, rule="names_intermediate_tool",
                       detail="ls", query=f"query {n} | with a pipe") for n in range(8)]
    result = materialize(PhaseResult(value=drops, verdicts=[spec.verdict(True)]), [spec])
    preview = result.metadata["preview"].value
    assert preview.count("\n") == 1 + 5  # header, separator, five records
    assert "query 0 \\| with a pipe" in preview and "plan-5" not in preview
    graph = {"edges": [{"source": "ls", "target": "cd", "kinds": ["data_flow"],
                        "evidence": [{}, {}]}]}
    result = materialize(PhaseResult(value=graph, verdicts=[spec.verdict(True)]), [spec], {
        "dagster/column_schema": table_schema(column_schemas.API_GRAPH_EDGES),
    })
    schema = result.metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [c.name for c in schema.columns] == ["source", "target", "kinds", "evidence"]
    assert column_schemas.graph_edge_rows(graph) == [
        {"source": "ls", "target": "cd", "kinds": "data_flow", "probes": 2}]
