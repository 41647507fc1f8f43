"""Starting the evaluation with the tender's own criteria, over real HTTP: the start section of the
session page shows them read-only to the owning agency only; a hostile threshold is refused with
one line and nothing started; an empty config takes the tender's kinds and 畸高畸低 threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.tender_client import start
from tests.web.test_evaluation_api import seated
from web.keys import AUDIT_LOG

CRITERIA = [
    {"name": "投标报价", "points": 30, "kind": "price"},
    {"name": "资质证书", "points": 20, "kind": "objective", "allowed": ["0", "10", "20"], "description": "每项证书 10 分"},
    {"name": "技术方案", "points": 50, "kind": "subjective", "description": "方案完整、可行"},
]


async def test_start_with_the_tenders_criteria_and_threshold(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender_id, experts = await seated(hall, criteria=CRITERIA, deviation_threshold="25")
    base = f"/api/evaluation/{tender_id}"

    status, page = await hall.call("agency", "GET", f"/evaluation/{tender_id}")
    assert status == 200
    assert 'id="start-criteria"' in page and "资质证书" in page and "每项证书 10 分" in page
    assert "评标基准价 / 投标报价 × 价格分值" in page and "客观分" in page and "0、10、20" in page
    assert 'placeholder="25"' in page and "<textarea" not in page.split('id="start-box"')[1].split("</section>")[0]
    status, page = await hall.call(experts[0], "GET", f"/evaluation/{tender_id}")
    assert status == 200 and 'id="start-criteria"' not in page  # the agency's form only

    size = hall.client.app[AUDIT_LOG].size
    for bad in ("NaN", "1e999", "-1/10", "0", "11/10", "9" * 5000, "Infinity", ""):
        status, body = await hall.call("agency", "POST", f"{base}/start", json={"config": {"deviation_threshold": bad}})
        assert status == 400, (bad, body)
        assert "\n" not in body["error"] and "Traceback" not in body["error"] and len(body["error"]) < 300
    for bad in (1e308, -3, 21, True, "3"):
        status, body = await hall.call("agency", "POST", f"{base}/start", json={"config": {"recommend": bad}})
        assert status == 400, (bad, body)
    status, _ = await hall.call(experts[0], "GET", base)
    assert status == 404  # nothing was started by the refusals
    assert hall.client.app[AUDIT_LOG].size == size

    status, body = await hall.call("agency", "POST", f"{base}/start", json={"config": {"recommend": 2}})
    assert status == 201, body
    assert body["config"]["deviation_threshold"] == "1/4" and body["config"]["recommend"] == 2
    kinds = [(c["title"], c["kind"], c["allowed"]) for c in body["criteria"]]
    assert kinds == [("投标报价", "price", []), ("资质证书", "technical", ["0", "10", "20"]), ("技术方案", "technical", [])]


async def test_the_start_form_threshold_wins_over_the_tenders(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender_id, _ = await seated(hall, criteria=CRITERIA)
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tender_id}/start",
                                   json={"config": {"deviation_threshold": "25/200"}})
    assert status == 201, body
    assert body["config"]["deviation_threshold"] == "1/8"


async def test_a_tender_without_criteria_shows_why_it_cannot_start(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender_id, _ = await seated(hall, criteria=[], evaluation_method="lowest_price")
    status, page = await hall.call("agency", "GET", f"/evaluation/{tender_id}")
    assert status == 200 and "招标项目没有评分因素" in page and 'id="start" disabled' in page
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tender_id}/start", json={})
    assert status == 400 and "招标项目没有评分因素" in body["error"], body
