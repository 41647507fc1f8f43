"""The demo's people and companies are each named once: no name beside its own translation, no
company under two names (the bid's and the sign-in's), no lot name repeating the 第N包 the pages
add — checked on the data and on a seeded demo tender, through the hall a bidder sees."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.web.signin import session_headers
from web.api.tenders import TENDERS
from web.app import create_app
from web.config import Settings
from web.demo.data import ACCOUNTS, SAMPLE_BIDS, ensure_accounts, seed_tender
from web.demo.pages import SAMPLES

LATIN = re.compile(r"[A-Za-z]{2,}")


def test_every_demo_name_is_written_once() -> None:
    names = [n for a in ACCOUNTS for n in (a.display_name, a.organization)]
    assert [n for n in names if LATIN.search(n)] == []  # English comes from the catalogue, not beside the name
    people = [a.display_name for a in ACCOUNTS]
    assert len(set(people)) == len(people)
    for a in ACCOUNTS:  # a person is not their company, and neither name holds the other
        assert a.display_name not in a.organization and a.organization not in a.display_name
    companies = {a.organization for a in ACCOUNTS if a.username in SAMPLE_BIDS}
    assert {name for name, _ in SAMPLES} == companies  # the timelock demo names the same bidders
    assert all(not any(c[:4] in document for c in companies) for _, document in SAMPLE_BIDS.values())


async def test_a_seeded_demo_tender_names_each_bidder_one_way(aiohttp_client: Any, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1, log_origin="test.example/audit"))
    client = await aiohttp_client(app)
    accounts = await ensure_accounts(app)
    tender = await seed_tender(app[TENDERS], accounts, opening_in=3600)
    assert not LATIN.search(tender.spec.title + tender.spec.description + "".join(lot.name for lot in tender.spec.lots))
    assert all(not lot.name.startswith("第") for lot in tender.spec.lots)  # the pages write 第1包 before it
    headers = await session_headers(app, accounts["bidder1"])
    resp = await client.post(f"/api/tenders/{tender.id}/hall/signin", json={}, headers=headers)
    assert resp.status == 201
    signed = await resp.json()
    resp = await client.get(f"/api/tenders/{tender.id}/hall", headers=await session_headers(app, accounts["supervisor"]))
    snap = await resp.json()
    bid_names = {a["bidder"]: a["name"] for a in snap["attendance"]}
    assert bid_names[accounts["bidder1"].id] == signed["name"] == "华东建设工程有限公司"
    assert sorted(bid_names.values()) == sorted(a.organization for a in ACCOUNTS if a.username in SAMPLE_BIDS)
