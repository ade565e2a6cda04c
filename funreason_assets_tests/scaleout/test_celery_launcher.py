"""The pool's run launcher: a started run whose worker stops answering counts as failed."""

import dagster as dg
import pytest

pytest.importorskip("dagster_celery")

from dagster._core.launcher import WorkerStatus

from funreason_assets.celery_launcher import CeleryRunLauncher


class FakeResult:
    def __init__(self, state: str, info: object) -> None:
        self.state, self.info = state, info


class FakeControl:
    def __init__(self) -> None:
        self.alive: set[str] = set()
        self.pinged: list[list[str]] = []

    def ping(self, destination, timeout, limit):
        self.pinged.append(list(destination))
        return [{name: {"ok": "pong"}} for name in destination if name in self.alive]


class FakeCelery:
    def __init__(self) -> None:
        self.tasks: dict[str, FakeResult] = {}
        self.control = FakeControl()

    def AsyncResult(self, task_id: str) -> FakeResult:
        return self.tasks[task_id]


@pytest.fixture
def launcher():
    launcher = CeleryRunLauncher(default_queue="dagster", broker="redis://127.0.0.1:1/0",
                                 missed_pings=2, ping_timeout_seconds=1)
    launcher.celery = FakeCelery()
    return launcher


def _run(task_id: str) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="generate_dataset", run_id=f"run-{task_id}",
                         tags={"dagster-celery/task_id": task_id})


def test_a_started_run_is_healthy_while_its_worker_answers(launcher):
    launcher.celery.tasks["t1"] = FakeResult("STARTED", {"pid": 7, "hostname": "worker-1@h"})
    launcher.celery.control.alive.add("worker-1@h")
    for _ in range(3):
        assert launcher.check_run_worker_health(_run("t1")).status == WorkerStatus.RUNNING
    assert launcher.celery.control.pinged == [["worker-1@h"]] * 3


def test_a_run_whose_worker_is_gone_fails_after_the_missed_pings(launcher):
    launcher.celery.tasks["t2"] = FakeResult("STARTED", {"pid": 7, "hostname": "worker-2@h"})
    first = launcher.check_run_worker_health(_run("t2"))
    assert first.status == WorkerStatus.RUNNING  # one silence is not yet a loss
    second = launcher.check_run_worker_health(_run("t2"))
    assert second.status == WorkerStatus.FAILED
    assert "worker-2@h" in second.msg and "answered none of 2 pings" in second.msg


def test_an_answer_resets_the_count_and_task_states_pass_through(launcher):
    launcher.celery.tasks["t3"] = FakeResult("STARTED", {"pid": 7, "hostname": "worker-3@h"})
    assert launcher.check_run_worker_health(_run("t3")).status == WorkerStatus.RUNNING
    launcher.celery.control.alive.add("worker-3@h")
    assert launcher.check_run_worker_health(_run("t3")).status == WorkerStatus.RUNNING
    launcher.celery.control.alive.clear()
    assert launcher.check_run_worker_health(_run("t3")).status == WorkerStatus.RUNNING
    launcher.celery.tasks["t4"] = FakeResult("SUCCESS", 0)
    assert launcher.check_run_worker_health(_run("t4")).status == WorkerStatus.SUCCESS
    launcher.celery.tasks["t5"] = FakeResult("PENDING", None)  # queued: no worker to ask
    assert launcher.check_run_worker_health(_run("t5")).status == WorkerStatus.UNKNOWN
    assert all(names != ["t4"] for names in launcher.celery.control.pinged)


def test_the_launcher_loads_from_the_deployed_instance_config():
    config = {"default_queue": "dagster", "broker": "redis://127.0.0.1:1/0",
              "missed_pings": 4, "ping_timeout_seconds": 3}
    fields = set(CeleryRunLauncher.config_type())
    assert {"missed_pings", "ping_timeout_seconds", "broker"} <= fields
    loaded = CeleryRunLauncher.from_config_value(None, config)
    assert (loaded.missed_pings, loaded.ping_timeout_seconds) == (4, 3)
