"""The aiohttp application factory: the one place that wires settings, contexts, middlewares and
every route table (api/, pages/, booth/, access/) into an app."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from crypto.beacon import TRUST_WARNING, LocalBeacon, beacon_app
from evaluation.session import events as session_events
from web import contexts, keys
from web.access import auth
from web.access.headers import install_headers
from web.access.proxies import install_proxies, proxy_middleware
from web.api import audit as audit_api
from web.api import bids as bids_api
from web.api import evaluation as evaluation_api
from web.api import experts as experts_api
from web.api import hall, openapi
from web.api import opening as opening_api
from web.api import tenders as tenders_api
from web.api.body import input_middleware
from web.booth import routes as booth
from web.config import Settings
from web.errors import error_middleware
from web.ops import install as install_ops
from web.ops.access_log import install_note as install_access_note
from web.pages import audit as audit_pages
from web.pages import decisions as decision_pages
from web.pages import evaluation as evaluation_pages
from web.pages import home as home_pages
from web.pages import notifications as notification_pages
from web.pages import tenders as tender_pages
from web.rendering import JINJA, make_environment

log = logging.getLogger("pingbiao.web")
HERE = Path(__file__).parent

ROUTES = (
    home_pages.routes,
    audit_api.routes,
    audit_pages.routes,
    tenders_api.routes,
    bids_api.routes,
    hall.routes,
    opening_api.routes,
    tender_pages.routes,
    experts_api.routes,
    evaluation_api.routes,
    evaluation_pages.routes,
    decision_pages.routes,
    notification_pages.routes,
)
"""Route tables in the order they are matched. Sessions and permissions are installed before any
of them (web.access.auth.install): every route is checked, and a route without a rule is denied."""

CONTEXTS = (contexts.database, contexts.beacon, contexts.tenders, contexts.draws, contexts.evaluation, contexts.notifications)
"""Cleanup contexts in start-up order; each needs the ones before it."""


def create_app(settings: Settings) -> web.Application:
    """Build the application for `settings`. The data directory is created if missing."""
    settings.ensure_data_dir()
    app = web.Application(middlewares=[error_middleware, proxy_middleware, input_middleware], client_max_size=1 << 20)
    app[keys.SETTINGS] = settings
    install_proxies(app, settings.trusted_proxies)
    install_headers(app, settings.beacon_url)
    install_ops(app)  # request ids and metrics before every other middleware; /healthz, /readyz, /metrics
    app[JINJA] = make_environment()
    if settings.uses_local_beacon:
        beacon = LocalBeacon.open_or_create(settings.beacon_dir, period=settings.beacon_period)
        app[keys.LOCAL_BEACON] = beacon
        app.add_subapp("/beacon", beacon_app(beacon))
        log.warning(TRUST_WARNING)
    app.cleanup_ctx.extend(CONTEXTS)
    auth.install(app)
    install_access_note(app)  # who each access-log line is from
    app.middlewares.append(notification_pages.unread_middleware)
    session_events.register()
    for table in ROUTES:
        app.add_routes(table)
    booth.install(app)
    openapi.install(app)
    app.router.add_static("/static", HERE / "static", name="static")
    app.router.add_get("/favicon.ico", _favicon, name="favicon")
    return app


async def _favicon(request: web.Request) -> web.Response:
    """Clients that ask for /favicon.ico without reading the page's icon link get the site's icon."""
    raise web.HTTPMovedPermanently("/static/favicon.svg")
