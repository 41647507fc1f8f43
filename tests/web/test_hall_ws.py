"""The opening hall over WebSocket: snapshot on connect, then the record bid by bid as the
scheduler opens the bids on the real local beacon, then the final record."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from crypto import tlock
from evaluation.tenders.bid_container import build_container
from tests.web.tender_client import start, tender_body
from web.keys import AUDIT_LOG


def chinese_first(body: Any) -> bool:
    """An API error line as people read it: one line, Chinese first (then the English)."""
    return isinstance(body, dict) and "\n" not in body["error"] and bool(re.match(r"[\u4e00-\u9fff「]", body["error"]))


async def published_with_bids(aiohttp_client: Any, tmp_path: Path, first_price: int) -> tuple[Any, dict[str, Any]]:
    """A hall with a published three-bid tender and each bidder's sealed bid, priced from `first_price`."""
    hall = await start(aiohttp_client, tmp_path)
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(3, min_bids=3))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    for n in range(3):
        out = io.BytesIO()
        plain = build_container({"total_price": f"{first_price + n}.00", "delivery_days": 10}, [("a.txt", b"doc")])
        tlock.seal(io.BytesIO(plain), out, hall.chain, tender["opening_round"])
        status, _ = await hall.call(f"bidder{n}", "PUT", f"/api/tenders/{tender['id']}/bid", data=out.getvalue(),
                                    headers={"Content-Type": "application/octet-stream"})
        assert status == 201
    return hall, tender


async def test_hall_receives_the_record_live(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tender = await published_with_bids(aiohttp_client, tmp_path, 100)
    path = f"/api/tenders/{tender['id']}/hall/ws"
    other = await hall.client.ws_connect(path, headers={"Cookie": hall.headers["bidder2"]["Cookie"]})
    ws = await hall.client.ws_connect(path, headers={"Cookie": hall.headers["bidder0"]["Cookie"],
                                                     "Origin": f"http://{hall.client.host}:{hall.client.port}"})
    snapshot = await ws.receive_json(timeout=5)
    assert snapshot["type"] == "snapshot" and snapshot["tender"]["opening_round"] == tender["opening_round"]
    assert snapshot["attendance"] is None and snapshot["bids"] is None  # who bid stays secret until the opening
    status, _ = await hall.call("bidder0", "GET", f"/api/tenders/{tender['id']}/record.csv")
    assert status == 409  # no record before the opening
    status, supervised = await hall.call("supervisor", "GET", f"/api/tenders/{tender['id']}/hall")
    assert status == 200 and [a["signed_in"] for a in supervised["attendance"]] == [False] * 3
    assert (await other.receive_json(timeout=5))["type"] == "snapshot"
    size = hall.client.app[AUDIT_LOG].size
    await hall.call("bidder0", "POST", f"/api/tenders/{tender['id']}/hall/signin", json={"name": "零号供应商"})
    assert (await hall.kinds_since(size))[:1] == ["hall.signin"]  # 签到 is logged
    events = []
    while not events or events[-1]["type"] != "record.final":
        events.append(await ws.receive_json(timeout=15))
    types = [e["type"] for e in events]
    assert types[0] == "signin" and types[1] == "phase" and events[1]["signins"] == ["零号供应商"]
    # bid by bid: each bid is announced as opening before its result row
    assert sorted(types[2:-1]) == ["bid.status"] * 3 + ["record.bid"] * 3 and types[-1] == "record.final"
    for e in events[2:-1]:
        if e["type"] == "record.bid":
            assert any(o["type"] == "bid.status" and o["bid_id"] == e["row"]["bid_id"] and o["status"] == "opening"
                       for o in events[2:events.index(e)])
    rows = [e for e in events if e["type"] == "record.bid"]
    assert sorted(e["row"]["fields"]["total_price"] for e in rows) == ["100.00", "101.00", "102.00"]
    other_first = await other.receive_json(timeout=5)
    assert other_first["type"] == "phase"  # bidder2 never saw bidder0's sign-in before the opening
    assert (await ws.receive_json(timeout=5))["type"] == "phase"  # confirming
    await ws.close()
    await other.close()
    # after the opening every bidder is listed with its sign-in (the absent too), and each bid's status
    status, snap = await hall.call("bidder2", "GET", f"/api/tenders/{tender['id']}/hall")
    assert status == 200 and snap["record"]["state"] == "confirming"
    signed = {a["bidder"]: a["signed_in"] for a in snap["attendance"]}
    assert signed == {hall.accounts["bidder0"].id: True, hall.accounts["bidder1"].id: False, hall.accounts["bidder2"].id: False}
    assert [b["status"] for b in snap["bids"]] == ["opened"] * 3
    status, body = await hall.call("bidder1", "GET", f"/api/tenders/{tender['id']}/record.csv")
    assert status == 200 and body.startswith("\ufeff") and "序号,投标人,总报价" in body and "已开启" in body
    status, body = await hall.call("bidder3", "GET", path)
    assert status == 403 and chinese_first(body) and "办公设备采购" in body["error"] and tender["id"] not in body["error"], body
    status, body = await hall.call("bidder0", "POST", f"/api/tenders/{tender['id']}/hall/signin", json={})
    assert status == 409 and chinese_first(body), body  # the record is out: too late to sign in
    resp = await hall.client.get(path, headers={**hall.headers["bidder0"], "Origin": "http://evil.example", "Upgrade": "websocket",
                                                "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 403


def test_the_record_csv_never_holds_a_formula() -> None:
    from web.api.opening import cell, record_csv
    assert [cell(v) for v in ("=1+1", "+1", "@SUM(A1)", "-2+3", "-1,000.50", "1,000.00", "南山")] == [
        "'=1+1", "'+1", "'@SUM(A1)", "'-2+3", "-1,000.50", "1,000.00", "南山"]
    rec = {"fields": [{"key": "total_price", "label_zh": "总报价"}], "lots": [],
           "rows": [{"seq": 1, "bidder_name": "=HYPERLINK(\"x\")", "fields": {"total_price": "100.00"}, "documents": [],
                     "status": "failed", "reason": "cannot be unsealed"}]}
    text = record_csv("项目", rec)
    assert "'=HYPERLINK" in text and "未能开启" in text


async def test_the_host_reads_the_bids_out_and_announces(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tender = await published_with_bids(aiohttp_client, tmp_path, 200)
    tid = tender["id"]
    ws = await hall.client.ws_connect(f"/api/tenders/{tid}/hall/ws", headers={"Cookie": hall.headers["bidder1"]["Cookie"]})
    assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    # before the opening there is nothing to read out; announcements reach the hall at once
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/read-out")
    assert status == 409 and chinese_first(body) and "已发布" in body["error"], body
    size = hall.client.app[AUDIT_LOG].size
    status, posted = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/announcements", json={"text": " 请各投标人准备签到 "})
    assert status == 201 and posted["text"] == "请各投标人准备签到"
    assert await hall.kinds_since(size) == ["hall.announcement"]
    event = await ws.receive_json(timeout=5)
    assert event["type"] == "announcement" and event["text"] == "请各投标人准备签到"
    for who, text, code in [("bidder0", "我是主持人", 403), ("agency2", "别人的大厅", 403), ("agency", "", 400),
                            ("agency", "   ", 400), ("agency", "长" * 501, 400), ("agency", "a\x00b", 400),
                            ("agency", 1e308, 400), ("agency", ["x"], 400)]:
        status, body = await hall.call(who, "POST", f"/api/tenders/{tid}/hall/announcements", json={"text": text})
        assert status == code and chinese_first(body), (who, text, body)
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/announcements",
                                   data=b'{"text": "\\ud800"}', headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert await hall.kinds_since(size) == ["hall.announcement"]  # nothing refused was logged
    while (await ws.receive_json(timeout=15))["type"] != "record.final":
        pass
    # 唱标: bid by bid in the record's order, each logged and pushed; then nothing is left to read
    status, snap = await hall.call("bidder0", "GET", f"/api/tenders/{tid}/hall")
    seqs = {r["bid_id"]: r["seq"] for r in snap["record"]["rows"]}
    assert snap["read_out"] == [] and [a["text"] for a in snap["announcements"]] == ["请各投标人准备签到"]
    status, body = await hall.call("bidder0", "POST", f"/api/tenders/{tid}/hall/read-out")
    assert status == 403 and chinese_first(body)
    size = hall.client.app[AUDIT_LOG].size
    read = []
    for _ in range(3):
        status, r = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/read-out")
        assert status == 201, r
        read.append(r)
    assert [r["seq"] for r in read] == [1, 2, 3] and {r["bid_id"] for r in read} == set(seqs)
    assert await hall.kinds_since(size) == ["hall.read_out"] * 3
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/read-out")
    assert status == 400 and chinese_first(body), body
    status, again = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/read-out", json={"bid_id": read[0]["bid_id"]})
    assert status == 201 and again["seq"] == 1  # the host may read a bid again
    for bad in ("B-nope", 5, {"x": 1}):
        status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/read-out", json={"bid_id": bad})
        assert status in (400, 404) and chinese_first(body), body
    seen = []
    while len(seen) < 4:
        e = await ws.receive_json(timeout=5)
        if e["type"] == "read_out":
            seen.append(e["seq"])
    assert seen == [1, 2, 3, 1]
    status, snap = await hall.call("supervisor", "GET", f"/api/tenders/{tid}/hall")
    assert [r["seq"] for r in snap["read_out"]] == [1, 2, 3, 1]
    await ws.close()
