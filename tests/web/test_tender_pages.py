"""The tender pages over real HTTP: each page renders for each role allowed to see it (and refuses
the others), before and after the opening; and the calls the pages' forms make change nothing
when the CSRF token is missing or wrong (no audit entry, the tender and bids as they were)."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

from crypto import tlock
from evaluation.tenders.bid_container import build_container
from tests.web.tender_client import Hall, start, tender_body
from web.keys import AUDIT_LOG

HTML = {"Accept": "text/html"}


def sealed_bid(hall: Hall, round: int, price: str) -> bytes:
    out = io.BytesIO()
    plain = build_container({"total_price": price, "delivery_days": 45}, [("报价.txt", price.encode())])
    tlock.seal(io.BytesIO(plain), out, hall.chain, round)
    return out.getvalue()


async def page(hall: Hall, who: str, path: str) -> tuple[int, str]:
    headers = {**hall.headers[who], **HTML}
    resp = await hall.client.get(path, headers=headers, allow_redirects=False)
    return resp.status, await resp.text()


async def check_pages(hall: Hall, cases: list[tuple[str, str, int, list[str]]]) -> None:
    failures = []
    for who, path, status, texts in cases:
        got, body = await page(hall, who, path)
        if got != status:
            failures.append(f"{who} GET {path}: {got}, expected {status}: {body[:200]}")
            continue
        failures += [f"{who} GET {path}: {text!r} not in the page" for text in texts if text not in body]
    assert failures == [], "\n".join(failures)


async def upload(hall: Hall, who: str, tender: dict[str, Any], price: str) -> None:
    status, body = await hall.call(who, "PUT", f"/api/tenders/{tender['id']}/bid", data=sealed_bid(hall, tender["opening_round"], price),
                                   headers={"Content-Type": "application/octet-stream"})
    assert status == 201, body


async def published(hall: Hall, **over: Any) -> dict[str, Any]:
    status, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(**over))
    assert status == 201, draft
    status, tender = await hall.call("agency", "POST", f"/api/tenders/{draft['id']}/publish")
    assert status == 200, tender
    return dict(tender)


async def wait_state(hall: Hall, tender_id: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, body = await hall.call("supervisor", "GET", f"/api/tenders/{tender_id}")
        if body["state"] == state or time.monotonic() > deadline:
            assert body["state"] == state, body
            return dict(body)
        await asyncio.sleep(0.2)


async def test_pages_render_for_each_allowed_role(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(title="草稿项目 Draft only", opening_in=3600))
    assert status == 201
    tender = await published(hall, opening_in=6.0, title="办公设备采购 Pages")
    t, d = tender["id"], draft["id"]
    await upload(hall, "bidder0", tender, "100.00")
    await upload(hall, "bidder1", tender, "200.00")
    await upload(hall, "bidder3", tender, "300.00")  # 公开招标 opens with three bids at least

    await check_pages(hall, [
        ("anonymous", "/tenders", 302, []),
        ("agency", "/tenders", 200, ["办公设备采购 Pages", "草稿项目 Draft only", "新建项目"]),
        ("agency2", "/tenders", 200, ["办公设备采购 Pages"]),
        ("bidder0", "/tenders", 200, ["办公设备采购 Pages"]),
        ("supervisor", "/tenders", 200, ["草稿项目 Draft only"]),
        ("expert", "/tenders", 200, ["办公设备采购 Pages"]),
        ("agency", "/tenders/new", 200, ['id="tender-form"', "total_price", "delivery_days", "之后不能推迟解锁"]),
        ("bidder0", "/tenders/new", 403, []),
        ("supervisor", "/tenders/new", 403, []),
        ("agency", f"/tenders/{d}/edit", 200, ["编辑草稿"]),
        ("agency2", f"/tenders/{d}/edit", 404, []),
        ("agency", f"/tenders/{d}", 200, ["发布"]),
        ("bidder0", f"/tenders/{d}", 404, []),
        ("supervisor", f"/tenders/{d}", 200, ['data-state="draft"', "草稿"]),
        ("agency", f"/tenders/{t}", 200, ["变更公告", "延期", "作废所有已提交的投标"]),
        ("agency2", f"/tenders/{t}", 200, ["办公设备采购 Pages"]),
        ("bidder0", f"/tenders/{t}", 200, ['id="go-bid"', "开标大厅"]),
        ("bidder2", f"/tenders/{t}", 200, ['id="go-bid"']),
        ("supervisor", f"/tenders/{t}", 200, ["投标情况", "监管回放"]),
        ("expert", f"/tenders/{t}", 200, ["办公设备采购 Pages"]),
        ("bidder0", f"/tenders/{t}/bid", 200, ["加密并替换", 'id="bid-form"', "pingbiao-seal.js"]),
        ("bidder2", f"/tenders/{t}/bid", 200, ["加密并投标"]),
        ("agency", f"/tenders/{t}/bid", 403, []),
        ("supervisor", f"/tenders/{t}/bid", 403, []),
        ("agency", f"/tenders/{t}/hall", 200, ["开标大厅", "签到"]),
        ("bidder0", f"/tenders/{t}/hall", 200, ["唱标"]),
        ("supervisor", f"/tenders/{t}/hall", 200, ["开标大厅"]),
        ("bidder2", f"/tenders/{t}/hall", 403, []),  # no bid: not its hall
        ("agency2", f"/tenders/{t}/hall", 403, []),
        ("expert", f"/tenders/{t}/hall", 403, []),
        ("agency", "/tenders/T-0000000000000000", 404, []),
    ])
    # Before the opening, the agency's page names no bidder.
    _, body = await page(hall, "agency", f"/tenders/{t}")
    assert "投标情况" not in body

    await wait_state(hall, t, "confirming")
    await check_pages(hall, [
        ("agency", f"/tenders/{t}", 200, ["开标记录表", "串标线索", "以下仅为线索，不是结论", "这些投标文件从同一 IP 地址上传", "100.00", "200.00"]),
        ("supervisor", f"/tenders/{t}", 200, ["开标记录表", "串标线索"]),
        ("bidder0", f"/tenders/{t}", 200, ["开标记录表", "200.00"]),
        ("bidder0", f"/tenders/{t}/bid", 200, ["投标已截止"]),
        ("bidder0", f"/tenders/{t}/hall", 200, ["开标大厅"]),
    ])
    _, body = await page(hall, "bidder0", f"/tenders/{t}")
    assert "串标线索" not in body and "变更公告" not in body


def without_token(hall: Hall, who: str, token: str | None) -> dict[str, str]:
    headers = {k: v for k, v in hall.headers[who].items() if k != "X-CSRF-Token"}
    if token is not None:
        headers["X-CSRF-Token"] = token
    return headers


async def refused(hall: Hall, who: str, method: str, path: str, **kw: Any) -> None:
    """The call with no token and with a wrong one: 403 each time, and no audit entry."""
    log = hall.client.app[AUDIT_LOG]
    extra = kw.pop("headers", {})
    for token in (None, "not-the-token", hall.headers["bidder3"]["X-CSRF-Token"]):  # the last: another session's
        size = log.size
        headers = {**without_token(hall, who, token), **extra}
        resp = await hall.client.request(method, path, headers=headers, **kw)
        body = await resp.text()
        assert resp.status == 403 and "安全校验失败" in body, f"{method} {path} as {who} with token {token!r}: {resp.status} {body}"
        assert log.size == size, f"{method} {path} appended to the audit log"


async def test_forms_without_the_csrf_token_change_nothing(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(title="草稿 CSRF", opening_in=3600))
    assert status == 201
    tender = await published(hall, opening_in=6.0)
    t = tender["id"]
    await upload(hall, "bidder0", tender, "100.00")
    await upload(hall, "bidder1", tender, "200.00")
    await upload(hall, "bidder3", tender, "300.00")  # 公开招标 opens with three bids at least
    octet = {"Content-Type": "application/octet-stream"}

    before = {who: (await hall.call(who, "GET", f"/api/tenders/{t}"))[1] for who in ("agency", "bidder0", "supervisor")}
    listed = (await hall.call("supervisor", "GET", "/api/tenders"))[1]
    await refused(hall, "agency", "POST", "/api/tenders", json=tender_body(title="伪造 forged"))
    await refused(hall, "agency", "POST", "/api/tenders", data={"title": "伪造 forged", "csrf_token": "wrong"})
    await refused(hall, "agency", "PUT", f"/api/tenders/{draft['id']}", json=tender_body(title="伪造 forged"))
    await refused(hall, "agency", "POST", f"/api/tenders/{draft['id']}/publish")
    await refused(hall, "agency", "POST", f"/api/tenders/{t}/amend", json={"changes": {"budget_fen": 1}, "reason": "伪造"})
    await refused(hall, "agency", "POST", f"/api/tenders/{t}/postpone", json={"opening_time": int(time.time()) + 9999, "reason": "伪造"})
    await refused(hall, "bidder2", "PUT", f"/api/tenders/{t}/bid", data=sealed_bid(hall, tender["opening_round"], "1.00"), headers=octet)
    await refused(hall, "bidder0", "PUT", f"/api/tenders/{t}/bid", data=sealed_bid(hall, tender["opening_round"], "2.00"), headers=octet)
    await refused(hall, "bidder0", "DELETE", f"/api/tenders/{t}/bid")
    await refused(hall, "bidder0", "POST", f"/api/tenders/{t}/hall/signin", json={})
    assert {who: (await hall.call(who, "GET", f"/api/tenders/{t}"))[1] for who in before} == before
    assert (await hall.call("supervisor", "GET", "/api/tenders"))[1] == listed
    assert (await hall.call("bidder0", "GET", f"/api/tenders/{t}/hall"))[1]["signins"] == []
    assert (await hall.call("bidder2", "GET", f"/api/tenders/{t}/bid"))[0] == 404

    await wait_state(hall, t, "confirming")
    status, objection = await hall.call("bidder1", "POST", f"/api/tenders/{t}/record/objections", json={"text": "真实异议"})
    assert status == 201
    record = (await hall.call("agency", "GET", f"/api/tenders/{t}/record"))[1]
    await refused(hall, "bidder0", "POST", f"/api/tenders/{t}/record/confirm")
    await refused(hall, "bidder0", "POST", f"/api/tenders/{t}/record/objections", json={"text": "伪造异议"})
    await refused(hall, "agency", "POST", f"/api/tenders/{t}/record/objections/{objection['id']}/answer", json={"text": "伪造答复"})
    assert (await hall.call("agency", "GET", f"/api/tenders/{t}/record"))[1] == record
