"""The tender API over real HTTP, table-driven: who calls what, the status, the body, and the audit
events each call appends (none for a refusal). Runs one tender through its whole life."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from crypto import tlock
from evaluation.tenders.bid_container import build_container
from tests.web.tender_client import Hall, start, tender_body
from web.keys import AUDIT_LOG

T = "{tender}"


def seal(hall: Hall, round: int, price: str) -> bytes:
    out = io.BytesIO()
    tlock.seal(io.BytesIO(build_container({"total_price": price, "delivery_days": 45}, [("报价.txt", price.encode())])), out, hall.chain, round)
    return out.getvalue()


# (who, method, path, json body or "bid:<price>", status, expected text in body, audit kinds appended)
BEFORE_OPENING: list[tuple[str, str, str, Any, int, str, list[str]]] = [
    ("anonymous", "GET", "/api/tenders", None, 401, "请先登录", []),
    ("bidder0", "POST", "/api/tenders", tender_body(), 403, "无权访问", []),
    ("supervisor", "POST", "/api/tenders", tender_body(), 403, "无权访问", []),
    ("supervisor", "POST", f"/api/tenders/{T}/publish", None, 403, "无权访问", []),
    ("agency", "POST", "/api/tenders", {"title": ""}, 400, "「项目名称」不能为空", []),
    ("bidder0", "GET", f"/api/tenders/{T}", None, 404, "找不到该项目", []),  # a draft is the agency's
    ("agency2", "POST", f"/api/tenders/{T}/publish", None, 404, "找不到该项目", []),  # another agency's draft
    ("agency", "POST", f"/api/tenders/{T}/publish", None, 200, '"state": "published"', ["tender.published"]),
    ("agency", "POST", f"/api/tenders/{T}/amend", {"changes": {"budget_fen": 90_000_000}, "reason": "预算"}, 200, '"amendments": 1', ["tender.amended"]),
    ("agency", "POST", f"/api/tenders/{T}/amend", {"changes": {"record_fields": []}, "reason": "x"}, 400, "这些内容发布后不能变更：record_fields", []),
    ("bidder0", "PUT", f"/api/tenders/{T}/bid", "bid:100.00", 201, '"status": "submitted"', ["bid.submitted"]),
    ("bidder1", "PUT", f"/api/tenders/{T}/bid", "bid:200.00", 201, '"status": "submitted"', ["bid.submitted"]),
    ("bidder1", "PUT", f"/api/tenders/{T}/bid", "bid:190.00", 201, '"kind": "bid.replaced"', ["bid.replaced"]),
    ("bidder2", "PUT", f"/api/tenders/{T}/bid", "bid:300.00", 201, '"status": "submitted"', ["bid.submitted"]),
    ("bidder2", "DELETE", f"/api/tenders/{T}/bid", None, 200, '"status": "withdrawn"', ["bid.withdrawn"]),
    ("bidder2", "PUT", f"/api/tenders/{T}/bid", "bid:310.00", 201, '"status": "submitted"', ["bid.submitted"]),  # a third bid: 公开招标 needs three
    ("bidder3", "PUT", f"/api/tenders/{T}/bid", "raw:not a sealed bid at all", 400, "这不是有效的密封投标文件", []),
    ("agency", "PUT", f"/api/tenders/{T}/bid", "bid:1.00", 403, "无权访问", []),
    ("bidder0", "GET", f"/api/tenders/{T}/bid", None, 200, '"checkpoint"', []),
    ("bidder3", "GET", f"/api/tenders/{T}/bid", None, 404, "你在该项目中没有投标", []),
    ("agency", "GET", f"/api/tenders/{T}/bids", None, 403, "开标后代理机构才能看到投标", []),
    ("supervisor", "GET", f"/api/tenders/{T}/bids", None, 200, '"bidder": ', []),
    ("bidder0", "POST", f"/api/tenders/{T}/hall/signin", {"name": "供应商零"}, 201, "供应商零", ["hall.signin"]),
    ("bidder3", "POST", f"/api/tenders/{T}/hall/signin", {}, 403, "只有已递交投标的投标人可以在本大厅签到", []),
    ("agency", "GET", f"/api/tenders/{T}/record", None, 409, "开标记录在开标时公布", []),
    ("agency", "GET", f"/api/tenders/{T}/leads", None, 409, "开标后才有线索", []),
    ("bidder0", "GET", f"/api/tenders/{T}/hall", None, 200, "供应商零", []),
    ("bidder1", "GET", f"/api/tenders/{T}/hall", None, 200, '"signins": []', []),  # nobody else's sign-in before the opening
    ("bidder3", "GET", f"/api/tenders/{T}/hall", None, 403, "开标大厅仅对其采购人、投标人和监督人开放", []),
]

AFTER_OPENING: list[tuple[str, str, str, Any, int, str, list[str]]] = [
    ("bidder3", "PUT", f"/api/tenders/{T}/bid", "bid:1.00", 409, "投标截止时间", []),
    ("agency", "GET", f"/api/tenders/{T}/record", None, 200, '"total_price": "190.00"', []),
    ("bidder0", "POST", f"/api/tenders/{T}/record/confirm", None, 201, "bidder", ["opening.confirmed"]),
    ("bidder3", "POST", f"/api/tenders/{T}/record/confirm", None, 403, "的开标记录中没有投标", []),
    ("bidder1", "POST", f"/api/tenders/{T}/record/objections", {"text": "报价读错"}, 201, "报价读错", ["opening.objection"]),
    ("agency", "GET", f"/api/tenders/{T}/leads", None, 200, '"same_ip"', []),
    ("supervisor", "GET", f"/api/tenders/{T}/leads", None, 200, '"leads"', []),
    ("agency2", "GET", f"/api/tenders/{T}/leads", None, 403, "属于其他采购代理机构", []),
    ("agency", "GET", f"/api/tenders/{T}/bids", None, 200, '"bidder": ', []),
]


async def run_cases(hall: Hall, tender: dict[str, Any], cases: list[tuple[str, str, str, Any, int, str, list[str]]]) -> None:
    import json

    for who, method, path, body, status, text, kinds in cases:
        path = path.replace(T, tender["id"])
        size = hall.client.app[AUDIT_LOG].size
        kw: dict[str, Any] = {}
        if isinstance(body, str) and body.startswith("bid:"):
            current = (await hall.call("supervisor", "GET", f"/api/tenders/{tender['id']}"))[1]
            kw = {"data": seal(hall, current["opening_round"], body[4:]), "headers": {"Content-Type": "application/octet-stream"}}
        elif isinstance(body, str) and body.startswith("raw:"):
            kw = {"data": body[4:].encode(), "headers": {"Content-Type": "application/octet-stream"}}
        elif body is not None:
            kw = {"json": body}
        got_status, got = await hall.call(who, method, path, **kw)
        shown = json.dumps(got, ensure_ascii=False)
        assert (got_status, text in shown) == (status, True), f"{who} {method} {path}: {got_status} {shown[:300]}"
        if got_status >= 400:
            assert set(got) == {"ok", "status", "error", "request_id"} and "\n" not in got["error"]
        assert await hall.kinds_since(size) == kinds, f"{who} {method} {path}"


async def test_tender_api_table(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(4))
    assert status == 201 and tender["state"] == "draft"
    await run_cases(hall, tender, BEFORE_OPENING)
    status, tender = await hall.call("agency", "GET", f"/api/tenders/{tender['id']}")
    assert "bids" not in tender  # the agency does not learn who bid before the opening
    status, mine = await hall.call("bidder1", "GET", f"/api/tenders/{tender['id']}")
    assert mine["my_bid"]["status"] == "submitted" and "bids" not in mine
    for _ in range(200):  # the scheduler opens it when the round's beacon exists; poll the API's own state
        status, now = await hall.call("supervisor", "GET", f"/api/tenders/{tender['id']}")
        if now["state"] == "confirming":
            break
        await asyncio.sleep(0.1)
    assert now["state"] == "confirming"
    await run_cases(hall, tender, AFTER_OPENING)
    record = (await hall.call("bidder0", "GET", f"/api/tenders/{tender['id']}/record"))[1]
    objection = record["objections"][0]["id"]
    status, answer = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/record/objections/{objection}/answer", json={"text": "已核实"})
    assert status == 201 and answer["answer"] == "已核实"


@pytest.mark.parametrize("who, status", [("agency", 200), ("bidder0", 200), ("supervisor", 200), ("expert", 200), ("anonymous", 401)])
async def test_list_by_role(aiohttp_client: Any, tmp_path: Path, who: str, status: int) -> None:
    hall = await start(aiohttp_client, tmp_path)
    _, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(60))
    got_status, body = await hall.call(who, "GET", "/api/tenders")
    assert got_status == status
    if status == 200:
        ids = [t["id"] for t in body["tenders"]]
        assert (draft["id"] in ids) == (who in {"agency", "supervisor"})
