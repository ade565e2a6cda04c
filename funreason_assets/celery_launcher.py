"""dagster-celery's run launcher, which also notices when the worker running a run is gone.

`dagster_celery.CeleryRunLauncher` judges a run's health by its Celery task state alone. When a
worker dies with its process (kill -9, a lost machine, an evicted container), the task stays
STARTED in the result backend forever, so the daemon's run monitoring keeps seeing a healthy
run that nothing executes. This launcher asks the worker named in the task's STARTED record
whether it is still there (a broker ping); after a few unanswered pings in a row the run counts
as failed, run monitoring marks it so, and `run_retries` (dagster.yaml) launches the retry on a
live worker. Configure it in `dagster.yaml` exactly like the launcher it extends (see
`deploy/celery/dagster.yaml`).
"""

from __future__ import annotations

from typing import Any

from dagster import DagsterRun, Field, IntSource
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus  # no public export
from dagster_celery.launcher import CeleryRunLauncher as _CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG


class CeleryRunLauncher(_CeleryRunLauncher):
    """Starts runs as Celery tasks; a run whose worker stops answering counts as failed."""

    def __init__(
        self, missed_pings: int = 3, ping_timeout_seconds: int = 2, **kwargs: Any
    ) -> None:
        self.missed_pings = missed_pings
        self.ping_timeout_seconds = ping_timeout_seconds
        # Consecutive unanswered pings per run; the daemon keeps one launcher for its lifetime.
        self._missed: dict[str, int] = {}
        super().__init__(**kwargs)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        """The dagster-celery launcher's settings, plus how a lost worker is recognised."""
        return {
            **super().config_type(),
            "missed_pings": Field(
                IntSource, is_required=False, default_value=3,
                description="Unanswered pings in a row after which the run's worker is lost.",
            ),
            "ping_timeout_seconds": Field(
                IntSource, is_required=False, default_value=2,
                description="How long one ping waits for the worker's answer.",
            ),
        }

    def _worker_of(self, run: DagsterRun) -> str | None:
        """The Celery hostname executing the run (from the task's STARTED record)."""
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id is None:
            return None
        info = self.celery.AsyncResult(task_id).info
        hostname = info.get("hostname") if isinstance(info, dict) else None
        return hostname if isinstance(hostname, str) else None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """The task's state; for a started task, whether its worker still answers."""
        result = super().check_run_worker_health(run)
        if result.status != WorkerStatus.RUNNING:
            self._missed.pop(run.run_id, None)
            return result
        worker = self._worker_of(run)
        if worker is None:
            return result
        replies = self.celery.control.ping(
            destination=[worker], timeout=self.ping_timeout_seconds, limit=1
        )
        if replies:
            self._missed.pop(run.run_id, None)
            return result
        missed = self._missed.get(run.run_id, 0) + 1
        self._missed[run.run_id] = missed
        if missed < self.missed_pings:
            return result
        self._missed.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"Celery worker {worker} running the run answered none of {missed} pings: "
            "it is gone (killed, or its machine lost)",
        )
