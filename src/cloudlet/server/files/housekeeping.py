"""The files domain's periodic sweep: expired upload sessions and their staging, stray
staging files of workers that died mid-upload, and blobs nothing references any more.
It runs once at start (before workers fork) and every `CLOUDLET_FILES_SWEEP_INTERVAL`
seconds in each worker; every step is safe to run concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from anyio import to_thread

if TYPE_CHECKING:
    from cloudlet.server.services import Services

log = logging.getLogger(__name__)
GRACE = 3600.0  # a blob touched this recently is never recounted (an upload may hold it)


def run_once(services: Services) -> dict[str, int]:
    done = services.files.housekeeping(grace=GRACE)
    if any(done.values()):
        log.info("files housekeeping: %s", done)
    return done


async def _loop(services: Services) -> None:
    while True:
        await asyncio.sleep(services.settings.files_sweep_interval)
        try:
            await to_thread.run_sync(run_once, services)
        except Exception:
            log.exception("files housekeeping failed; trying again next time")


def start(services: Services) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(_loop(services))


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
