"""A Celery run pool on one machine, for tests and benchmarks.

Starts what `deploy/celery/` describes, on 127.0.0.1 and free ports: Redis (the broker and
result backend), Postgres (instance storage; `initdb` into a temporary folder, run as an
unprivileged user when started as root, since Postgres refuses to run as root), a code server,
Celery workers (each in its own working directory and `DAGSTER_HOME`, as on separate machines)
and the Dagster daemon (run monitoring and run retries). Shards are backfilled the way the UI
does it, through GraphQL. Every process is the leader of its own process group, and `close`
stops every group it started.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from funreason_assets.lib.paths import project_root

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = _REPO_ROOT / "deploy" / "celery"
HOST = "127.0.0.1"
LOCATION = "funreason_assets"
PG_USER = "dagster"
PG_DB = "postgres"


# The catalog and the graph every shard reads, and the assets of one shard.
SHARED_ASSETS = ("tool_catalog", "api_graph")
SHARD_ASSETS = ("scenario_seeds", "ground_truth_plans", "hard_queries", "reasoning_chains")
# Two roles answered by the local OpenAI-compatible server; the other roles stay scripted, so
# every dialogue still verifies.
MODEL_SCRIPT = (
    {"name": "abstractor", "system_contains": "You abstract a trace",
     "json": {"name": "compute_request", "description": "Does what the user asks for."}},
    {"name": "replier", "system_contains": "Write the closing message",
     "json": {"reply": "Here is the result you asked for."}},
)


class PoolError(RuntimeError):
    """A service did not start, or the pool did not finish in time (the message says which)."""


def _postgres_binary(name: str) -> str | None:
    """A Postgres server binary: on the PATH, else in Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def missing_services() -> list[str]:
    """The binaries the pool needs that this machine lacks (empty when it can run)."""
    missing = [] if shutil.which("redis-server") else ["redis-server"]
    missing += [name for name in ("initdb", "postgres") if _postgres_binary(name) is None]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (to run Postgres as an unprivileged user)")
    return missing


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _wait_for(what: str, ready: Callable[[], bool], timeout: float,
              process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise PoolError(f"{what} exited with status {process.returncode}:\n{tail}")
        try:
            if ready():
                return
        except PoolError:
            raise
        except Exception:  # not up yet: a refused connection, tables not created ...
            pass
        time.sleep(0.2)
    raise PoolError(f"{what} was not ready within {timeout} s")


@dataclass
class _Service:
    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM


@dataclass
class LocalPool:
    """The services of one pool; build it with `run_pool`.

    Attributes:
        root: The pool's folder (logs, the homes of daemon and workers, the workspace file).
        env: The environment every pool process gets (instance, broker, project, outputs).
        workspace: The workspace file naming the pool's code server (for the daemon, GraphQL).
        worker_names: Celery node names of the workers, by index (`worker-0@<host>`).
    """

    root: Path
    env: dict[str, str]
    instance_config: dict[str, Any]
    workspace: Path | None = None  # the workspace file naming the pool's code server
    services: dict[str, _Service] = field(default_factory=dict)
    worker_names: list[str] = field(default_factory=list)
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    # ------------------------------------------------------------------ processes

    def _start(self, name: str, argv: Sequence[str], cwd: Path | None = None,
               env: Mapping[str, str] | None = None,
               stop_signal: int = signal.SIGTERM) -> _Service:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as handle:
            process = subprocess.Popen(
                list(argv), cwd=cwd or self.root, env=dict(env or self.env),
                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = _Service(name, process, log, stop_signal)
        self.services[name] = service
        return service

    def kill(self, name: str) -> None:
        """SIGKILL a service's whole process group (a worker: its main and pool processes)."""
        service = self.services[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=30)

    def _stop(self, service: _Service, timeout: float = 15.0) -> None:
        if service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, service.stop_signal)
            try:
                service.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Children the leader left behind (a worker's pool process) go with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=5)

    def close(self) -> None:
        """Stop every process this pool started (newest first) and remove Postgres' folder."""
        for service in reversed(list(self.services.values())):
            self._stop(service)
        for cleanup in reversed(self._cleanups):
            with contextlib.suppress(OSError):
                cleanup()

    # ------------------------------------------------------------------ services

    def start_redis(self) -> str:
        """Redis without persistence; returns its URL."""
        port = free_port()
        service = self._start("redis", [
            "redis-server", "--port", str(port), "--bind", HOST, "--save", "",
            "--appendonly", "no", "--dir", str(self.root),
        ])
        import redis

        _wait_for("redis", lambda: redis.Redis(host=HOST, port=port).ping(), 30,
                  service.process, service.log)
        return f"redis://{HOST}:{port}"

    def start_postgres(self) -> int:
        """A throw-away Postgres cluster (trust auth, no fsync); returns its port."""
        prefix: list[str] = []
        data = Path(tempfile.mkdtemp(prefix="funreason-pg-"))
        self._cleanups.append(lambda: shutil.rmtree(data, ignore_errors=True))
        if os.geteuid() == 0:
            # Postgres refuses to run as root: run it as Debian's `postgres` user, else nobody,
            # in a folder that user owns.
            user = "postgres" if _user_exists("postgres") else "nobody"
            record = pwd.getpwnam(user)
            os.chown(data, record.pw_uid, record.pw_gid)
            prefix = ["runuser", "-u", user, "--"]
        cluster = data / "cluster"
        initdb = subprocess.run(
            [*prefix, str(_postgres_binary("initdb")), "-D", str(cluster), "-U", PG_USER,
             "-A", "trust", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if initdb.returncode != 0:
            raise PoolError(f"initdb failed: {initdb.stderr[-2000:]}")
        port = free_port()
        service = self._start("postgres", [
            *prefix, str(_postgres_binary("postgres")), "-D", str(cluster), "-p", str(port),
            "-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories=",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=200",
        ], stop_signal=signal.SIGINT)
        import psycopg2

        _wait_for(
            "postgres",
            lambda: psycopg2.connect(host=HOST, port=port, user=PG_USER, dbname=PG_DB).close()
            is None,
            60, service.process, service.log,
        )
        return port

    def _home(self, name: str) -> Path:
        """A `DAGSTER_HOME` holding the pool's dagster.yaml (one per component, like machines)."""
        home = self.root / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(self.instance_config), "utf-8")
        return home

    def start_code_server(self) -> Callable[[], Path]:
        """One code server the daemon and GraphQL share; returns a wait for its workspace file.

        The server loads the code location while the caller starts other services.
        """
        port = free_port()
        env = {**self.env, "DAGSTER_HOME": str(self._home("code-server"))}
        service = self._start("code-server", [
            sys.executable, "-m", "dagster", "api", "grpc", "-m", "funreason_assets.definitions",
            "-h", HOST, "-p", str(port), "--location-name", LOCATION,
        ], env=env)
        workspace = self.root / "workspace.yaml"
        workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
            "host": HOST, "port": port, "location_name": LOCATION}}]}), "utf-8")

        def listening() -> bool:
            with socket.create_connection((HOST, port), timeout=1):
                return True

        def ready() -> Path:
            _wait_for("code server", listening, 180, service.process, service.log)
            return workspace

        return ready

    def start_workers(self, count: int) -> None:
        """Celery workers with one run at a time each, in their own folders and homes."""
        start = len(self.worker_names)
        for index in range(start, start + count):
            name = f"worker-{index}"
            folder = self.root / name
            env = {**self.env, "DAGSTER_HOME": str(self._home(name))}
            self._start(name, [
                _tool("dagster-celery"), "worker", "start",
                "-A", "dagster_celery.app", "-y", str(DEPLOY / "worker.yaml"), "-n", name,
                # Loads the code location before the pool process forks (worker_init), so no
                # run loads it again.
                "-i", "funreason_assets.celery_worker",
                "--", "--concurrency=1", "--without-gossip", "--without-mingle",
            ], cwd=folder, env=env)
            self.worker_names.append(f"{name}@{socket.gethostname()}")
        expected = set(self.worker_names[start:])
        app = self.celery_app()
        started = [self.services[f"worker-{index}"] for index in range(start, start + count)]

        def answering() -> bool:
            for service in started:
                if service.process.poll() is not None:
                    tail = service.log.read_text(errors="replace")[-3000:]
                    raise PoolError(f"{service.name} exited:\n{tail}")
            replies = app.control.ping(timeout=1.0)
            return expected <= {name for reply in replies for name in reply}

        # Each worker answers once it has preloaded the code location: several at once on a
        # small machine take a while.
        _wait_for(f"{count} celery workers", answering, 300)

    def start_daemon(self, workspace: Path) -> None:
        """The Dagster daemon: backfills, run monitoring and run retries."""
        env = {**self.env, "DAGSTER_HOME": str(self._home("daemon"))}
        self._start("daemon", [_tool("dagster-daemon"), "run", "-w", str(workspace)], env=env)

    def celery_app(self) -> Any:
        """A Celery client on the pool's broker and backend."""
        from celery import Celery

        return Celery("pool-client", broker=self.env["FUNREASON_CELERY_BROKER"],
                      backend=self.env["FUNREASON_CELERY_BACKEND"])

    def worker_of_task(self, task_id: str) -> str | None:
        """The node that ran (or runs) a Celery task, from the result backend."""
        result = self.celery_app().AsyncResult(task_id)
        info = result.info
        if isinstance(info, dict) and isinstance(info.get("hostname"), str):
            return info["hostname"]  # a started task
        return result.worker  # a finished one (result_extended)

    # ------------------------------------------------------------------ Dagster side

    @contextlib.contextmanager
    def instance(self) -> Iterator[Any]:
        """The pool's Dagster instance (Postgres), as the test process sees it."""
        import dagster as dg

        home = self._home("client")
        previous = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                yield instance
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextlib.contextmanager
def graphql(instance: Any, workspace: Path) -> Iterator[Callable[[str, dict], dict]]:
    """Run GraphQL against the workspace in this process, as the UI would over HTTP."""
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    with define_out_of_process_context(str(workspace), None, instance) as context:

        def execute(query: str, variables: dict) -> dict:
            result = execute_dagster_graphql(context, query, variables)
            if result.errors:
                raise PoolError(f"GraphQL errors: {result.errors}")
            return result.data

        yield execute


LAUNCH_RUN = """
mutation($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""

LAUNCH_BACKFILL = """
mutation($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
  }
}
"""


def launch_run(execute: Callable[[str, dict], dict], job: str, assets: Sequence[str] | None,
               tags: Mapping[str, str] | None = None) -> str:
    """Launch one run of a job (optionally a subset of its assets); returns the run id."""
    selector: dict[str, Any] = {
        "repositoryLocationName": LOCATION, "repositoryName": "__repository__", "jobName": job,
    }
    if assets is not None:
        selector["assetSelection"] = [{"path": [name]} for name in assets]
    data = execute(LAUNCH_RUN, {"executionParams": {
        "selector": selector, "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }})["launchRun"]
    if data["__typename"] != "LaunchRunSuccess":
        raise PoolError(f"launching {job} failed: {json.dumps(data)}")
    return data["run"]["runId"]


def launch_backfill(execute: Callable[[str, dict], dict], assets: Sequence[str],
                    partitions: Sequence[str], tags: Mapping[str, str] | None = None) -> str:
    """Backfill these assets over these partitions (the daemon launches the runs)."""
    data = execute(LAUNCH_BACKFILL, {"backfillParams": {
        "assetSelection": [{"path": [name]} for name in assets],
        "partitionNames": list(partitions),
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }})["launchPartitionBackfill"]
    if data["__typename"] != "LaunchBackfillSuccess":
        raise PoolError(f"launching the backfill failed: {json.dumps(data)}")
    return data["backfillId"]


def wait_for_run(instance: Any, run_id: str, timeout: float) -> Any:
    """Wait until a run ends; returns it (raises PoolError on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.5)
    raise PoolError(f"run {run_id} did not finish within {timeout} s")


def _tool(name: str) -> str:
    """A console script of this environment (the one running Python)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def pool_instance_config(**overrides: Any) -> dict[str, Any]:
    """`deploy/celery/dagster.yaml`, with sections replaced or merged by `overrides`.

    A mapping merges into the section of that name (one level deep), anything else replaces it.
    """
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    for section, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **value}
        else:
            config[section] = value
    return config


@contextlib.contextmanager
def run_pool(root: Path, env: Mapping[str, str], workers: int,
             instance_config: Mapping[str, Any] | None = None) -> Iterator[LocalPool]:
    """Start Redis, Postgres, a code server and `workers` Celery workers; stop all on exit.

    The daemon is not started here (`LocalPool.start_daemon`): a backfill added before it starts
    is launched on its first iteration rather than up to 30 s later.

    Args:
        root: An empty folder for the pool.
        env: The environment of every pool process (project root, outputs root, keys ...).
        workers: Celery workers to start.
        instance_config: The instance settings (`pool_instance_config()` when None).
    """
    # Workers start `celery` by name: the environment's scripts come first on the PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    pool = LocalPool(root=root, env={**env, "PATH": path},
                     instance_config=dict(instance_config or pool_instance_config()))
    try:
        broker = pool.start_redis()
        pg_port = pool.start_postgres()
        pool.env.update({
            "FUNREASON_CELERY_BROKER": f"{broker}/0",
            "FUNREASON_CELERY_BACKEND": f"{broker}/1",
            "DAGSTER_PG_HOST": HOST, "DAGSTER_PG_PORT": str(pg_port),
            "DAGSTER_PG_USER": PG_USER, "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": PG_DB,
        })
        # The first instance on a new database creates its tables. One process does it here:
        # workers and the code server that start together would race to create them.
        with pool.instance():
            pass
        code_server = pool.start_code_server()
        if workers:
            pool.start_workers(workers)
        pool.workspace = code_server()
        yield pool
    finally:
        pool.close()


def scripted_model_project(root: Path, server: Any, shards: int, scenarios: int,
                           concurrency: int = 2) -> Path:
    """A project with the checked-in configs, resized, whose abstractor and replier call `server`.

    The server gets `MODEL_SCRIPT`; the roles read their key from `FUNREASON_TEST_KEY`. With
    `concurrency` calls in flight per run, a shard waits on the model for seconds, as it would
    with real ones.
    """
    shutil.copytree(project_root() / "data" / "config", root / "data" / "config")
    generation = root / "data" / "config" / "generation.yaml"
    config = yaml.safe_load(generation.read_text(encoding="utf-8"))
    config.update(shards=shards, scenarios_per_shard=scenarios)
    generation.write_text(yaml.safe_dump(config), encoding="utf-8")
    models = root / "data" / "config" / "models.yaml"
    config = yaml.safe_load(models.read_text(encoding="utf-8"))
    role = {"model": "openai/test-model", "api_base": server.base_url,
            "api_key_env": "FUNREASON_TEST_KEY"}
    config["roles"].update(tool_abstractor=role, replier=role)
    config["client"]["concurrency"] = concurrency
    models.write_text(yaml.safe_dump(config), encoding="utf-8")
    server.configure(script=list(MODEL_SCRIPT))
    return root
