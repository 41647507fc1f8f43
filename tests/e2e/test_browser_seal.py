"""A bid sealed in headless Chromium with the committed bundle opens in Python after its round.

The page is a test-only route on the real application; it loads /static/vendor/pingbiao-seal.js,
takes the chain from the platform's own /beacon (pinned by hash), builds the bid container from a
record and a 2 MB document chosen through a file input, and seals it. Python opens the sealed bytes
with crypto.tlock.unseal once the beacon has released the round.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crypto import tlock
from crypto.beacon import LocalBeacon
from crypto.errors import RoundNotReachedError
from evaluation.tenders.bid_container import build_container, read_container
from web import keys

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>sealing test</title>
<script src="/static/vendor/pingbiao-seal.js"></script></head>
<body><input type="file" id="docs" multiple></body></html>
"""

# Runs in the page: seal the record and the chosen files; return what Python needs as base64.
SEAL_IN_PAGE = """
async ({ beacon, chainHash, record, openAt }) => {
  const b64 = (bytes) => {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const chain = await pingbiao.chainFromBeacon(beacon, chainHash);
  const round = pingbiao.roundForTime(chain, openAt);
  const payload = await pingbiao.buildBidPayload(record, document.querySelector("#docs").files);
  const sealed = await pingbiao.sealBytes(chain, round, payload);
  return { round, chain, payload: b64(payload), sealed: b64(sealed), tlockJs: pingbiao.TLOCK_JS_VERSION };
}
"""

REFUSE_IN_PAGE = """
async ({ beacon, chainHash }) => {
  try {
    await pingbiao.chainFromBeacon(beacon, chainHash);
    return "accepted";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}
"""

RECORD = {
    "bidder": "示例供应商有限公司",
    "total_price": "1234567.89",
    "delivery_days": 30,
    "note": '含税 "报价"\n',
}


def seal_test_routes(other_chain: dict[str, Any], forged_chain: dict[str, Any]) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def other(request: web.Request) -> web.Response:
        return web.json_response(other_chain)  # a beacon answering with some other chain

    async def forged(request: web.Request) -> web.Response:
        return web.json_response(forged_chain)  # the pinned hash, someone else's key

    return [
        web.get("/e2e/seal", page, name="e2e.seal"),
        web.get("/e2e/other-beacon/{chain}/info", other, name="e2e.other_beacon"),
        web.get("/e2e/forged-beacon/{chain}/info", forged, name="e2e.forged_beacon"),
    ]


async def test_bid_sealed_in_chromium_opens_in_python(
    make_app_server: Any, new_page: Any, tmp_path: Path
) -> None:
    other = LocalBeacon.create(period=1).chain.to_json()
    forged: dict[str, Any] = {}
    server = await make_app_server(routes=seal_test_routes(other, forged))
    chain = server.app[keys.CHAIN]
    forged.update(chain.to_json(), public_key=other["public_key"])
    beacon_url = f"{server.url}/beacon"

    document = os.urandom(2 * 1024 * 1024)
    doc_path = tmp_path / "技术标书.pdf"
    doc_path.write_bytes(document)

    page = await new_page()
    await page.goto(f"{server.url}/e2e/seal")
    await page.set_input_files("#docs", [doc_path])
    open_at = int(time.time()) + 3
    result = await page.evaluate(
        SEAL_IN_PAGE, {"beacon": beacon_url, "chainHash": chain.hash, "record": RECORD, "openAt": open_at}
    )
    payload, sealed, round = (
        base64.b64decode(result["payload"]),
        base64.b64decode(result["sealed"]),
        result["round"],
    )
    assert result["tlockJs"] == "0.9.0"
    assert result["chain"] == chain.to_json()
    assert round == chain.round_not_before(open_at)

    # The container: exactly the record and the document chosen in the page, as the opening reads it.
    assert payload == build_container(RECORD, [("技术标书.pdf", document)])
    manifest, digests = read_container(io.BytesIO(payload))
    assert manifest.record == RECORD
    assert [(d.name, d.size, d.sha256) for d in manifest.documents] == [
        ("技术标书.pdf", len(document), hashlib.sha256(document).hexdigest())
    ]
    assert digests == [hashlib.sha256(document).hexdigest()]

    # The sealed file: a binary age file with one tlock stanza for this chain and round.
    assert sealed.startswith(b"age-encryption.org/v1\n-> tlock ")
    header = tlock.inspect(io.BytesIO(sealed))
    assert [(r.round, r.chain_hash) for r in header.recipients] == [(round, chain.hash)]
    assert payload not in sealed and document[:4096] not in sealed
    assert len(sealed) - len(payload) < 400 + 16 * (len(payload) // 65536 + 1)  # binary, not armor

    # Nobody can open it before its round: the beacon does not give the signature out early.
    async with aiohttp.ClientSession() as http:
        round_url = f"{beacon_url}/{chain.hash}/public/{round}"
        if time.time() < chain.time_of(round) - 0.5:
            async with http.get(round_url) as resp:
                assert resp.status == 404
            with pytest.raises(RoundNotReachedError):
                await server.app[keys.BEACON].beacon(round)

        released = await asyncio.wait_for(server.app[keys.BEACON].wait_for(round), timeout=30)
        async with http.get(round_url) as resp:
            assert resp.status == 200
            signature = bytes.fromhex((await resp.json())["signature"])
    assert signature == released.signature

    opened = io.BytesIO()
    tlock.unseal(io.BytesIO(sealed), opened, chain, signature)
    assert opened.getvalue() == payload

    # The page refuses any chain but the pinned one.
    refusals = {
        "unknown to the beacon": {"beacon": beacon_url, "chainHash": other["hash"]},
        "other chain served": {"beacon": f"{server.url}/e2e/other-beacon", "chainHash": chain.hash},
        "forged key": {"beacon": f"{server.url}/e2e/forged-beacon", "chainHash": chain.hash},
        "not a hash": {"beacon": beacon_url, "chainHash": "abc"},
    }
    answers = {why: await page.evaluate(REFUSE_IN_PAGE, args) for why, args in refusals.items()}
    assert (
        answers["unknown to the beacon"]
        == f"Error: beacon {beacon_url}/{other['hash']}/info answered HTTP 404"
    )
    assert answers["other chain served"].startswith(f"ChainError: beacon serves chain {other['hash'][:16]}")
    assert answers["forged key"] == f"ChainError: chain info does not match its hash {chain.hash[:16]}…"
    assert answers["not a hash"].startswith("ChainError: the pinned chain hash must be")
    assert await page.evaluate(REFUSE_IN_PAGE, {"beacon": beacon_url, "chainHash": chain.hash}) == "accepted"

    # sealBytes re-checks the chain it is given, so a tampered object cannot slip through either.
    refused = await page.evaluate(
        """async (forged) => pingbiao.sealBytes(forged, 5, new Uint8Array([1])).then(() => "sealed", (e) => e.name)""",
        forged,
    )
    assert refused == "ChainError"


# -- the bid page: sealing in the worker, uploading as it goes --------------------------------

BIG = 100 << 20
LEAD_SECONDS = 45  # sign-in, a cancelled start and a whole 100 MB seal and upload fit before the opening

# Collected from the first script on: every main-thread task over 50 ms (Long Tasks API).
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
}).observe({ type: "longtask", buffered: true });
"""


async def test_large_bid_sealed_in_a_worker_uploads_as_it_goes_and_opens_byte_for_byte(
    make_app_server: Any, new_page: Any, tmp_path: Path
) -> None:
    from evaluation.accounts.account import Role
    from evaluation.tenders import tender as tenders
    from tests.e2e.test_tender_flow import screenshot, sign_in
    from tests.evaluation.tender_fixtures import spec
    from tests.web.signin import make_account
    from web.api.tenders import TENDERS
    from web.keys import AUDIT_LOG

    server = await make_app_server()
    app = server.app
    agency = await make_account(app, Role.agency, "agency")
    bidder = await make_account(app, Role.bidder, "bidder0")
    ctx: tenders.TenderContext = app[TENDERS]
    t = await tenders.create(ctx, agency.actor, "采购中心", spec(LEAD_SECONDS, max_bid_bytes=200 << 20))
    t = await tenders.publish(ctx, agency.actor, t.id)
    round = t.opening_round
    assert round is not None
    document = os.urandom(BIG)
    doc_path = tmp_path / "技术标书.bin"
    doc_path.write_bytes(document)
    blobs = server.settings.data_dir / "blobs"
    stored = lambda: sorted(p for p in blobs.rglob("*") if p.is_file()) if blobs.exists() else []  # noqa: E731

    page = await new_page()
    await page.add_init_script(LONG_TASKS)
    await sign_in(page, server.url, "bidder0")
    await page.goto(f"{server.url}/tenders/{t.id}/bid")
    await page.fill("[name=total_price]", "1,268,000.00")
    await page.fill("[name=delivery_days]", "30")
    began = await page.evaluate("performance.now()")
    await page.set_input_files("#documents", [doc_path])  # hashing starts in a worker now

    # Start, then cancel while parts are going up: nothing is kept on the server.
    log_size = app[AUDIT_LOG].size
    await page.click("#submit-bid")
    await page.wait_for_function(
        "() => document.querySelector('#seal-progress-box').dataset.phase === 'seal'"
        " && document.querySelector('#seal-progress').value >= 100"
    )
    await screenshot(page, "bid-sealing")
    assert (await page.text_content("#seal-speed")).endswith("/秒")
    assert (await page.text_content("#seal-eta")).startswith("剩余")
    await page.click("#cancel-seal")
    await page.wait_for_selector("#bid-form[data-cancel=done]")
    assert await page.get_attribute("#bid-form", "data-phase") == "cancelled"
    assert stored() == []  # no blob, no temporary part
    assert await app[AUDIT_LOG].entries(log_size, app[AUDIT_LOG].size) == []
    async with ctx.engine.connect() as conn:
        from evaluation.tenders.store import bid_of

        assert await bid_of(conn, t.id, bidder.actor.account) is None

    # Seal again (the hashes made when the file was picked are reused) and let it finish.
    await page.click("#submit-bid")
    await page.wait_for_selector("#bid-form[data-phase=done]", timeout=120_000)
    ended = await page.evaluate("performance.now()")
    await page.wait_for_selector("#r-verified[data-verified=true]")
    await screenshot(page, "bid-sealed")
    long_tasks = await page.evaluate(
        "([a, b]) => window.__longTasks.filter((e) => e.start + e.duration > a && e.start < b)", [began, ended]
    )
    assert [e for e in long_tasks if e["duration"] > 100] == []
    # The observer does see a blocked main thread (so an empty log means something).
    await page.evaluate(
        "() => { setTimeout(() => { const end = performance.now() + 150; while (performance.now() < end); }, 0); }"
    )
    await page.wait_for_function("() => window.__longTasks.some((e) => e.duration >= 150)")
    sha = (await page.text_content("#r-sha256")).strip()
    assert [p.name for p in stored()] == [sha]
    assert "tmp" not in {p.parent.name for p in stored()}

    # At the round, the stored bid opens into exactly the container of this record and document.
    released = await asyncio.wait_for(app[keys.BEACON].wait_for(round), timeout=LEAD_SECONDS + 30)
    opened = io.BytesIO()
    with stored()[0].open("rb") as sealed_file:
        assert tlock.inspect(sealed_file).recipients[0].round == round
        sealed_file.seek(0)
        tlock.unseal(sealed_file, opened, server.app[keys.CHAIN], released.signature)
    expected = build_container({"total_price": "1,268,000.00", "delivery_days": 30}, [("技术标书.bin", document)])
    assert hashlib.sha256(opened.getvalue()).digest() == hashlib.sha256(expected).digest()
    assert opened.getvalue() == expected
