"""Errors as a person meets them: a page in the site's look for a browser (what happened, what to
do, a way back), JSON for the API, Chinese never escaped; dynamic answers are never cached."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.web.tender_client import start

PAGE = {"Accept": "text/html,application/xhtml+xml"}


async def test_a_browser_gets_a_page_and_a_script_gets_json(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, html = await hall.call("bidder0", "GET", "/audit", headers=PAGE)
    assert status == 403 and 'id="error" data-status="403"' in html and "无权访问" in html and "返回工作台" in html
    assert '"ok": false' not in html and "\\u" not in html
    status, html = await hall.call("agency", "GET", "/tenders/T-0000000000000000", headers=PAGE)
    assert status == 404 and "找不到该页面" in html

    resp = await hall.client.get("/api/tenders/T-0000000000000000", headers=hall.headers["agency"])
    body = await resp.text()
    assert resp.status == 404 and resp.content_type == "application/json"
    assert json.loads(body)["ok"] is False and "\\u" not in body


async def test_pages_are_not_cached_static_files_may_be(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    page = await hall.client.get("/tenders", headers={**hall.headers["bidder0"], **PAGE})
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    api = await hall.client.get("/api/tenders", headers=hall.headers["bidder0"])
    assert api.headers["Cache-Control"] == "no-store"
    css = await hall.client.get("/static/site.css")
    assert css.status == 200 and "no-store" not in css.headers.get("Cache-Control", "")


async def test_the_site_has_an_icon(aiohttp_client: Any, tmp_path: Path) -> None:
    """Every page links the icon; it is served, and /favicon.ico (asked by clients that ignore the
    link) leads to it instead of logging a 404 for each visit."""
    hall = await start(aiohttp_client, tmp_path)
    _, html = await hall.call("bidder0", "GET", "/tenders", headers=PAGE)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    icon = await hall.client.get("/static/favicon.svg")
    assert icon.status == 200 and icon.content_type == "image/svg+xml" and "<svg" in await icon.text()
    legacy = await hall.client.get("/favicon.ico")
    assert legacy.status == 200 and legacy.content_type == "image/svg+xml" and str(legacy.url).endswith("/static/favicon.svg")
