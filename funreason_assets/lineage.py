"""The story of one exported dialogue.

`python -m funreason_assets.cli lineage <dialogue id | BFCL entry id>` prints: the scenario it
started from, the graph edges the sampler followed (with the probe evidence of each edge),
each round's executed trace with argument provenance, the advanced tool and the hard query,
every reasoning attempt with its verdict and critique, the filters it passed, and the export
files it went to.

The stories are written with the exports into the run folder's lineage index
(`lib/lineage_index.py`), so a lookup reads one row of the latest export. An export written
before the index existed is answered by scanning the stored assets, as slowly as before.
This module imports neither Dagster nor the pipeline's phases until such a scan needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from funreason_assets.lib.lineage_index import INDEX_FILE, lookup
from funreason_assets.lib.paths import ASSET_STORE, EXPORTS, asset_store, resolve


class LineageError(LookupError):
    """The id is not in the stored assets."""


def _not_found(identifier: str) -> LineageError:
    return LineageError(f"{identifier!r} is not a curated dialogue or BFCL entry id")


def _latest_folder(exports: Path) -> Path | None:
    latest = exports / "LATEST"
    if not latest.exists():
        return None
    return exports / latest.read_text(encoding="utf-8").strip()


def _latest_manifest(exports: Path) -> dict[str, Any]:
    folder = _latest_folder(exports)
    path = folder / "manifest.json" if folder is not None else None
    if path is None or not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def dialogue_story(
    identifier: str, base: str | Path = ASSET_STORE, exports: str | Path = EXPORTS
) -> str:
    """The whole story of one curated dialogue, from the latest export's lineage index.

    Raises:
        LineageError: If the id is neither a curated dialogue nor a BFCL entry id.
    """
    folder = _latest_folder(resolve(exports))
    index = folder / INDEX_FILE if folder is not None else None
    if index is None or not index.exists():
        return scan_story(identifier, base, exports)
    story = lookup(index, identifier)
    if story is None:
        raise _not_found(identifier)
    return story


def _records(base: Path, asset: str) -> list[Any]:
    import pyarrow.parquet as pq

    from funreason_assets.lib.record_tables import table_to_records

    folder = base / asset
    if not folder.exists():
        raise LineageError(f"{asset} has not been materialized under {base}")
    return [
        record
        for path in sorted(folder.glob("*.parquet"))
        for record in table_to_records(pq.read_table(path))
    ]


def scan_story(
    identifier: str, base: str | Path = ASSET_STORE, exports: str | Path = EXPORTS
) -> str:
    """The story of one curated dialogue, read from every stored asset (no index needed).

    Raises:
        LineageError: If the id is neither a curated dialogue nor a BFCL entry id.
    """
    from funreason_assets.lib import lineage_story

    base, exports = Path(asset_store(str(base))), resolve(exports)
    manifest = _latest_manifest(exports)
    id_map = manifest.get("bfcl", {}).get("id_map", {})
    by_entry = {entry: dialogue for dialogue, entry in id_map.items()}
    dialogue_id = by_entry.get(identifier, identifier)
    curated = {d.dialogue_id: d for d in _records(base, "curated_dialogues")}
    dialogue = curated.get(dialogue_id)
    if dialogue is None:
        raise _not_found(identifier)
    plan = next(p for p in _records(base, "ground_truth_plans") if p.plan_id == dialogue.plan_id)
    scenario = next(
        (s for s in _records(base, "scenario_seeds") if s.scenario_id == plan.scenario_id), None
    )
    graph_path = base / "api_graph" / "all.json"
    graph = json.loads(graph_path.read_text(encoding="utf-8")) if graph_path.exists() else None
    sources = lineage_story.LineageSources(
        plans=[plan],
        queries=[q for q in _records(base, "hard_queries") if q.plan_id == plan.plan_id],
        chains=[c for c in _records(base, "reasoning_chains") if c.plan_id == plan.plan_id],
        fingerprints={scenario.scenario_id: scenario.fingerprint} if scenario else {},
        edges=lineage_story.graph_edges(graph),
    )
    return lineage_story.dialogue_story(dialogue, plan, sources, manifest, exports)


def main(argv: Sequence[str] | None = None) -> int:
    """`lineage <id>`: print a dialogue's story; 1 (and the reason on stderr) when unknown."""
    parser = argparse.ArgumentParser(
        prog="funreason_assets lineage", description="print the story of one exported dialogue"
    )
    parser.add_argument("id", help="a dialogue id (dialogue-...) or a BFCL entry id")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(dialogue_story(args.id) + "\n")
    except LineageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0
