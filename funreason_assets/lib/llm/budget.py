"""The run budget: one cap on tokens and cost for every asset, shard and process of a run.

Each call reserves its worst case (prompt estimate plus `max_tokens`, and its price) before it
is sent, and settles to what it really used when it returns. A reservation that does not fit
next to the calls in flight waits for them to settle; it is refused only when it could not fit
even with nothing in flight (spent + its worst case > cap). So spending never passes the cap,
and a batch of concurrent calls is not refused just because its worst cases add up.

Where the totals live:

- `Budget(tokens, usd)` keeps them in memory: one client's own budget.
- `Budget(tokens, usd, ledger=path)` keeps them in a small JSON ledger file guarded by a file
  lock, so every client of every process that names the same file shares one budget. The
  models resource keys the file by the run's *budget group* under the model cache folder
  (`ledger_path`): the `funreason/run_group` run tag when set (a command that launches one
  Dagster run per shard passes the same value to all of them), else the `FUNREASON_RUN_GROUP`
  environment variable, else the backfill id of a backfill's runs, else the Dagster run id.
  Calls in flight are kept per process (`host:pid`); those of a process that died are dropped,
  so a crash cannot hold budget forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock

RUN_GROUP_TAG = "funreason/run_group"
RUN_GROUP_ENV = "FUNREASON_RUN_GROUP"
BACKFILL_TAG = "dagster/backfill"
LEDGER_FOLDER = "budgets"
# How often a waiting reservation looks again for calls settled by other processes (calls of
# its own process wake it at once).
POLL_SECONDS = 0.1

T = TypeVar("T")


class BudgetExhausted(Exception):
    """Raised inside the client when the budget refuses a new call."""


def run_group(tags: Mapping[str, str], run_id: str | None) -> str | None:
    """The budget group of a run: the tag, the environment, the backfill, or the run id."""
    for value in (tags.get(RUN_GROUP_TAG), os.environ.get(RUN_GROUP_ENV),
                  tags.get(BACKFILL_TAG), run_id):
        if value:
            return str(value)
    return None


def ledger_path(cache_dir: str | Path, group: str) -> Path:
    """The ledger file of a budget group under the model cache folder."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", group)[:80]
    if slug != group:
        slug = f"{slug}-{hashlib.sha256(group.encode()).hexdigest()[:12]}"
    return Path(cache_dir) / LEDGER_FOLDER / f"{slug}.json"


def _empty_state() -> dict[str, Any]:
    return {"tokens_spent": 0, "usd_spent": 0.0, "refused": 0, "in_flight": {}}


def _process_key() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(key: str) -> bool:
    host, _, pid = key.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's process: nothing to check it by
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _MemoryLedger:
    """The totals of one budget in memory."""

    def __init__(self) -> None:
        self.state = _empty_state()

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        return change(self.state)

    def read(self) -> dict[str, Any]:
        return self.state


class _FileLedger:
    """The totals of one budget in a JSON file that several processes share under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(path) + ".lock")

    def _load(self) -> dict[str, Any]:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return _empty_state()
        if not isinstance(state, dict):
            return _empty_state()
        return {**_empty_state(), **state}

    def _save(self, state: dict[str, Any]) -> None:
        state["updated"] = time.time()
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(state, stream, sort_keys=True)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        with self.lock:
            state = self._load()
            before = json.dumps(state, sort_keys=True)
            state["in_flight"] = {
                key: entry for key, entry in state["in_flight"].items() if _alive(key)
            }
            result = change(state)
            # A reservation told to wait changes nothing: the file is left alone.
            if json.dumps(state, sort_keys=True) != before:
                self._save(state)
        return result

    def read(self) -> dict[str, Any]:
        with self.lock:
            return self._load()


class Budget:
    """A cap on tokens and cost, enforced by reserving each call's worst case (module doc)."""

    def __init__(
        self, tokens: int | None, usd: float | None, ledger: str | Path | None = None
    ) -> None:
        self.tokens_limit = tokens
        self.usd_limit = usd
        self.ledger_file = Path(ledger) if ledger is not None else None
        self._ledger = _FileLedger(self.ledger_file) if ledger is not None else _MemoryLedger()
        self._key = _process_key() if ledger is not None else "local"
        self.refused = 0
        self.waits = 0
        self._settled: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    @property
    def capped(self) -> bool:
        """Whether any limit is set (without one, a reservation is free and never waits)."""
        return self.tokens_limit is not None or self.usd_limit is not None

    def _in_flight(self, state: Mapping[str, Any]) -> tuple[int, float]:
        entries = state["in_flight"].values()
        return sum(e["tokens"] for e in entries), sum(e["usd"] for e in entries)

    @property
    def tokens_spent(self) -> int:
        """Tokens spent by every call of this budget (every process sharing its ledger)."""
        return int(self._ledger.read()["tokens_spent"])

    @property
    def usd_spent(self) -> float:
        """Cost spent by every call of this budget."""
        return float(self._ledger.read()["usd_spent"])

    @property
    def tokens_reserved(self) -> int:
        """Tokens reserved by the calls in flight."""
        return self._in_flight(self._ledger.read())[0]

    def _try_reserve(self, tokens: int, usd: float) -> str | None:
        """Reserve if it fits; else "wait" or the refusal's message."""

        def change(state: dict[str, Any]) -> str | None:
            spent, spent_usd = state["tokens_spent"], state["usd_spent"]
            flying, flying_usd = self._in_flight(state)
            if self.tokens_limit is not None and spent + tokens > self.tokens_limit:
                state["refused"] += 1
                return (
                    f"token budget {self.tokens_limit} reached (spent {spent}, "
                    f"this call's worst case {tokens}, in flight {flying})"
                )
            if self.usd_limit is not None and spent_usd + usd > self.usd_limit:
                state["refused"] += 1
                return (
                    f"cost budget ${self.usd_limit} reached (spent ${spent_usd:.4f}, "
                    f"this call's worst case ${usd:.4f})"
                )
            if (self.tokens_limit is not None and spent + flying + tokens > self.tokens_limit) or (
                self.usd_limit is not None and spent_usd + flying_usd + usd > self.usd_limit
            ):
                return "wait"
            entry = state["in_flight"].setdefault(self._key, {"tokens": 0, "usd": 0.0})
            entry["tokens"] += tokens
            entry["usd"] += usd
            return None

        return self._ledger.update(change)

    async def reserve(self, tokens: int, usd: float) -> None:
        """Reserve a call's worst case, waiting for calls in flight to settle if need be.

        Raises:
            BudgetExhausted: When the call cannot fit even with nothing in flight.
        """
        waited = False
        while True:
            outcome = self._try_reserve(tokens, usd)
            if outcome is None:
                return
            if outcome != "wait":
                self.refused += 1
                raise BudgetExhausted(outcome)
            if not waited:
                self.waits += 1
                waited = True
            loop = asyncio.get_running_loop()
            event = self._settled.setdefault(loop, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), POLL_SECONDS)

    def settle(self, reserved_tokens: int, reserved_usd: float, tokens: int, usd: float) -> None:
        """Replace a reservation by what the call really used, and wake waiting reservations."""

        def change(state: dict[str, Any]) -> None:
            entry = state["in_flight"].get(self._key)
            if entry is not None:
                entry["tokens"] -= reserved_tokens
                entry["usd"] -= reserved_usd
                if entry["tokens"] <= 0 and entry["usd"] <= 1e-12:
                    del state["in_flight"][self._key]
            state["tokens_spent"] += tokens
            state["usd_spent"] += usd

        self._ledger.update(change)
        for event in self._settled.values():
            event.set()
        self._settled.clear()

    def metadata(self) -> dict[str, Any]:
        """Limits and totals, for asset metadata."""
        state = self._ledger.read()
        return {
            "tokens_limit": self.tokens_limit,
            "usd_limit": self.usd_limit,
            "tokens_spent": int(state["tokens_spent"]),
            "usd_spent": round(float(state["usd_spent"]), 6),
            "refused": self.refused,
            "refused_by_all_processes": int(state["refused"]),
            "waits": self.waits,
            "ledger": self.ledger_file.name if self.ledger_file else None,
        }
