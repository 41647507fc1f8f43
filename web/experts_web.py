"""The expert feature wired into the app (web.app FEATURES): routes and the draw job, a
cleanup_ctx background task that completes requested draws when their beacon round exists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from evaluation.experts_job import DrawJob
from web import experts_api
from web.background import running
from web.keys import BEACON
from web.tenders_api import TENDERS

log = logging.getLogger("pingbiao.experts")


async def _draw_ctx(app: web.Application) -> AsyncIterator[None]:
    job = DrawJob(app[TENDERS], app[BEACON])
    app[experts_api.DRAW_JOB] = job
    async with running(job, "draw-job", log):
        yield


def install(app: web.Application) -> None:
    """Add the expert routes and the draw job. Requires web.tenders_web installed before it."""
    app.add_routes(experts_api.routes)
    app.cleanup_ctx.append(_draw_ctx)
