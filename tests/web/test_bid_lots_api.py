"""A two-lot tender (分包) over real HTTP: bidders seal a price per chosen lot; hostile lot prices
(NaN, 1e999, negative, ¥-strings, a lot not in the tender, a lot twice, no document) cannot be
seen before the opening and are then listed as failed with one Chinese line each, while the good
bids get one record line per lot; the pages show them in yuan with separators and say that the
record was opened on the local beacon. A published tender's lots keep their numbers."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from crypto import tlock
from evaluation.accounts.account import Role
from evaluation.tenders.bid_container import MAGIC, build_container
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import Hall, start, tender_body

LOTS = [{"name": "计算机", "budget_fen": 100_000_000}, {"name": "打印机", "budget_fen": 5_000_000}]
DOC = ("技术标.pdf", b"%PDF-1.4 technical offer")


def raw_container(record_json: str, docs: list[tuple[str, bytes]]) -> bytes:
    """A container whose manifest is written by hand (JSON a Python dict cannot hold: NaN, 1e999)."""
    documents = json.dumps([{"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in docs])
    return MAGIC + f'{{"record":{record_json},"documents":{documents}}}\n'.encode() + b"".join(b for _, b in docs)


def seal(hall: Hall, round: int, plaintext: bytes) -> bytes:
    out = io.BytesIO()
    tlock.seal(io.BytesIO(plaintext), out, hall.chain, round)
    return out.getvalue()


def good(lots: list[dict[str, Any]]) -> bytes:
    return build_container({"delivery_days": 30, "lots": lots}, [DOC])


BIDS: dict[str, tuple[bytes, str | None]] = {  # bidder -> (plaintext, the reason its record row gives)
    "bidder0": (good([{"lot": 1, "price": "980,000.50"}, {"lot": 2, "price": "45000"}]), None),
    "bidder1": (good([{"lot": 1, "price": "990000"}]), None),
    "bidder2": (good([{"lot": 2, "price": "48000.00"}, {"lot": 1, "price": "999999.99"}]), None),
    "bidder3": (raw_container('{"delivery_days":30,"lots":[{"lot":1,"price":NaN}]}', [DOC]), "NaN"),
    "bidder4": (raw_container('{"delivery_days":30,"lots":[{"lot":1,"price":1e999}]}', [DOC]), "1e999"),
    "bidder5": (good([{"lot": 1, "price": "-100"}]), "第1包报价须为以元为单位"),
    "bidder6": (good([{"lot": 2, "price": "¥40,000"}]), "第2包报价须为以元为单位"),
    "bidder7": (good([{"lot": 3, "price": "100"}]), "分包 3 不在本项目中"),
    "bidder8": (good([{"lot": 2, "price": "100"}, {"lot": 2, "price": "90"}]), "第2包重复报价"),
    "bidder9": (good([{"lot": 2, "price": "50000.01"}]), "第2包报价 50,000.01 元超过该包预算 50,000.00 元"),
    "bidder10": (good([]), "请至少选择一个分包"),
    "bidder11": (build_container({"delivery_days": 30, "lots": [{"lot": 1, "price": "1"}]}, [("空.pdf", b"")]), "投标文件不含任何非空文档"),
    "bidder12": (good([{"lot": 1, "price": "1e999"}]), "第1包报价须为以元为单位"),
}


async def test_two_lot_bids_over_http(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    for name in BIDS:
        if name not in hall.headers:
            hall.accounts[name] = await make_account(hall.client.app, Role("bidder"), username=name)
            hall.headers[name] = await session_headers(hall.client.app, hall.accounts[name])
    status, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(8, lots=LOTS))
    assert status == 201, tender
    tid = tender["id"]
    status, published = await hall.call("agency", "POST", f"/api/tenders/{tid}/publish")
    assert status == 200
    status, refused = await hall.call("agency", "POST", f"/api/tenders/{tid}/amend",
                                      json={"changes": {"lots": [LOTS[1], LOTS[0]]}, "reason": "调换"})
    assert status == 400 and "分包的数量和名称在发布后不能变更" in refused["error"]
    status, _ = await hall.call("agency", "POST", f"/api/tenders/{tid}/amend",
                                json={"changes": {"lots": [LOTS[0], {"name": "打印机", "budget_fen": 5_000_000}]}, "reason": "x"})
    assert status == 400  # nothing changes: refused, not logged as an amendment

    for name, (plaintext, _) in BIDS.items():
        status, body = await hall.call(name, "PUT", f"/api/tenders/{tid}/bid", data=seal(hall, published["opening_round"], plaintext),
                                       headers={"Content-Type": "application/octet-stream"})
        assert status == 201, (name, body)  # the server sees only ciphertext: nothing to check yet
    for _ in range(300):  # the scheduler opens it when the round's beacon exists
        status, now = await hall.call("supervisor", "GET", f"/api/tenders/{tid}")
        if now["state"] == "confirming":
            break
        await asyncio.sleep(0.1)
    assert now["state"] == "confirming"

    status, record = await hall.call("agency", "GET", f"/api/tenders/{tid}/record")
    assert status == 200 and record["valid"] == 3
    assert record["local_beacon"] is True and record["local_beacon_note"].startswith("本地信标：运营方可预知随机数")
    assert record["lots"] == [{"lot": 1, "name": "计算机", "budget_fen": 100_000_000}, {"lot": 2, "name": "打印机", "budget_fen": 5_000_000}]
    by_name = {r["bidder"]: r for r in record["rows"]}
    ids = {name: hall.accounts[name].id for name in BIDS}
    assert by_name[ids["bidder0"]]["lots"] == [{"lot": 1, "name": "计算机", "price": "980000.50"}, {"lot": 2, "name": "打印机", "price": "45000.00"}]
    assert by_name[ids["bidder1"]]["lots"] == [{"lot": 1, "name": "计算机", "price": "990000.00"}]
    for name, (_, reason) in BIDS.items():
        row = by_name[ids[name]]
        if reason is None:
            assert row["status"] == "opened" and row["fields"] == {"delivery_days": 30}
        else:
            assert row["status"] == "failed" and reason in row["reason"] and "\n" not in row["reason"], (name, row)
            assert "Traceback" not in row["reason"] and "lots" not in row

    status, snap = await hall.call("bidder0", "GET", f"/api/tenders/{tid}/hall")
    assert snap["tender"]["lots"][1]["name"] == "打印机" and [f["key"] for f in snap["tender"]["fields"]] == ["delivery_days"]
    status, page = await hall.call("bidder0", "GET", f"/tenders/{tid}")
    assert status == 200
    assert "980,000.50" in page and "45,000.00" in page and "999,999.99" in page and "第2包" in page
    assert page.count('data-lot="1"') == 3 and page.count('data-lot="2"') == 2
    assert "本地信标：运营方可预知随机数，仅供演示/测试" in page
