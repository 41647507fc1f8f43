"""A background task that lives as long as the app: started by a cleanup_ctx, cancelled and awaited
on shutdown, after which its job is stopped (the tasks the job spawned are cancelled)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol


class BackgroundJob(Protocol):
    """What web.background runs: ``run`` loops until cancelled, ``stop`` ends what it spawned."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


@contextlib.asynccontextmanager
async def running(job: BackgroundJob, name: str, log: logging.Logger) -> AsyncIterator[None]:
    """Run ``job.run()`` as the task `name` (logged as "<name with spaces> started") for the
    duration of the block; on exit cancel and await it, then ``await job.stop()``."""
    task = asyncio.create_task(job.run(), name=name)
    log.info("%s started", name.replace("-", " "))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await job.stop()
