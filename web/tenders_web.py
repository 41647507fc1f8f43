"""The tender feature wired into the app (picked up by web.app FEATURES): routes, the tender
context, the hall's pub/sub and the opening scheduler (a cleanup_ctx background task)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from evaluation.blobstore import BlobStore
from evaluation.tenders import TenderContext
from web import bids_api, hall, opening_api, tenders_api
from web.background import running
from web.keys import AUDIT_LOG, BEACON, CHAIN, ENGINE, SETTINGS
from web.opening_job import OpeningScheduler

log = logging.getLogger("pingbiao.tenders")
ROUTE_TABLES = (tenders_api.routes, bids_api.routes, hall.routes, opening_api.routes)


async def _tenders_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = hall.HallHub()
    ctx = TenderContext(
        engine=app[ENGINE],
        audit=app[AUDIT_LOG],
        blobs=BlobStore(app[SETTINGS].data_dir / "blobs"),
        chain=app[CHAIN],
        notify=hub.publish,
    )
    scheduler = OpeningScheduler(ctx, app[BEACON])
    app[hall.HUB], app[tenders_api.TENDERS], app[tenders_api.SCHEDULER] = hub, ctx, scheduler
    async with running(scheduler, "opening-scheduler", log):
        yield


def install(app: web.Application) -> None:
    """Add the tender routes and contexts. Requires the database and beacon contexts before it."""
    for table in ROUTE_TABLES:
        app.add_routes(table)
    app.cleanup_ctx.append(_tenders_ctx)
