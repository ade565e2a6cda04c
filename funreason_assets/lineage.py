"""The story of one exported dialogue, read back from the stored assets.

`python -m funreason_assets.cli lineage <dialogue id | BFCL entry id>` prints: the scenario it
started from, the graph edges the sampler followed (with the probe evidence of each edge),
each round's executed trace with argument provenance, the advanced tool and the hard query,
every reasoning attempt with its verdict and critique, the filters it passed, and the export
files it went to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from funreason_assets.lib.bfcl_format import dialogue_category
from funreason_assets.lib.curation import CURATION_RULES
from funreason_assets.lib.paths import EXPORTS, resolve
from funreason_assets.lib.record_tables import table_to_records


class LineageError(LookupError):
    """The id is not in the stored assets."""


def _records(base: Path, asset: str) -> list[Any]:
    folder = base / asset
    if not folder.exists():
        raise LineageError(f"{asset} has not been materialized under {base}")
    return [
        record
        for path in sorted(folder.glob("*.parquet"))
        for record in table_to_records(pq.read_table(path))
    ]


def _latest_manifest(exports: Path) -> dict[str, Any]:
    latest = exports / "LATEST"
    if not latest.exists():
        return {}
    path = exports / latest.read_text(encoding="utf-8").strip() / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def dialogue_story(
    identifier: str, base: str | Path = "data/outputs/assets", exports: str | Path = EXPORTS
) -> str:
    """The whole story of one curated dialogue as text."""
    base, exports = resolve(base), resolve(exports)
    manifest = _latest_manifest(exports)
    id_map = manifest.get("bfcl", {}).get("id_map", {})
    by_entry = {entry: dialogue for dialogue, entry in id_map.items()}
    dialogue_id = by_entry.get(identifier, identifier)
    curated = {d.dialogue_id: d for d in _records(base, "curated_dialogues")}
    dialogue = curated.get(dialogue_id)
    if dialogue is None:
        raise LineageError(f"{identifier!r} is not a curated dialogue or BFCL entry id")
    plan = next(p for p in _records(base, "ground_truth_plans") if p.plan_id == dialogue.plan_id)
    scenario = next(
        (s for s in _records(base, "scenario_seeds") if s.scenario_id == plan.scenario_id), None
    )
    queries = {
        q.round_index: q for q in _records(base, "hard_queries") if q.plan_id == plan.plan_id
    }
    chains = {
        c.round_index: c for c in _records(base, "reasoning_chains") if c.plan_id == plan.plan_id
    }
    graph_path = base / "api_graph" / "all.json"
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    if graph_path.exists():
        graph = json.loads(graph_path.read_text(encoding="utf-8"))
        for edge in graph.get("edges", graph.get("links", [])):
            edges[(edge["source"], edge["target"])] = edge

    out = [f"dialogue {dialogue.dialogue_id}  ({dialogue_category(dialogue)})"]
    if dialogue.dialogue_id in id_map:
        out.append(f"  BFCL entry: {id_map[dialogue.dialogue_id]}")
    out.append(f"scenario {plan.scenario_id}  shard {plan.shard}  seed {plan.seed}")
    out.append(f"  involved classes: {', '.join(plan.involved_classes)}"
               f"{'  (long context)' if plan.long_context else ''}")
    if scenario is not None:
        out.append(f"  config fingerprint: {scenario.fingerprint[:16]}")
    out.append(f"plan {plan.plan_id}  sampler {plan.sampler}  graph {plan.graph_fingerprint}")
    for planned in plan.rounds:
        kept = planned.index in dialogue.rounds
        out.append("")
        out.append(f"round {planned.index}: target {planned.target}  variant {planned.variant}"
                   f"  depth {planned.dependency_depth}{'' if kept else '  (not kept)'}")
        for source, target in planned.edges_followed:
            edge = edges.get((source, target), {})
            evidence = edge.get("evidence")
            summary = json.dumps(evidence, default=str)[:160] if evidence else "-"
            out.append(f"  edge {source} -> {target}  kinds {edge.get('kinds', '?')}"
                       f"  evidence {summary}")
        for call in planned.calls:
            provenance = ", ".join(
                f"{a.name}<-{a.provenance}{':' + a.source if a.source else ''}"
                for a in call.arguments
            )
            flag = "  [injected error]" if call.injected_error else ""
            out.append(f"  call {call.index}: {call.call}  ({provenance}){flag}")
        query = queries.get(planned.index)
        if query is not None:
            tool = query.advanced_tool
            out.append(f"  advanced tool {tool.name}: {tool.description}")
            out.append(f"    inputs: {json.dumps({i.name: i.value for i in tool.inputs})}"
                       f"  hidden: {tool.hidden_intermediates}")
            out.append(f"  query ({query.generator}): {query.query}")
            if query.follow_up:
                out.append(f"  follow-up: {query.follow_up}")
        chain = chains.get(planned.index)
        if chain is not None:
            for attempt in chain.attempts:
                verdict = "pass" if attempt.passed else f"fail ({attempt.failure_kind})"
                calls = [c for step in attempt.steps for c in step.calls]
                out.append(f"  attempt {attempt.attempt} [{attempt.generator}]: {verdict}"
                           f"  calls {calls}")
                if attempt.critique:
                    out.append(f"    critique: {attempt.critique}")
            if chain.drop_reason:
                out.append(f"  dropped: {chain.drop_reason}")
    out.append("")
    out.append("filters passed: " + ", ".join(CURATION_RULES))
    if manifest:
        out.append(f"exports (run {manifest.get('run_id')}):")
        for category, path in manifest.get("bfcl", {}).get("files", {}).items():
            if id_map.get(dialogue.dialogue_id, "").startswith(category):
                out.append(f"  {path}")
        folder = exports / str(manifest.get("run_id")) / "sft"
        files = manifest.get("sft", {}).get("files", {})
        out.extend(f"  {folder / name}" for name in sorted(files))
    return "\n".join(out)
