"""The expert API over real HTTP: import, the draw by the tender's agency completed by the draw
job (awaited on its event), the sealed list (agency and bidders get nothing before the session),
and an expert's own invitation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from evaluation.experts import pool as experts
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from tests.web.tender_client import start, tender_body
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.keys import ENGINE

HEADER = "id,name,account,region,sites,specialties,employers,relatives,unavailable,active\n"


async def test_draw_sealed_invitation_and_roles(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    expert_account = hall.accounts["expert"].id
    csv = HEADER + "".join(f"W{n},专家{n},{expert_account if n == 0 else ''},330102,main,A01,,,,1\n" for n in range(6))
    csv += "W9,坏,,330102,main,a1,,,,1\n"
    status, body = await hall.call("agency", "POST", "/api/experts/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert (status, body) == (200, {"accepted": 6, "rejected": [{"line": 8, "reason": "bad specialty code 'a1' (A-Z then 1-11 of A-Z, 0-9)"}]})
    for who, method, path, want in [
        ("bidder0", "GET", "/api/experts", 403), ("bidder0", "POST", "/api/experts/import", 403),
        ("expert", "GET", "/api/experts", 403), ("supervisor", "GET", "/api/experts", 200),
    ]:
        assert (await hall.call(who, method, path, data=csv.encode()))[0] == want, (who, path)

    status, t = await hall.call("agency", "POST", "/api/tenders", json=tender_body(120))
    assert status == 201
    tid = t["id"]
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 409  # draft
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/publish"))[0] == 200
    async with hall.client.app[ENGINE].begin() as conn:
        await tenders.set_state(conn, tid, TenderState.PUBLISHED, TenderState.OPENING)
        await tenders.set_state(conn, tid, TenderState.OPENING, TenderState.OPENED)

    assert (await hall.call("bidder0", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 403
    assert (await hall.call("agency2", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 403
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw", json={"size": 4, "purchaser": "91330100PURCHASER01"})
    assert (status, body["error"]) == (400, "公开招标 (open_tender) needs at least 5 members, the plan has 4")
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"})
    assert status == 201 and body["state"] == "requested" and body["committee"] is None
    await asyncio.wait_for(hall.client.app[DRAW_JOB].drawn(tid), timeout=20)

    status, agency_view = await hall.call("agency", "GET", f"/api/tenders/{tid}/draw")
    assert status == 200 and agency_view["state"] == "drawn" and agency_view["committee"] is None and agency_view["sealed"]
    assert (await hall.call("bidder0", "GET", f"/api/tenders/{tid}/draw"))[0] == 403
    assert (await hall.call("expert", "GET", f"/api/tenders/{tid}/draw"))[0] == 403
    assert (await hall.call("agency2", "GET", f"/api/tenders/{tid}/draw"))[0] == 403
    status, sup = await hall.call("supervisor", "GET", f"/api/tenders/{tid}/draw")
    seated = [m["expert_id"] for m in sup["committee"]]
    assert status == 200 and len(seated) == 5 and set(seated) <= {"W0", "W1", "W2", "W3", "W4", "W5"}
    other = next(i for i in seated if i != "W0")

    status, mine = await hall.call("expert", "GET", "/api/experts/me/invitations")
    assert status == 200
    assert "W1" not in str(mine) and "W2" not in str(mine)
    assert (await hall.call("bidder0", "GET", "/api/experts/me/invitations"))[0] == 403
    assert (await hall.call("expert", "POST", "/api/experts/me/invitations/T-none/accept"))[0] == 404
    if "W0" in seated:
        assert [(i["tender"], i["status"]) for i in mine["invitations"]] == [(tid, "invited")]
        assert (await hall.call("expert", "POST", f"/api/experts/me/invitations/{tid}/accept"))[0] == 200
        assert await experts.is_member(hall.client.app[ENGINE], tid, expert_account)
    else:
        assert mine["invitations"] == []
        assert (await hall.call("expert", "POST", f"/api/experts/me/invitations/{tid}/accept"))[0] == 404
    assert (await hall.call("supervisor", "POST", f"/api/tenders/{tid}/draw/decline", json={"expert_id": "W1"}))[0] == 403
    size = hall.client.app[TENDERS].audit.size
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw/decline", json={"expert_id": other, "reason": "出差", "ground": "unavailable", "evidence": "出差通知 T-9"})
    assert (status, body) == (200, {"declined": other, "replaced": 1})
    assert await hall.kinds_since(size) == ["experts.declined", "experts.replaced"]
    await experts.reveal_committee(hall.client.app[ENGINE], tid)
    status, agency_view = await hall.call("agency", "GET", f"/api/tenders/{tid}/draw")
    assert len(agency_view["committee"]) == 5 and not agency_view["sealed"]
    for who, path in [("agency", f"/tenders/{tid}/experts"), ("supervisor", "/experts"), ("expert", "/experts/me")]:
        status, html = await hall.call(who, "GET", path)
        assert status == 200 and "评标舱" in html, (who, path)
