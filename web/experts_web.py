"""The expert feature wired into the app (web.app FEATURES): routes and the draw job, a
cleanup_ctx background task that completes requested draws when their beacon round exists."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from evaluation.experts_job import DrawJob
from web import experts_api
from web.keys import BEACON
from web.tenders_api import TENDERS

log = logging.getLogger("pingbiao.experts")


async def _draw_ctx(app: web.Application) -> AsyncIterator[None]:
    job = DrawJob(app[TENDERS], app[BEACON])
    app[experts_api.DRAW_JOB] = job
    task = asyncio.create_task(job.run(), name="draw-job")
    log.info("draw job started")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await job.stop()


def install(app: web.Application) -> None:
    """Add the expert routes and the draw job. Requires web.tenders_web installed before it."""
    app.add_routes(experts_api.routes)
    app.cleanup_ctx.append(_draw_ctx)
