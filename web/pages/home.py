"""Pages and small JSON endpoints that belong to no single feature."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from web import keys
from web.access.auth import safe_next
from web.i18n import COOKIE, LANGS
from web.pages.workbench import workbench
from web.rendering import render
from web.replies import json_response

routes = web.RouteTableDef()


def beacon_status(app: web.Application) -> dict[str, Any]:
    chain = app[keys.CHAIN]
    now = time.time()
    current = chain.round_at(now)
    return {
        "chain": chain.hash,
        "scheme": chain.scheme_id,
        "period": chain.period,
        "genesis_time": chain.genesis_time,
        "current_round": current,
        "next_round_at": chain.time_of(current + 1),
        "local": app[keys.SETTINGS].uses_local_beacon,
        "url": "/beacon" if app[keys.SETTINGS].uses_local_beacon else app[keys.SETTINGS].beacon_url,
    }


@routes.get("/", name="index")
async def index(request: web.Request) -> web.Response:
    """Signed in: the reader's workbench (工作台). Otherwise the platform's front page."""
    account = request.get("account")
    if account is not None:
        return await workbench(request, account.actor)
    return render(request, "index.html", beacon=beacon_status(request.app))


@routes.get("/api/beacon", name="api.beacon")
async def api_beacon(request: web.Request) -> web.Response:
    return json_response(beacon_status(request.app))


@routes.get("/lang", name="language")
async def language(request: web.Request) -> web.Response:
    """Switch the pages' language (``?to=en`` or ``zh``) for this browser, then go back."""
    chosen = request.query.get("to", "")
    response = web.Response(status=303, headers={"Location": safe_next(request.query.get("next", "/"))})
    if chosen in LANGS:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, httponly=True, samesite="Lax", path="/")
    return response
