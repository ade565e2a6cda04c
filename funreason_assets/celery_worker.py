"""The worker side of the Celery run pool: `dagster-celery worker start ... -i <this module>`.

A worker executes each run in its pool process, which Celery forks from the worker's main
process once and reuses for every run. When the worker starts (Celery's `worker_init` signal,
in the main process, before the pool process forks) it loads the code location, the
environment packs and the libraries the steps import (`funreason_assets.preload`), and opens
the Dagster instance once (its storage and run launcher modules), so the pool process inherits
them and every run starts warm, the first one included.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from celery.signals import worker_init

logger = logging.getLogger("funreason_assets")


@worker_init.connect
def _preload_before_the_pool_forks(**_: Any) -> None:
    import dagster as dg

    from funreason_assets.preload import preload

    try:
        preload()
        # Closed again before the fork: the storage keeps no connection open between calls.
        with dg.DagsterInstance.get():
            pass
    except Exception as exc:  # a broken config fails each run with its message, not the worker
        logger.warning("preloading the code location failed; each run loads it: %s", exc)
    # What is loaded now lives as long as the worker: out of the cyclic collector's reach, the
    # runs' full collections no longer walk it, and the pool process keeps sharing its pages.
    gc.collect()
    gc.freeze()
