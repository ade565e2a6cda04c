"""Check verdicts and phase results: what every phase returns besides its records.

A phase declares its checks once (`CheckSpec`: name, what it asserts, whether it blocks the
phases after it, and its severity) and returns a `PhaseResult`: the records, one `Verdict` per
declared check with the measured numbers, and plain metrics, tables and pictures for the asset
page. The Dagster layer only translates these (`defs/checks.py`), so every check can be tested
with a passing and a failing input without Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

Record = TypeVar("Record")
Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class CheckSpec:
    """One check of an asset: one property, stated once."""

    name: str
    description: str
    blocking: bool = False
    severity: Severity = "error"

    def verdict(self, passed: bool, **metadata: Any) -> Verdict:
        """The outcome of this check with the numbers it measured."""
        return Verdict(self, bool(passed), metadata)

    def graded_verdict(self, passed: bool, severity: Severity, **metadata: Any) -> Verdict:
        """An outcome whose severity depends on how far it misses (e.g. WARN, then ERROR)."""
        return Verdict(self, bool(passed), metadata, severity)


@dataclass(frozen=True)
class Verdict:
    """A check's outcome and the measured numbers behind it."""

    spec: CheckSpec
    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    graded: Severity | None = None

    @property
    def name(self) -> str:
        """The check's name."""
        return self.spec.name

    @property
    def severity(self) -> Severity:
        """This outcome's severity: the graded one, else the spec's."""
        return self.graded or self.spec.severity


@dataclass(frozen=True)
class Picture:
    """A PNG image with the caption a reader sees."""

    caption: str
    png: bytes


@dataclass
class PhaseResult(Generic[Record]):
    """What a phase returns: its value, check verdicts, and what the asset page shows.

    Attributes:
        value: The records (or the document) the asset stores.
        verdicts: One verdict per check the phase declares.
        metrics: JSON-able counters and figures for the asset's metadata.
        tables: Named lists of rows, shown as markdown tables (the first is the preview).
        pictures: Named pictures (caption and PNG bytes), shown inline.
    """

    value: Record
    verdicts: list[Verdict] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pictures: dict[str, Picture] = field(default_factory=dict)

    def verdict(self, name: str) -> Verdict:
        """The verdict of one check, by name."""
        for verdict in self.verdicts:
            if verdict.name == name:
                return verdict
        raise KeyError(f"no verdict for check {name!r}")


def first_items(mapping: Mapping[str, Any], limit: int = 10) -> dict[str, Any]:
    """The first entries of a mapping, for check metadata that must stay small."""
    return dict(list(mapping.items())[:limit])


def missing_verdicts(specs: Sequence[CheckSpec], verdicts: Sequence[Verdict]) -> list[str]:
    """Declared checks without a verdict (a phase must judge every check it declares)."""
    judged = {verdict.name for verdict in verdicts}
    return [spec.name for spec in specs if spec.name not in judged]
