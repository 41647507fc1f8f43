"""A tender's scoring criteria over real HTTP: every mistake in one 400 answer (nothing stored, nothing
logged), a draft edited with kinds, allowed scores and the 畸高畸低 threshold, logged, and the
scoring method shown on the tender page to every role once published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.tender_client import start, tender_body

CRITERIA = [
    {"name": "价格", "points": 30, "kind": "price"},
    {"name": "资质证书", "points": 10, "kind": "objective", "allowed": ["0", "5", "10"], "description": "ISO9001 得 5 分"},
    {"name": "技术方案", "points": 60, "kind": "subjective", "description": "优 48–60 分"},
]


async def test_every_mistake_in_one_answer_and_nothing_stored(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    logged = len(await hall.kinds_since(0))
    bad = [{"name": "", "points": 0}, {"name": "技术", "points": 50, "kind": "objective", "allowed": ["0", "99"]}]
    status, body = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, criteria=bad))
    assert status == 400 and "\n" not in body["error"]
    assert body["error"].split("；") == [
        "第 1 项评分因素没有名称",
        "第 1 项评分因素的分值须为 1–100 的整数，现为 0",
        "第 2 项评分因素（技术）的可选分值 99 须为 0 到该项分值之间、最多两位小数的数",
    ]
    status, listed = await hall.call("agency", "GET", "/api/tenders")
    assert listed["tenders"] == [] and await hall.kinds_since(logged) == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "t", "budget_fen": 1, "opening_time": 4102444800, "criteria": [{"name": "a", "points": NaN}]}',
        b'{"title": "t", "budget_fen": 1, "opening_time": 4102444800, "criteria": [{"name": "a", "points": 1e999}]}',
        b'{"title": "t", "budget_fen": 1, "opening_time": 4102444800, "deviation_threshold": 1e999}',
        b'{"title": "t", "budget_fen": 1, "opening_time": 4102444800, "criteria": [{"name": "a", "points": 99999999999999999999999}]}',
        b'{"title": "t", "budget_fen": 1, "opening_time": 4102444800, "deviation_threshold": "-5"}',
    ],
)
async def test_hostile_numbers_get_one_line(aiohttp_client: Any, tmp_path: Path, raw: bytes) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, body = await hall.call("agency", "POST", "/api/tenders", data=raw, headers={"Content-Type": "application/json"})
    assert status == 400 and "\n" not in body["error"] and "Traceback" not in body["error"]
    assert (await hall.call("agency", "GET", "/api/tenders"))[1]["tenders"] == []


async def test_draft_edit_publish_and_the_page_everyone_sees(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, criteria=CRITERIA[:2] + [{"name": "技术方案", "points": 50}]))
    assert status == 400 and "合计须为 100，现为 90" in draft["error"]
    status, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, criteria=CRITERIA, sme_deduction="10"))
    assert status == 201 and draft["deviation_threshold"] is None
    before = await hall.kinds_since(0)
    edited = {**tender_body(600, criteria=CRITERIA, sme_deduction="12.5", deviation_threshold="25")}
    edited["criteria"][2] = {**CRITERIA[2], "description": "优 50–60 分"}
    status, draft = await hall.call("agency", "PUT", f"/api/tenders/{draft['id']}", json=edited)
    assert status == 200, draft
    assert draft["deviation_threshold"] == "25" and draft["sme_deduction"] == "12.5"
    assert [(c["kind"], c["allowed"]) for c in draft["criteria"]] == [("price", []), ("objective", ["0", "5", "10"]), ("subjective", [])]
    assert (await hall.kinds_since(len(before))) == ["tender.drafted"]
    status, _ = await hall.call("agency", "POST", f"/api/tenders/{draft['id']}/publish")
    assert status == 200
    for who in ("bidder0", "expert", "supervisor", "agency"):
        status, page = await hall.call(who, "GET", f"/tenders/{draft['id']}")
        assert status == 200 and 'id="scoring"' in page, who
        for text in ("资质证书", "客观分", "主观分", "价格分 = 评标基准价 / 投标报价 × 价格权重 × 100", "0、5、10", "25%", "12.5%", "优 50–60 分"):
            assert text in page, (who, text)
    status, logged = await hall.call("supervisor", "GET", f"/api/tenders/{draft['id']}")
    assert json.dumps(logged["criteria"], ensure_ascii=False).count('"kind"') == 3
