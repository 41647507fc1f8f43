"""The aiohttp application factory: wires settings, beacon, pages and API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import jinja2
from aiohttp import web

from crypto.beacon import TRUST_WARNING, LocalBeacon, LocalBeaconSource, beacon_app
from crypto.drand import BeaconSource, DrandClient
from evaluation.audit.entry import EntryDraft
from evaluation.audit.keys import load_or_create_signer
from evaluation.audit.log import AuditLog
from evaluation.db import create_schema, make_engine
from web import (
    audit_api,
    audit_pages,
    auth,
    booth,
    evaluation_web,
    experts_web,
    keys,
    pages,
    tender_pages,
    tenders_web,
)
from web.config import Settings
from web.errors import error_middleware

log = logging.getLogger("pingbiao.web")
HERE = Path(__file__).parent
JINJA = web.AppKey("jinja", jinja2.Environment)


def _jinja() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        enable_async=False,
    )


async def _beacon_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    source: BeaconSource
    if settings.uses_local_beacon:
        source = LocalBeaconSource(app[keys.LOCAL_BEACON])
    else:
        source = DrandClient(settings.beacon_url, settings.beacon_chain or None)
    app[keys.BEACON] = source
    app[keys.CHAIN] = await source.info()
    log.info("beacon ready", extra={"chain": app[keys.CHAIN].hash, "local": settings.uses_local_beacon})
    yield
    await source.close()


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    """The database engine and the audit log's single writer, for the app's lifetime."""
    settings = app[keys.SETTINGS]
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    signer, vkey = load_or_create_signer(settings.log_key_path, settings.log_origin)
    audit = AuditLog(engine, settings.log_origin, signer)
    await audit.start()
    app[keys.ENGINE], app[keys.AUDIT_LOG], app[keys.LOG_VKEY] = engine, audit, vkey
    if audit.size == 0:
        await audit.append(EntryDraft("log.started", {"origin": settings.log_origin, "verifier_key": vkey}))
    try:
        yield
    finally:
        await audit.stop()
        await engine.dispose()


FEATURES = (auth, tenders_web, tender_pages, booth, experts_web, evaluation_web)
"""Feature modules wired into the app, in order; each exposes ``install(app)`` (routes,
middlewares, contexts). Sessions and permissions come first: every later route is checked."""


def create_app(settings: Settings) -> web.Application:
    """Build the application for `settings`. The data directory is created if missing."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = web.Application(middlewares=[error_middleware], client_max_size=1 << 20)
    app[keys.SETTINGS] = settings
    app[JINJA] = _jinja()
    if settings.uses_local_beacon:
        beacon = LocalBeacon.open_or_create(settings.beacon_dir, period=settings.beacon_period)
        app[keys.LOCAL_BEACON] = beacon
        app.add_subapp("/beacon", beacon_app(beacon))
        log.warning(TRUST_WARNING)
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(_beacon_ctx)
    app.add_routes(pages.routes)
    app.add_routes(audit_api.routes)
    app.add_routes(audit_pages.routes)
    for feature in FEATURES:
        feature.install(app)
    app.router.add_static("/static", HERE / "static", name="static")
    return app
