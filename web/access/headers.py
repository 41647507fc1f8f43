"""Security headers (安全响应头) on every response, static files and WebSockets included.

- ``Content-Security-Policy``: scripts, styles, images and connections from this site only (plus
  the external beacon's origin, which the bid page fetches); no plugins, no ``<base>``, forms post
  here, and no framing (``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for old browsers).
  The one inline style attribute of the page frame is allowed by its hash. Workers only from this
  site's own scripts (``worker-src 'self'``: the bid page's sealing worker,
  /static/vendor/pingbiao-seal-worker.js) — no ``blob:`` or ``data:`` workers. Pages whose templates
  still carry an inline ``<script>`` (``INLINE_SCRIPT_ROUTES``) also get ``'unsafe-inline'`` for
  scripts; moving those scripts to web/static/ lets the set be emptied.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.
- ``Strict-Transport-Security`` when the request came over HTTPS (directly or via a trusted proxy).
- ``Server: pingbiao`` — no versions.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from aiohttp import web

from web.access.proxies import is_https

INLINE_SCRIPT_ROUTES: frozenset[str] = frozenset()
"""Routes whose templates hold an inline <script> (none left)."""
INLINE_STYLE_ATTRIBUTES: tuple[str, ...] = ()
"""Exact inline style attributes of the templates, allowed by hash (none left)."""
FRAMEABLE_ROUTES = frozenset({"evaluation.document"})
"""Responses this site's own pages may show in a frame: a bid document in the evaluation page's
viewer. They carry their own, stricter policy (web/pages/evaluation.py)."""
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
SERVER = "pingbiao"


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


_STYLE_HASHES = " ".join(_hash(s) for s in INLINE_STYLE_ATTRIBUTES)


def content_security_policy(host: str, inline_scripts: bool, beacon_url: str = "") -> str:
    """The policy for one response. Pure."""
    connect = ["'self'"]
    if _HOST.match(host):  # 'self' covers ws(s): in current browsers; older ones need it spelled out
        connect += [f"ws://{host}", f"wss://{host}"]
    if beacon_url and (parts := urlsplit(beacon_url)).scheme in ("http", "https") and parts.netloc:
        connect.append(f"{parts.scheme}://{parts.netloc}")
    scripts = "'self' 'unsafe-inline'" if inline_scripts else "'self'"
    return "; ".join((
        "default-src 'self'",
        f"script-src {scripts}",
        "worker-src 'self'",
        f"style-src 'self' 'unsafe-hashes' {_STYLE_HASHES}" if _STYLE_HASHES else "style-src 'self'",
        "img-src 'self'",
        "media-src 'self' blob:",
        f"connect-src {' '.join(connect)}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def install_headers(app: web.Application, beacon_url: str) -> None:
    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        route = request.match_info.route.name if request.match_info is not None else None
        headers = response.headers
        headers["Server"] = SERVER
        headers.setdefault("Content-Security-Policy", content_security_policy(request.host, route in INLINE_SCRIPT_ROUTES, beacon_url))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN" if route in FRAMEABLE_ROUTES else "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # Pages and API answers show state that changes: never cached, so back/forward reloads them.
        if route != "static" and not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        if is_https(request):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")

    app.on_response_prepare.append(on_prepare)
