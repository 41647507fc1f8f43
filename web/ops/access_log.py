"""One access-log line per request (访问日志), written by web/logs.py like every other event:

``{"event": "request", "method": "GET", "path": "/api/tenders/T-1", "status": 200,
"duration_ms": 3.1, "account": "acct_…", "role": "agency", "client": "203.0.113.9",
"request_id": "…"}``

The path is logged without its query string: a query may carry what must not reach a log (a
``next`` URL, a token); only the parameters' names are kept (``query_keys``). ``client`` is the
real client behind a trusted proxy (web/access/proxies.py). ``status`` is the answer's status,
``cancelled`` when the client went away first, or 500 for an error no middleware turned into an
answer. WebSocket connections are logged when they end (status 101).

Two middlewares: `access_log_middleware` runs outside every other but the request id, so it sees
the final answer; `access_note_middleware` runs after the session middleware and notes who the
request is from (the session and proxy middlewares hand on a clone of the request, so the outer
one cannot read it there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from web.errors import Handler

log = logging.getLogger("pingbiao.access")


@dataclass
class AccessNote:
    account: str = ""
    role: str = ""
    client: str = ""


NOTE = web.RequestKey("access_note", AccessNote)


def fields(method: str, path: str, query_keys: list[str], status: int | str, seconds: float,
           note: AccessNote) -> dict[str, object]:
    """The structured fields of one access line (pure)."""
    out: dict[str, object] = {"method": method, "path": path, "status": status,
                              "duration_ms": round(seconds * 1000, 1)}
    if query_keys:
        out["query_keys"] = ",".join(sorted(set(query_keys)))
    if note.account:
        out["account"], out["role"] = note.account, note.role
    if note.client:
        out["client"] = note.client
    return out


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    note = AccessNote(client=request.remote or "")
    request[NOTE] = note
    started = time.perf_counter()
    status: int | str = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    finally:
        line = fields(request.method, request.path, list(request.query.keys()), status,
                      time.perf_counter() - started, note)
        log.info("request", extra=line)


@web.middleware
async def access_note_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    note = request.get(NOTE)
    if note is not None:
        account = request.get("account")
        if account is not None:
            note.account, note.role = account.id, str(getattr(account.role, "value", account.role))
        note.client = request.remote or note.client
    return await handler(request)


def install_note(app: web.Application) -> None:
    """Put `access_note_middleware` right after the session middleware (web/access/sessions.py),
    so even answers refused by permissions or CSRF name the account."""
    from web.access.sessions import session_middleware

    app.middlewares.insert(app.middlewares.index(session_middleware) + 1, access_note_middleware)
