"""Request ids (请求编号): every response carries ``X-Request-Id``; logs and error answers show it.

A sane incoming ``X-Request-Id`` (from the TLS proxy, e.g. nginx ``$request_id``) is kept, so one
id follows a request through the proxy's log and ours; anything else is replaced by 32 random hex
digits. The id is in a context variable for the request's task: ``RequestIdFilter`` adds it to
every log record written while the request runs (web/logs.py), and web/errors.py puts it in error
answers so a person can quote it.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from aiohttp import web

HEADER = "X-Request-Id"
SANE = re.compile(r"[A-Za-z0-9._:-]{8,64}")
"""An incoming id is kept only if it is 8 to 64 of these characters (no spaces, no markup, nothing
a log reader or a terminal could misread)."""
REQUEST_ID = web.RequestKey("request_id", str)
_current: ContextVar[str] = ContextVar("pingbiao_request_id", default="")


def current_request_id() -> str:
    """The id of the request being handled in this task, or "" outside a request."""
    return _current.get()


def choose(incoming: str | None) -> str:
    """The incoming id if it is sane, else a new random one. Pure apart from the randomness."""
    if incoming is not None and SANE.fullmatch(incoming):
        return incoming
    return secrets.token_hex(16)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = choose(request.headers.get(HEADER))
    request[REQUEST_ID] = rid
    token = _current.set(rid)
    try:
        return await handler(request)
    finally:
        _current.reset(token)


def install(app: web.Application) -> None:
    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        rid = request.get(REQUEST_ID) or current_request_id()
        if rid:
            response.headers[HEADER] = rid

    app.on_response_prepare.append(on_prepare)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to a record written during a request (and to nothing else)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = current_request_id()
        if rid and not hasattr(record, "request_id"):
            record.request_id = rid
        return True
