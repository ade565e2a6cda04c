"""A local Dagster deployment (webserver and daemon) and the GraphQL calls its UI sends.

`dagster dev` starts the webserver, the daemon and one code server for the workspace; runs go
to the instance's queue, the daemon starts each in its own run worker process, and backfills
are submitted by the daemon's backfill loop. The functions here launch work exactly as the UI
does (`launchPipelineExecution` for one partition of a job, `launchPartitionBackfill` for a
job's partitions) and read back what the run and backfill pages show, with the times of each
run's lifecycle events, so the tests and the benchmark see where a UI launch spends its time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
# The lifecycle events of a run, in order, as the run page's log names them.
LIFECYCLE = ("RunEnqueuedEvent", "RunDequeuedEvent", "RunStartingEvent", "RunStartEvent",
             "RunSuccessEvent")

LOCATIONS = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name } }
          ... on PythonError { message }
        }
      }
    }
  }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
}
"""
LAUNCH_RUN = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
  }
}
"""
BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status timestamp endTimestamp numPartitions }
    ... on PythonError { message }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $backfillId}]}) {
    ... on Runs { results { runId status } }
  }
}
"""
RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status jobName creationTime startTime endTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
    }
  }
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message timestamp stepKey level }
        ... on ExecutionStepFailureEvent { error { message } }
        ... on AssetCheckEvaluationEvent {
          evaluation { checkName success severity assetKey { path } }
        }
      }
    }
  }
}
"""


class GraphQLError(RuntimeError):
    """The webserver answered with errors, or a mutation did not succeed."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DagsterDev:
    """A running `dagster dev`: its URL and the code location it serves."""

    url: str
    process: subprocess.Popen[bytes]
    location: str = ""
    repository: str = ""

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST one GraphQL operation to the webserver, as the UI does; returns `data`."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"])[:2000])
        return answer["data"]

    def repository_selector(self) -> dict[str, str]:
        """The selector of the served repository."""
        return {"repositoryLocationName": self.location, "repositoryName": self.repository}

    def launch_partition_run(
        self, job: str, partition: str, tags: Mapping[str, str] | None = None
    ) -> str:
        """Launch one partition of a job (the launchpad's Launch run); returns the run id."""
        tag_list = [{"key": "dagster/partition", "value": partition}]
        tag_list += [{"key": key, "value": value} for key, value in (tags or {}).items()]
        data = self.graphql(LAUNCH_RUN, {"executionParams": {
            "selector": {**self.repository_selector(), "pipelineName": job},
            "mode": "default",
            "runConfigData": {},
            "executionMetadata": {"tags": tag_list},
        }})
        result = data["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(json.dumps(result)[:2000])
        return result["run"]["runId"]

    def launch_backfill(
        self, job: str, partitions: Sequence[str], asset_selection: Sequence[str] | None = None
    ) -> str:
        """Launch a backfill of a job's partitions (the partitions page's Launch backfill).

        `asset_selection` limits every run to these assets of the job (all when None).
        """
        params: dict[str, Any] = {
            "selector": {
                "partitionSetName": f"{job}_partition_set",
                "repositorySelector": self.repository_selector(),
            },
            "partitionNames": list(partitions),
            "fromFailure": False,
            "tags": [],
        }
        if asset_selection is not None:
            params["assetSelection"] = [{"path": [name]} for name in asset_selection]
        data = self.graphql(LAUNCH_BACKFILL, {"backfillParams": params})
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise GraphQLError(json.dumps(result)[:2000])
        return result["backfillId"]

    def run(self, run_id: str) -> dict[str, Any]:
        """The run as its page shows it: status, steps, events (with the log's messages)."""
        data = self.graphql(RUN, {"runId": run_id})
        run = data["runOrError"]
        run["events"] = data["logsForRun"].get("events", [])
        return run

    def wait_for_runs(self, run_ids: Sequence[str], timeout: float) -> dict[str, str]:
        """Poll until every run has finished; returns run id -> status."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = {
                run_id: self.graphql(RUN, {"runId": run_id})["runOrError"]["status"]
                for run_id in run_ids
            }
            if all(status in FINISHED for status in statuses.values()):
                return statuses
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs still going after {timeout} s: {statuses}")
            time.sleep(0.5)

    def wait_for_backfill(
        self, backfill_id: str, runs: int, timeout: float, completed: bool = False
    ) -> dict[str, Any]:
        """Poll until the backfill's `runs` runs have finished (and, if asked, it completed)."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.graphql(BACKFILL, {"backfillId": backfill_id})
            backfill = data["partitionBackfillOrError"]
            found = data["runsOrError"]["results"]
            done = len(found) >= runs and all(r["status"] in FINISHED for r in found)
            if done and (not completed or backfill["status"] != "REQUESTED"):
                return {**backfill, "runs": found}
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill not done after {timeout} s: {backfill} {found}")
            time.sleep(0.5)


def _wait_until_ready(dev: DagsterDev, timeout: float, daemons: bool) -> None:
    deadline = time.monotonic() + timeout
    problem = "not started"
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {dev.process.returncode}")
        try:
            data = dev.graphql(LOCATIONS)
        except (OSError, GraphQLError) as error:
            problem = str(error)
            time.sleep(0.5)
            continue
        entries = data["workspaceOrError"].get("locationEntries", [])
        loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
        health = {
            d["daemonType"]: d["healthy"]
            for d in data["instance"]["daemonHealth"]["allDaemonStatuses"] if d["required"]
        }
        if loaded and (not daemons or (health and all(health.values()))):
            location = loaded[0]["locationOrLoadError"]
            if location["__typename"] != "RepositoryLocation":
                raise RuntimeError(f"the code location failed to load: {location}")
            dev.location = location["name"]
            dev.repository = location["repositories"][0]["name"]
            return
        problem = f"locations {[e['loadStatus'] for e in entries]}, daemons {health}"
        time.sleep(0.5)
    raise TimeoutError(f"dagster dev not ready after {timeout} s: {problem}")


@contextlib.contextmanager
def run_dagster_dev(
    workspace: Path, env: Mapping[str, str], cwd: Path, timeout: float = 180,
    log: Path | None = None, daemons: bool = True,
) -> Iterator[DagsterDev]:
    """Start `dagster dev` on 127.0.0.1 (webserver, daemon, code server); stop it on exit.

    Args:
        workspace: The workspace file to serve.
        env: The environment (`DAGSTER_HOME` names the instance).
        cwd: The working directory.
        timeout: Seconds to wait for the code location to load and every daemon to be healthy.
        log: A file for the deployment's own output (discarded when None).
        daemons: Also wait for every daemon's first heartbeat (a run launched before waits in
            the queue until the daemon starts it).
    """
    port = free_port()
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port),
         "-w", str(workspace)],
        env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    dev = DagsterDev(url=f"http://127.0.0.1:{port}", process=process)
    try:
        _wait_until_ready(dev, timeout, daemons)
        yield dev
    finally:
        # The whole session: the webserver, the daemon, the code server and any run worker.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        # A run worker or code server that outlived `dagster dev` goes with its session.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if log is not None and hasattr(output, "close"):
            output.close()


def run_timeline(run: Mapping[str, Any]) -> dict[str, float]:
    """Where a run's wall time went, in seconds, from its lifecycle events and step stats.

    `queued`: enqueued until the daemon dequeued it; `launch`: dequeued until the run worker
    started executing (a new process importing Dagster and loading the code location);
    `steps`: the first step's start to the last step's end; `total`: enqueued until success.
    """
    stamps: dict[str, float] = {}
    for event in run["events"]:
        kind = event["__typename"]
        if kind in LIFECYCLE and kind not in stamps:
            stamps[kind] = float(event["timestamp"]) / 1000
    steps = [s for s in run["stepStats"] if s["startTime"] and s["endTime"]]
    first = min((s["startTime"] for s in steps), default=None)
    last = max((s["endTime"] for s in steps), default=None)
    enqueued = stamps.get("RunEnqueuedEvent", run["creationTime"])
    timeline = {
        "queued": stamps.get("RunDequeuedEvent", enqueued) - enqueued,
        "launch": (stamps.get("RunStartEvent", 0) - stamps.get("RunDequeuedEvent", enqueued))
        if "RunStartEvent" in stamps else 0.0,
        "steps": (last - first) if first is not None and last is not None else 0.0,
        "total": (run["endTime"] or time.time()) - enqueued,
    }
    timeline["per_step"] = {  # type: ignore[assignment]
        s["stepKey"]: round(s["endTime"] - s["startTime"], 2) for s in steps
    }
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in timeline.items()}


def small_png(source: Path, target: Path, colors: int = 64) -> Path:
    """A copy of a screenshot with a reduced palette (UI pages have few colours), for docs."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=colors).save(target, optimize=True)
    return target
