"""The workbench (工作台) each role lands on after sign-in, over real HTTP: what it lists and the
next step it offers move with the tender (draft → published → opened), per role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from tests.web.tender_client import Hall, start, tender_body
from web.keys import AUDIT_LOG, ENGINE


async def page(hall: Hall, who: str) -> str:
    status, body = await hall.call(who, "GET", "/", headers={"Accept": "text/html"})
    assert status == 200, body
    return str(body)


def rows(html: str, section: str) -> dict[str, str]:
    """tender id → the row's next step, in one section of the page."""
    part = html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return {m[0]: m[1] for m in re.findall(r'data-tender="([^"]+)"(?: data-step="([^"]*)")?', part)}


async def test_workbenches_follow_the_tender(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, draft = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, title="草稿项目"))
    assert status == 201, draft
    status, live = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, title="已发布项目"))
    assert (await hall.call("agency", "POST", f"/api/tenders/{live['id']}/publish"))[0] == 200

    agency = await page(hall, "agency")
    assert rows(agency, "todo") == {draft["id"]: "publish"}
    assert rows(agency, "my-tenders") == {draft["id"]: "publish", live["id"]: "await_opening"}
    assert "草稿项目" not in await page(hall, "agency2")  # another agency's tenders are not its work

    bidder = await page(hall, "bidder0")
    assert set(rows(bidder, "open-tenders")) == {live["id"]} and rows(bidder, "my-bids") == {}
    assert "草稿项目" not in bidder

    supervisor = await page(hall, "supervisor")
    assert live["id"] in rows(supervisor, "watch-recent") and draft["id"] not in supervisor

    async with hall.client.app[ENGINE].begin() as conn:  # the opening, without waiting for the round
        await tenders.set_state(conn, live["id"], TenderState.PUBLISHED, TenderState.OPENING)
        await tenders.set_state(conn, live["id"], TenderState.OPENING, TenderState.OPENED)
        await tenders.set_state(conn, live["id"], TenderState.OPENED, TenderState.CONFIRMING)
        await tenders.set_state(conn, live["id"], TenderState.CONFIRMING, TenderState.CONFIRMED)
    agency = await page(hall, "agency")
    assert rows(agency, "todo") == {draft["id"]: "publish", live["id"]: "request_draw"}
    assert f'href="/tenders/{live["id"]}/experts"' in agency
    assert rows(await page(hall, "bidder0"), "open-tenders") == {}
    assert live["id"] in rows(await page(hall, "supervisor"), "watch-recent")

    expert = await page(hall, "expert")
    assert "尚未加入专家库" in expert  # an expert account with no pool record is told so, not refused


async def test_a_result_is_published_only_by_its_agency_after_the_signed_report(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, t = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600))
    assert status == 201
    size = hall.client.app[AUDIT_LOG].size
    status, body = await hall.call("agency2", "POST", f"/api/tenders/{t['id']}/result", json={})
    assert status == 403, body
    status, body = await hall.call("agency", "POST", f"/api/tenders/{t['id']}/result", json={})
    assert status == 409 and "评标报告签署后才能公告结果" in body["error"], body
    assert hall.client.app[AUDIT_LOG].size == size  # nothing logged
