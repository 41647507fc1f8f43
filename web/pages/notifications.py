"""Notifications (通知) in the pages: the list (reading it marks it read), the email address they
are also sent to, and the unread count the menu shows (a middleware, one count per page)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from evaluation.errors import InvalidRequest
from evaluation.notifications.job import email_of, notices_of, set_email, unread_count
from web.api.body import form_or_json
from web.api.tenders import current_actor
from web.keys import ENGINE, SETTINGS, UNREAD
from web.rendering import render

routes = web.RouteTableDef()
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,60}")
Handler = Any


@web.middleware
async def unread_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For pages (GET, HTML) read by a signed-in account: how many notifications it has not read."""
    account = request.get("account")
    if account is not None and request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        request[UNREAD] = await unread_count(request.app[ENGINE], account.id)
    response: web.StreamResponse = await handler(request)
    return response


@routes.get("/notifications", name="notifications.page")
async def page(request: web.Request) -> web.Response:
    actor = current_actor(request)
    engine = request.app[ENGINE]
    items = await notices_of(engine, actor.account)
    request[UNREAD] = 0  # reading the list marked them read: the menu says so on this page already
    return render(request, "notifications.html", notices=items, email=await email_of(engine, actor.account),
                  mail_on=bool(request.app[SETTINGS].smtp_host), saved="saved" in request.query)


@routes.post("/notifications/email", name="notifications.email")
async def email(request: web.Request) -> web.Response:
    actor = current_actor(request)
    form = await form_or_json(request)
    address = str(form.get("email") or "").strip()
    if address and (len(address) > 254 or not EMAIL.fullmatch(address)):
        raise InvalidRequest("电子邮件地址“{address}”无效", address=address[:80])
    await set_email(request.app[ENGINE], actor.account, address)
    raise web.HTTPSeeOther("/notifications?saved=1")
