"""Errors a request can end in, mapped once to one JSON shape (or a plain page for browsers).

Shape: ``{"ok": false, "status": 404, "error": "one plain line", "request_id": "…"}`` — pinned by
tests/web/test_app.py. The request id (web/ops/request_id.py) is the one in the ``X-Request-Id``
header and in the logs, so a person can quote it to the operator.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import sqlalchemy as sa
from aiohttp import web

from crypto.errors import CryptoError
from evaluation.errors import DomainError, InvalidRequest, NotFoundError, Text
from web.i18n import language_of, localize
from web.keys import JINJA
from web.ops.request_id import REQUEST_ID, current_request_id
from web.replies import json_response

log = logging.getLogger("pingbiao.web")


class UsageError(Exception):
    """A command line asks for something that cannot be done as asked."""


class AppError(DomainError):
    """An error a web handler raises: an HTTP status and a message for the person who caused it.

    The same base as the domain's errors (evaluation/errors.py), so both map in one place.
    """


BadRequest = InvalidRequest
NotFound = NotFoundError


class Unauthorized(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


_CONTENTION = ("database is locked", "database table is locked", "deadlock detected", "could not serialize access",
               "could not obtain lock")


def is_contention(exc: BaseException) -> bool:
    """A lock the database could not get in time (SQLite busy, PostgreSQL deadlock or serialization)."""
    text = str(exc).lower()
    return any(marker in text for marker in _CONTENTION)


_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(message: str) -> str:
    """The message on one line: control characters and line breaks (a message may quote what a
    client sent, e.g. a path or a JSON key) each run turned into one space."""
    return _BREAKS.sub(" ", message).strip() or "error"


def error_response(status: int, message: str | Text, request: web.Request | None = None, **extra: object) -> web.Response:
    """The error as JSON (the API's shape), or as a page in the site's look when a browser asked
    for a page: what happened, what to do, a way back (content negotiation on ``Accept``). The
    message is in the reader's language (web/i18n). `extra` adds members to the JSON (e.g. a
    form's ``errors`` field by field)."""
    request_id = (request.get(REQUEST_ID) if request is not None else None) or current_request_id()
    lang = language_of(request) if request is not None else "zh"
    message = one_line(localize(message, lang))
    extra = {k: {f: localize(m, lang) if isinstance(m, (str, Text)) else m for f, m in v.items()} if isinstance(v, dict) else v
             for k, v in extra.items()}  # a form's errors, field by field, in the same language
    if request is not None and wants_page(request):
        env = request.app.get(JINJA)
        if env is not None:
            html = env.get_template("error.html").render(request=request, status=status, message=message,
                                                         request_id=request_id)
            return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    body: dict[str, object] = {"ok": False, "status": status, "error": message, **extra}
    if request_id:
        body["request_id"] = request_id
    return json_response(body, status=status)


def wants_page(request: web.Request) -> bool:
    """A browser navigating (or posting a form), not a script calling the API."""
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_HTTP_MESSAGES = {
    404: Text("这个地址没有内容"),
    405: Text("这个地址不接受这种请求"),
    413: Text("请求的内容过大"),
}


def _http_message(exc: web.HTTPException) -> str | Text:
    """What aiohttp's own refusals (an unknown path, a wrong method…) say, in the catalogue's words;
    a reason a handler wrote itself is kept."""
    try:
        default = HTTPStatus(exc.status).phrase
    except ValueError:
        default = ""
    if exc.reason != default:
        return exc.reason
    return _HTTP_MESSAGES.get(exc.status) or Text("请求无法完成（{status}）", status=exc.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(exc.status, exc.text, request)
    except CryptoError as exc:  # crypto/ speaks English, technically; the line says what it means
        return error_response(400, Text("数据未通过密码校验：{detail}", detail=str(exc)), request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return error_response(exc.status, _http_message(exc), request)
    except Exception as exc:
        # a lock not got in time, or every pooled connection busy (QueuePool's timeout): not a fault
        if (isinstance(exc, sa.exc.DBAPIError) and is_contention(exc)) or isinstance(exc, sa.exc.TimeoutError):
            log.warning("database busy", extra={"path": request.path, "method": request.method})
            response = error_response(503, "服务器繁忙，请稍后再试", request)
            response.headers["Retry-After"] = "1"
            return response
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response(500, "服务器内部错误，已记录，请稍后再试", request)
