"""The story of one dialogue: from its scenario and graph walk to the files it went to.

One renderer serves the lineage index written with the exports, the report's sample browser
and the scan of the stored assets that answers when an export has no index. The story tells:
the scenario, the graph edges the sampler followed (with the probe evidence of each edge),
each round's executed trace with argument provenance, the advanced tool and the hard query,
every reasoning attempt with its verdict and critique, the filters passed, and the export
files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funreason_assets.lib.bfcl_format import dialogue_category
from funreason_assets.lib.curation import CURATION_RULES
from funreason_assets.lib.export_runs import MANIFEST_FILE
from funreason_assets.lib.lineage_index import INDEX_FILE, write_index
from funreason_assets.lib.records import (
    DialoguePlan,
    HardQuery,
    ReasoningChain,
    VerifiedDialogue,
)

Edge = dict[str, Any]


def graph_edges(graph: Mapping[str, Any] | None) -> dict[tuple[str, str], Edge]:
    """The edges of a node-link graph document by (source, target)."""
    if not graph:
        return {}
    return {
        (edge["source"], edge["target"]): edge
        for edge in graph.get("edges", graph.get("links", []))
    }


@dataclass
class LineageSources:
    """The records a story is told from, joined by plan once for every dialogue.

    Attributes:
        plans: Ground-truth plans.
        queries: Hard queries.
        chains: Reasoning chains.
        fingerprints: Scenario id -> the scenario's config fingerprint.
        edges: Graph edges by (source, target).
    """

    plans: Sequence[DialoguePlan]
    queries: Sequence[HardQuery]
    chains: Sequence[ReasoningChain]
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    edges: Mapping[tuple[str, str], Edge] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._plans = {plan.plan_id: plan for plan in self.plans}
        self._queries: dict[str, dict[int, HardQuery]] = {}
        for query in self.queries:
            self._queries.setdefault(query.plan_id, {})[query.round_index] = query
        self._chains: dict[str, dict[int, ReasoningChain]] = {}
        for chain in self.chains:
            self._chains.setdefault(chain.plan_id, {})[chain.round_index] = chain

    def plan(self, plan_id: str) -> DialoguePlan | None:
        """The plan with this id, if stored."""
        return self._plans.get(plan_id)

    def queries_of(self, plan_id: str) -> dict[int, HardQuery]:
        """A plan's hard queries by round."""
        return self._queries.get(plan_id, {})

    def chains_of(self, plan_id: str) -> dict[int, ReasoningChain]:
        """A plan's reasoning chains by round."""
        return self._chains.get(plan_id, {})


def _round_lines(
    plan: DialoguePlan,
    kept_rounds: Iterable[int],
    sources: LineageSources,
) -> list[str]:
    queries, chains = sources.queries_of(plan.plan_id), sources.chains_of(plan.plan_id)
    kept = set(kept_rounds)
    out: list[str] = []
    for planned in plan.rounds:
        out.append("")
        out.append(f"round {planned.index}: target {planned.target}  variant {planned.variant}"
                   f"  depth {planned.dependency_depth}"
                   f"{'' if planned.index in kept else '  (not kept)'}")
        for source, target in planned.edges_followed:
            edge = sources.edges.get((source, target), {})
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
    return out


def plan_header(plan: DialoguePlan, fingerprint: str | None) -> list[str]:
    """The scenario and plan lines of a story."""
    out = [f"scenario {plan.scenario_id}  shard {plan.shard}  seed {plan.seed}",
           f"  involved classes: {', '.join(plan.involved_classes)}"
           f"{'  (long context)' if plan.long_context else ''}"]
    if fingerprint is not None:
        out.append(f"  config fingerprint: {fingerprint[:16]}")
    out.append(f"plan {plan.plan_id}  sampler {plan.sampler}  graph {plan.graph_fingerprint}")
    goal = getattr(plan, "goal", None) or {}
    if goal:
        out.append(f"  goal ({goal.get('key_class', '')}): {goal.get('reason', '')}")
        for index, task in enumerate(goal.get("tasks", [])):
            after = task.get("builds_on") or []
            planned = f", planned {task['planned']}" if task.get("planned") else ""
            uses = f", uses round {', '.join(str(i) for i in after)}" if after else ""
            out.append(f"    task {index}: {task.get('target', '')}{planned}{uses}")
    return out


def plan_story(plan: DialoguePlan, kept_rounds: Iterable[int], sources: LineageSources) -> str:
    """The story of a plan that did not become a curated dialogue: scenario, walk, attempts."""
    lines = [f"plan {plan.plan_id} (not curated)",
             *plan_header(plan, sources.fingerprints.get(plan.scenario_id))]
    return "\n".join([*lines, *_round_lines(plan, kept_rounds, sources)])


def export_lines(
    dialogue_id: str, manifest: Mapping[str, Any], exports: Path
) -> list[str]:
    """The export files a curated dialogue went to, from the run manifest."""
    if not manifest:
        return []
    id_map = manifest.get("bfcl", {}).get("id_map", {})
    out = [f"exports (run {manifest.get('run_id')}):"]
    for category, path in manifest.get("bfcl", {}).get("files", {}).items():
        if id_map.get(dialogue_id, "").startswith(category):
            out.append(f"  {path}")
    folder = exports / str(manifest.get("run_id")) / "sft"
    files = manifest.get("sft", {}).get("files", {})
    out.extend(f"  {folder / name}" for name in sorted(files))
    return out


def dialogue_story(
    dialogue: VerifiedDialogue,
    plan: DialoguePlan,
    sources: LineageSources,
    manifest: Mapping[str, Any],
    exports: Path,
) -> str:
    """The whole story of one curated dialogue as text."""
    id_map = manifest.get("bfcl", {}).get("id_map", {})
    out = [f"dialogue {dialogue.dialogue_id}  ({dialogue_category(dialogue)})"]
    if dialogue.dialogue_id in id_map:
        out.append(f"  BFCL entry: {id_map[dialogue.dialogue_id]}")
    out.extend(plan_header(plan, sources.fingerprints.get(plan.scenario_id)))
    out.extend(_round_lines(plan, dialogue.rounds, sources))
    out.append("")
    out.append("filters passed: " + ", ".join(CURATION_RULES))
    out.extend(export_lines(dialogue.dialogue_id, manifest, exports))
    return "\n".join(out)


def curated_stories(
    curated: Sequence[VerifiedDialogue],
    sources: LineageSources,
    manifest: Mapping[str, Any],
    exports: Path,
) -> Iterator[tuple[str, str | None, str]]:
    """(dialogue id, BFCL entry id or None, story) for every curated dialogue with its plan."""
    id_map = manifest.get("bfcl", {}).get("id_map", {})
    for dialogue in curated:
        plan = sources.plan(dialogue.plan_id)
        if plan is not None:
            yield (dialogue.dialogue_id, id_map.get(dialogue.dialogue_id),
                   dialogue_story(dialogue, plan, sources, manifest, exports))


def lineage_sources(
    plans: Sequence[DialoguePlan],
    queries: Sequence[HardQuery],
    chains: Sequence[ReasoningChain],
    scenarios: Iterable[Any],
    graph: Mapping[str, Any] | None,
) -> LineageSources:
    """The records of a run joined for its stories (scenarios: anything with a fingerprint)."""
    fingerprints: dict[str, str] = {}
    for scenario in scenarios:
        fingerprints.setdefault(scenario.scenario_id, scenario.fingerprint)
    return LineageSources(plans, queries, chains, fingerprints, graph_edges(graph))


def write_lineage_index(
    run_folder: Path, curated: Sequence[VerifiedDialogue], sources: LineageSources
) -> tuple[Path, dict[str, str]]:
    """Write every curated dialogue's story into the export's lineage index.

    The stories name the export files from the run's manifest, so the BFCL and training
    exports must have written their parts of it first.

    Returns:
        The index file, and dialogue id -> story.
    """
    manifest = json.loads((run_folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    stories = list(curated_stories(curated, sources, manifest, run_folder.parent))
    path = run_folder / INDEX_FILE
    write_index(path, stories)
    return path, {dialogue_id: story for dialogue_id, _, story in stories}
