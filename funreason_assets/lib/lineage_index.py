"""The lineage index: every curated dialogue's story, written once with the exports.

An SQLite file in the export's run folder maps each dialogue id and BFCL entry id to the
dialogue's story, so a lookup reads one row instead of every stored asset. This module
imports the standard library only (and `atomic`, which does too): `cli lineage` answers
without loading the pipeline.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path

from funreason_assets.lib.atomic import atomic_path

INDEX_FILE = "lineage.sqlite"


def write_index(path: Path, stories: Iterable[tuple[str, str | None, str]]) -> int:
    """Write the index atomically (a reader never sees half of it); returns the dialogues.

    Args:
        path: The index file to (re)write.
        stories: (dialogue id, BFCL entry id or None, story) per curated dialogue.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with atomic_path(path) as temporary:
        connection = sqlite3.connect(temporary)
        with connection:
            connection.execute(
                "CREATE TABLE stories (dialogue_id TEXT PRIMARY KEY, story BLOB NOT NULL)"
            )
            connection.execute("CREATE TABLE aliases (alias TEXT PRIMARY KEY, dialogue_id TEXT)")
            for dialogue_id, entry_id, story in stories:
                # Stories repeat their tools and calls: compressed, the index is ~4x smaller.
                packed = zlib.compress(story.encode("utf-8"), 6)
                connection.execute("INSERT INTO stories VALUES (?, ?)", (dialogue_id, packed))
                if entry_id is not None:
                    connection.execute(
                        "INSERT INTO aliases VALUES (?, ?)", (entry_id, dialogue_id)
                    )
                written += 1
        connection.close()
    return written


def lookup(path: Path, identifier: str) -> str | None:
    """The story of a dialogue id or BFCL entry id, or None when the index lacks it."""
    # Read-only URI: a lookup never creates or changes the export's file.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT story FROM stories WHERE dialogue_id = COALESCE("
            "(SELECT dialogue_id FROM aliases WHERE alias = ?), ?)",
            (identifier, identifier),
        ).fetchone()
    finally:
        connection.close()
    if row is None:
        return None
    return row[0] if isinstance(row[0], str) else zlib.decompress(row[0]).decode("utf-8")
