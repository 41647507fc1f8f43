"""Why a bid failed, as the hall shows it: a tender with one good bid, one whose ciphertext was
changed after sealing and one sealed without a document; at the opening every hall labels each
failure in words from its code (密文被篡改, 投标文件不含任何非空文档), in the decryption progress
and in the record, the technical line kept folded beside it (one valid bid of three: 流标)."""

from __future__ import annotations

import io
from typing import Any

import aiohttp

from crypto import tlock
from evaluation.tenders.bid_container import build_container
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.test_tender_flow import OPENING_TIMEOUT_MS, agency_and_bidders
from tests.evaluation.test_opening import tampered
from tests.web.signin import PASSWORD
from tests.web.tender_client import tender_body
from web.keys import CHAIN


async def api_user(base: str, username: str) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    """A signed-in API client (its own cookie jar) and its CSRF header."""
    http = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))  # the server is an IP address
    me = await (await http.get("/api/me")).json()
    resp = await http.post("/login", json={"username": username, "password": PASSWORD}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert resp.status == 200, await resp.text()
    return http, {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def test_the_hall_labels_each_failure_from_its_code(make_app_server: MakeAppServer, new_page: NewPage) -> None:
    server = await make_app_server()
    base, app = server.url, server.app
    _, bidders = await agency_and_bidders(app, base, new_page)
    clients: list[Any] = []
    try:
        http, csrf = await api_user(base, "agency")
        clients.append(http)
        tender = await (await http.post("/api/tenders", json=tender_body(8, min_bids=3), headers=csrf)).json()
        assert "id" in tender, tender
        tender = await (await http.post(f"/api/tenders/{tender['id']}/publish", headers=csrf)).json()
        tid, round = tender["id"], tender["opening_round"]

        def seal(docs: list[tuple[str, bytes]]) -> bytes:
            out = io.BytesIO()
            tlock.seal(io.BytesIO(build_container({"total_price": "1000.00", "delivery_days": 10}, docs)), out, app[CHAIN], round)
            return out.getvalue()

        blobs = [seal([("技术方案.txt", b"doc")]), tampered(seal([("技术方案.txt", b"doc")])), seal([])]
        for n, blob in enumerate(blobs):
            http, csrf = await api_user(base, f"bidder{n}")
            clients.append(http)
            resp = await http.put(f"/api/tenders/{tid}/bid", data=blob, headers={**csrf, "Content-Type": "application/octet-stream"})
            assert resp.status == 201, await resp.text()
    finally:
        for http in clients:
            await http.close()

    page = bidders[0]
    await page.goto(f"{base}/tenders/{tid}/hall")
    await page.wait_for_selector("#hall-state[data-state=failed]", timeout=OPENING_TIMEOUT_MS)
    await page.wait_for_function("() => document.querySelectorAll('#bid-status li[data-status=failed]').length === 2")
    progress = {await li.get_attribute("data-bidder"): await li.inner_text()
                for li in await page.query_selector_all("#bid-status li[data-status=failed]")}
    labels = sorted([await e.inner_text() for e in await page.query_selector_all("#bid-status .reason-label")])
    assert labels == ["密文被篡改", "投标文件不含任何非空文档"], progress
    codes = sorted([await e.get_attribute("data-code") for e in await page.query_selector_all("#record-rows .reason")])
    assert codes == ["no_document", "tampered"]
    record = await page.inner_text("#record-rows")
    assert "密文被篡改" in record and "投标文件不含任何非空文档" in record
    assert await page.is_hidden("#record-rows .reason-detail code")  # the technical line stays folded
