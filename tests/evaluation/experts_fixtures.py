"""Shared helpers of the expert tests: a pool CSV, accounts with organisations, a tender that is
opened (bidders known) without waiting for an opening round, and a real committee: a pool imported
and the draw completed by the app's draw job on the local beacon (``draw_committee``), for the tests
of what comes after the draw (the booth, the evaluation session)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher

from evaluation.accounts.account import Account, create_account
from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Actor
from evaluation.experts import draw_service
from evaluation.experts import pool as experts
from evaluation.experts.draw_job import DrawJob
from evaluation.experts.pool import CommitteeMember
from evaluation.tenders import bids
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import chunks, meta, sealed, spec

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
AGENCY_ORG, BIDDER_ORGS = "91330100AGENCY0001", ["91330100BIDDER0000", "91330100BIDDER0001"]

HEADER = "code,name,username,region,sites,specialties,employers,relatives,unavailable,active\n"
# 9 experts: E01..E06 at 杭州 (3301…), E07..E09 at 成都 (5101…); specialties A01/B02.
POOL = HEADER + "\n".join([
    "E01,张一,,330102,main,A01,,,,1",
    "E02,张二,,330106,main;remote,A01;B02,,,,1",
    "E03,张三,,330108,main,B02,,,,1",
    "E04,张四,,330110,main,A01,91330100BIDDER0000|employee|2020-01-01|2024-12-31,,,1",
    "E05,张五,,330111,main,A01,,91330100BIDDER0001|spouse,,1",
    "E06,张六,,330112,main,B02,91330100AGENCY0001|employee|2019-01-01|,,,1",
    "E07,李七,,510104,remote,A01,,,,1",
    "E08,李八,,510107,remote,B02,,,,1",
    "E09,李九,,510108,remote,A01,91330100BIDDER0000|director|2010-01-01|2015-12-31,,,1",
]) + "\n"

PURCHASER = "91330100PURCHASER01"  # 采购人 (统一社会信用代码)
CRITERIA = {
    "size": 5, "purchaser_reps": 0, "purchaser": PURCHASER,
    "specialties": {"A01": 3, "B02": 2},
    "sites": [
        {"site": "hz", "role": "main", "regions": ["3301"], "count": 3},
        {"site": "cd", "role": "remote", "regions": ["5101"], "count": 2},
    ],
}


@dataclass
class People:
    agency: Account
    bidders: list[Account]


async def people(tctx: TenderContext) -> People:
    agency = await create_account(tctx.audit, username="agency-x", password="p" * 12, display_name="代理", role="agency",
                                  organization=AGENCY_ORG, hasher=FAST)
    bidders = [
        await create_account(tctx.audit, username=f"bidder-{n}", password="p" * 12, display_name=f"供应商{n}",
                             role="bidder", organization=org, hasher=FAST)
        for n, org in enumerate(BIDDER_ORGS)
    ]
    return People(agency, bidders)


async def opened_tender(tctx: TenderContext, who: People) -> tenders.Tender:
    """A tender with a bid from each bidder, moved to 'opened' through the state setter."""
    t = await tenders.create(tctx, who.agency.actor, "采购中心", spec(120))
    t = await tenders.publish(tctx, who.agency.actor, t.id)
    assert t.opening_round is not None
    for n, b in enumerate(who.bidders):
        await bids.submit(tctx, b.actor, t.id, chunks(sealed(tctx.chain, t.opening_round)), meta(n))
    async with tctx.engine.begin() as conn:
        await tenders.set_state(conn, t.id, TenderState.PUBLISHED, TenderState.OPENING)
        await tenders.set_state(conn, t.id, TenderState.OPENING, TenderState.OPENED)
    return await tenders.get(tctx, t.id)


DRAW_TIMEOUT = 30.0  # seconds: the draw waits for the first beacon round after its request


def committee_pool(members: Sequence[str], outsiders: Sequence[str] = (), size: int = 5) -> str:
    """A pool CSV from which a draw of `size` seats exactly `members` (usernames, linked in order),
    padded with unlinked experts up to `size`; `outsiders` are expert accounts linked to inactive
    pool rows: in the pool, never drawn. All at 杭州, main site, specialty A01."""
    if len(members) > size:
        raise ValueError(f"{len(members)} members do not fit a committee of {size}")
    linked = list(members) + [""] * (size - len(members))
    rows = [f"C{n:02d},专家{n},{acc},330102,main,A01,,,,1" for n, acc in enumerate(linked)]
    rows += [f"X{n:02d},库外{n},{acc},330102,main,A01,,,,0" for n, acc in enumerate(outsiders)]
    return HEADER + "\n".join(rows) + "\n"


async def wait_drawn(job: DrawJob, tender_id: str) -> None:
    """Wait for the draw job's completion event of `tender_id` (no polling, no sleeps)."""
    await asyncio.wait_for(job.drawn(tender_id), timeout=DRAW_TIMEOUT)


async def draw_committee(tctx: TenderContext, job: DrawJob, agency: Actor, tender_id: str, members: Sequence[str],
                         outsiders: Sequence[str] = ()) -> list[CommitteeMember]:
    """Import ``committee_pool(members, outsiders)`` and have the real draw seat them on
    `tender_id` (opened or later): request as its agency, then the app's draw job completes it
    once the local beacon has the round. Returns ``experts.committee_of`` — what production uses."""
    async with tctx.engine.connect() as conn:
        names = dict((await conn.execute(sa.select(account_table.c.id, account_table.c.username))).all())
    pool = committee_pool([names[m] for m in members], [names[m] for m in outsiders])
    report = await experts.import_csv(tctx.engine, tctx.audit, pool, agency)
    assert report.rejected == [], report
    await draw_service.request_draw(tctx, agency, tender_id, {"size": 5, "purchaser": PURCHASER})
    job.kick()
    await wait_drawn(job, tender_id)
    committee = await experts.committee_of(tctx.engine, tender_id)
    assert sorted(m.account_id for m in committee if m.account_id) == sorted(members), committee
    return committee
