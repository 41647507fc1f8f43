"""A running app with one account per role, for the tender API tests over real HTTP; an opened
tender and a really drawn committee on it (pool import and draw over the API, the draw job on the
local beacon), for the tests of what comes after the draw."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation.accounts.account import Account, Role
from evaluation.experts import pool as experts
from evaluation.experts.pool import CommitteeMember
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from tests.evaluation.experts_fixtures import committee_pool, wait_drawn
from tests.web.signin import make_account, session_headers
from web.api.experts import DRAW_JOB
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, CHAIN, ENGINE

NAMES = ["agency", "agency2", "bidder0", "bidder1", "bidder2", "bidder3", "supervisor", "expert"]


@dataclass
class Hall:
    client: TestClient
    accounts: dict[str, Account]
    headers: dict[str, dict[str, str]]

    async def call(self, who: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {**self.headers[who], **kw.pop("headers", {})}
        resp = await self.client.request(method, path, headers=headers, **kw)
        text = await resp.text()
        if resp.content_type != "application/json":
            return resp.status, text
        assert "\\u" not in text, f"{method} {path}: escaped text in the JSON a person reads: {text[:200]}"
        return resp.status, json.loads(text)

    async def kinds_since(self, size: int) -> list[str]:
        log = self.client.app[AUDIT_LOG]
        return [e.kind for e in await log.entries(size, log.size)]

    @property
    def chain(self) -> Any:
        return self.client.app[CHAIN]


async def start(aiohttp_client: Any, tmp_path: Path, **settings: Any) -> Hall:
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1, log_origin="test.example/audit", **settings))
    client: TestClient = await aiohttp_client(app)
    accounts, headers = {}, {}
    for name in NAMES:
        role = Role(name.rstrip("0123456789").removesuffix("2") if not name.startswith("agency") else "agency")
        accounts[name] = await make_account(app, role, username=name)
        headers[name] = await session_headers(app, accounts[name])
    headers["anonymous"] = await session_headers(app, None)
    return Hall(client, accounts, headers)


def tender_body(opening_in: float = 4.0, **over: Any) -> dict[str, Any]:
    return {"title": "办公设备采购", "method": "open", "budget_fen": 100_000_000,
            "opening_time": int(time.time() + opening_in), "min_bids": 3, "objection_window_s": 60, **over}


async def opened_tender(hall: Hall, agency: str = "agency") -> str:
    """A tender created and published over the API, then moved to 'opened' by the state setter
    (no bids, no opening round to wait for): what a draw needs. Returns its id."""
    status, t = await hall.call(agency, "POST", "/api/tenders", json=tender_body(120))
    assert status == 201, t
    assert (await hall.call(agency, "POST", f"/api/tenders/{t['id']}/publish"))[0] == 200
    async with hall.client.app[ENGINE].begin() as conn:
        await tenders.set_state(conn, t["id"], TenderState.PUBLISHED, TenderState.OPENING)
        await tenders.set_state(conn, t["id"], TenderState.OPENING, TenderState.OPENED)
    return str(t["id"])


async def drawn_committee(hall: Hall, tender_id: str, members: Sequence[str], outsiders: Sequence[str] = (),
                          agency: str = "agency") -> list[CommitteeMember]:
    """Seat the accounts named `members` (keys of hall.accounts) on `tender_id` by the real draw:
    the pool (tests/evaluation/experts_fixtures.committee_pool) imported and the draw requested over
    the API by the tender's agency, completed by the app's draw job (its event awaited). `outsiders`
    are expert accounts in the pool but inactive, so never drawn."""
    ids = [hall.accounts[n].id for n in members]
    csv = committee_pool([hall.accounts[n].username for n in members], [hall.accounts[n].username for n in outsiders])
    status, body = await hall.call(agency, "POST", "/api/experts/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert status == 200 and body["rejected"] == 0, body
    status, body = await hall.call(agency, "POST", f"/api/tenders/{tender_id}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"})
    assert status == 201, body
    await wait_drawn(hall.client.app[DRAW_JOB], tender_id)
    committee = await experts.committee_of(hall.client.app[ENGINE], tender_id)
    assert sorted(m.account_id for m in committee if m.account_id) == sorted(ids), committee
    return committee
