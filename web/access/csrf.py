"""CSRF protection (跨站请求伪造防护) for every state-changing request and WebSocket upgrade.

POST, PUT, PATCH and DELETE must carry the visitor's CSRF token (``request["csrf_token"]``, see
web/access/sessions.py) in the ``X-CSRF-Token`` header (fetch, any body) or, for an urlencoded form, in
the ``csrf_token`` field. Multipart bodies (uploads) are never read here, so they stream to their
handler: send the header. A WebSocket upgrade from a browser must come from this site's own
origin (its ``Origin`` host equals the request's host); clients that send no Origin are not
browsers and cannot be driven by another site.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

from aiohttp import web
from markupsafe import Markup, escape

from web.errors import Forbidden, Handler

log = logging.getLogger("pingbiao.auth")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
FORM_TYPES = {"application/x-www-form-urlencoded"}


async def _presented(request: web.Request) -> str:
    header = request.headers.get(HEADER)
    if header is not None:
        return header
    if request.content_type in FORM_TYPES:
        value = (await request.post()).get(FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == request.host.lower()


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in STATE_CHANGING:
        presented = await _presented(request)
        if not hmac.compare_digest(presented.encode(), str(request["csrf_token"]).encode()):
            log.warning("csrf check failed", extra={"path": request.path, "method": request.method, "given": bool(presented)})
            raise Forbidden("安全校验失败，请刷新页面后重试")
    elif request.headers.get("Upgrade", "").lower() == "websocket" and not _same_origin(request):
        log.warning("cross-origin websocket refused", extra={"path": request.path, "origin": request.headers.get("Origin")})
        raise Forbidden("跨站连接被拒绝")
    return await handler(request)


def csrf_input(request: web.Request) -> Markup:
    """The hidden form field carrying the CSRF token (a jinja global: ``{{ csrf_input(request) }}``)."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(request.get("csrf_token", ""))}">')
