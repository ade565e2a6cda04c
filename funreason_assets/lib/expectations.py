"""Great Expectations suites for the pipeline's tabular records.

Great Expectations takes seconds to import, so it is imported here, lazily, when a check runs
(or when a process that forks workers preloads it: `funreason_assets.preload`), never when the
definitions load.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

_LOCK = threading.Lock()
_CONTEXT: Any = None


@dataclass(frozen=True)
class Expectation:
    """One expectation: a Great Expectations class name and its arguments."""

    kind: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class ExpectationOutcome:
    """Result of one expectation, with the numbers Great Expectations measured."""

    kind: str
    column: str | None
    success: bool
    unexpected_count: int | None
    observed: Any


@dataclass(frozen=True)
class SuiteOutcome:
    """Result of a suite."""

    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]

    def failures(self) -> list[ExpectationOutcome]:
        """The expectations that failed."""
        return [outcome for outcome in self.outcomes if not outcome.success]

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-able summary for check metadata."""
        return {
            "suite": self.suite,
            "evaluated": len(self.outcomes),
            "failed": [
                {
                    "expectation": outcome.kind,
                    "column": outcome.column,
                    "unexpected_count": outcome.unexpected_count,
                    "observed": outcome.observed,
                }
                for outcome in self.failures()
            ],
        }


def _context() -> Any:
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            import funreason_assets  # noqa: F401  (disables analytics before the import)

            _CONTEXT = gx.get_context(mode="ephemeral")
            # Progress bars would flood run logs with carriage-return noise.
            _CONTEXT.variables.progress_bars = ProgressBarsConfig(
                globally=False, metric_calculations=False
            )
        return _CONTEXT


def load_great_expectations() -> None:
    """Import Great Expectations and create its context now, rather than at the first check."""
    _context()


def validate_frame(
    frame: pd.DataFrame, suite_name: str, expectations: Sequence[Expectation]
) -> SuiteOutcome:
    """Validate a DataFrame against a suite built from `expectations`."""
    import great_expectations as gx

    context = _context()
    with _LOCK:
        source_name = f"pandas_{suite_name}"
        try:
            source = context.data_sources.get(source_name)
        except (KeyError, ValueError):
            source = context.data_sources.add_pandas(source_name)
        try:
            asset = source.get_asset(suite_name)
        except (LookupError, ValueError):
            asset = source.add_dataframe_asset(name=suite_name)
        try:
            batch_definition = asset.get_batch_definition("whole")
        except (KeyError, ValueError):
            batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=suite_name)
    for expectation in expectations:
        suite.add_expectation(getattr(gx.expectations, expectation.kind)(**expectation.kwargs))
    result = batch.validate(suite)
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        details = item.result or {}
        outcomes.append(
            ExpectationOutcome(
                kind=config.type,
                column=config.kwargs.get("column"),
                success=bool(item.success),
                unexpected_count=details.get("unexpected_count"),
                observed=_plain(details.get("observed_value")),
            )
        )
    return SuiteOutcome(suite_name, bool(result.success), outcomes)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
