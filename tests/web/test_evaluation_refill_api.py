"""补抽 over real HTTP: a member withdraws (回避) at check-in, the agency refills the seat from the
draw's reserve, the replacement accepts its invitation, joins and checks in, and the election opens.
Refusals answer one line with their status and log nothing. The draw is real (pool import and
draw over the API, the app's draw job on the local beacon)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role
from evaluation.experts import pool as experts
from tests.e2e.test_evaluation_flow import confirmed_tender
from tests.evaluation.experts_fixtures import committee_pool, wait_drawn
from tests.evaluation.session_fixtures import Keys
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import start
from web.api.experts import DRAW_JOB
from web.keys import ENGINE


async def test_the_agency_refills_a_withdrawn_seat(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    app = hall.client.app
    names = [f"r{i}" for i in range(6)]
    for n in names:
        hall.accounts[n] = await make_account(app, Role.expert, n)
        hall.headers[n] = await session_headers(app, hall.accounts[n])
    tender_id = await confirmed_tender(app, hall.accounts["agency"].actor)
    csv = committee_pool([hall.accounts[n].username for n in names], size=6)  # 5 seats, 1 in reserve
    status, body = await hall.call("agency", "POST", "/api/experts/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert status == 200 and body["rejected"] == 0, body
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tender_id}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"})
    assert status == 201, body
    await wait_drawn(app[DRAW_JOB], tender_id)
    seated = {m.account_id for m in await experts.committee_of(app[ENGINE], tender_id)}
    members = [n for n in names if hall.accounts[n].id in seated]
    reserve = [n for n in names if hall.accounts[n].id not in seated]
    base = f"/api/evaluation/{tender_id}"
    status, body = await hall.call("agency", "POST", f"{base}/start", json={})
    assert status == 201, body
    keys, bids = Keys(), body["bids"]
    gone = hall.accounts[members[0]].id
    tied = keys.checkin(gone, bids)
    tied["avoidance"][0] = {**tied["avoidance"][0], "conflict": True, "reason": "曾在该公司任职"}
    assert (await hall.call(members[0], "POST", f"{base}/checkin", json=tied))[0] == 201
    for n in members[1:]:
        status, body = await hall.call(n, "POST", f"{base}/checkin", json=keys.checkin(hall.accounts[n].id, bids))
        assert status == 201, body
    assert body["state"] == "checkin"

    refill = f"{base}/members/{gone}/refill"
    size = len(await hall.kinds_since(0))
    for who, path, expected in [("bidder0", refill, 403), (members[1], refill, 403), ("agency2", refill, 403),
                                ("agency", f"{base}/members/{hall.accounts[members[1]].id}/refill", 409),
                                ("agency", f"{base}/members/acct_nobody/refill", 404),
                                ("agency", f"{base}/members/{'x' * 300}/refill", 400)]:
        status, body = await hall.call(who, "POST", path)
        assert status == expected and isinstance(body, dict) and "\n" not in body["error"], (who, path, status, body)
    assert len(await hall.kinds_since(0)) == size  # refusals log nothing

    status, body = await hall.call("agency", "POST", refill)
    assert status == 201 and body["state"] == "checkin", body
    assert (await hall.kinds_since(size)) == ["experts.declined", "experts.replaced"]
    assert (await hall.call("agency", "POST", refill))[0] == 409  # already refilled

    newcomer = reserve[0]
    status, body = await hall.call(newcomer, "POST", f"/api/experts/me/invitations/{tender_id}/accept")
    assert status == 200 and body.get("joined") is True, body
    status, body = await hall.call(newcomer, "GET", base)
    assert status == 200, body
    joined = [m for m in body["members"] if m["account"] == hall.accounts[newcomer].id]
    assert joined and joined[0]["fills"] == next(m["seat"] for m in body["members"] if m["account"] == gone), body
    status, body = await hall.call(newcomer, "POST", f"{base}/checkin", json=keys.checkin(hall.accounts[newcomer].id, bids))
    assert status == 201 and body["state"] == "election", body
