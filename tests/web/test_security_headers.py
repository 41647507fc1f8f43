"""Security headers on every response (web/access/headers.py), and the templates' inline code
checked against the Content-Security-Policy so the pages keep working under it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation.accounts.account import Role
from tests.web.signin import make_account, session_headers
from web.access.headers import INLINE_SCRIPT_ROUTES, INLINE_STYLE_ATTRIBUTES, content_security_policy
from web.app import create_app
from web.config import Settings

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "pages" / "templates"
INLINE_SCRIPT_TEMPLATES: set[str] = set()


def directives(policy: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (x.strip() for x in policy.split(";")) if d}


async def test_every_response_carries_the_headers_and_no_versions(aiohttp_client: Any, tmp_path: Path) -> None:
    client: TestClient = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data", beacon_url="")))
    for path, status in (("/", 200), ("/login", 200), ("/static/site.css", 200), ("/api/tenders", 401), ("/nowhere", 404), ("/beacon/info", 200)):
        resp = await client.get(path)
        assert resp.status == status, path
        assert resp.headers["Server"] == "pingbiao", path
        csp = directives(resp.headers["Content-Security-Policy"])
        assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'", path
        assert csp["worker-src"] == "'self'", path  # the sealing worker; no blob: or data: workers
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Referrer-Policy"] == "same-origin", path
        assert resp.headers["X-Frame-Options"] == "DENY" and "Strict-Transport-Security" not in resp.headers, path


async def test_the_pool_page_runs_without_inline_scripts(aiohttp_client: Any, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    client: TestClient = await aiohttp_client(app)
    admin = await make_account(app, Role.admin, "admin")
    resp = await client.get("/experts", headers=await session_headers(app, admin))
    assert resp.status == 200 and "<script>" not in await resp.text() and "/static/pool.js" in await resp.text()
    assert directives(resp.headers["Content-Security-Policy"])["script-src"] == "'self'"


def test_the_external_beacon_may_be_fetched() -> None:
    csp = directives(content_security_policy("zfcg.example:8443", False, "https://api.drand.sh/public"))
    assert csp["connect-src"] == "'self' ws://zfcg.example:8443 wss://zfcg.example:8443 https://api.drand.sh"
    assert "evil" not in content_security_policy("x; script-src evil", False)  # a hostile Host header adds nothing


def test_templates_hold_no_inline_code_the_policy_would_block() -> None:
    """Inline <script> only where the policy allows it; style attributes only those hashed; no
    inline event handlers or javascript: URLs anywhere (the policy would silently break them)."""
    scripts, styles, handlers = set(), set(), []
    for template in sorted(TEMPLATES.glob("*.html")):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            if "src=" not in tag and 'type="application/json"' not in tag:
                scripts.add(template.name)
        styles |= set(re.findall(r'\sstyle="([^"]*)"', html))
        handlers += [f"{template.name}: {m}" for m in re.findall(r"\son[a-z]+=|javascript:", html)]
    assert scripts == INLINE_SCRIPT_TEMPLATES
    assert styles <= set(INLINE_STYLE_ATTRIBUTES) and handlers == []
    assert INLINE_SCRIPT_ROUTES == frozenset()
