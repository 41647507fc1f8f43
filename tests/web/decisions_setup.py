"""A tender confirmed with the bids of real bidder accounts at chosen prices, and its evaluation
session started with five checked-in experts and an elected leader (e0): what the tests of the
committee's decisions (评审决定) and the bidders' answers start from. The committee is drawn for
real (tests/web/tender_client.drawn_committee); check-in and the vote go through the domain."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from crypto.beacon import LocalBeaconSource
from evaluation.audit.entry import Actor
from evaluation.session import session as sessions
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from tests.evaluation.session_fixtures import CRITERIA, Keys
from tests.evaluation.tender_fixtures import chunks, meta, sealed, spec
from web.api.evaluation import EVALUATION
from web.api.tenders import TENDERS
from web.keys import LOCAL_BEACON


async def tender_with_bids(app: Any, agency: Actor, offers: list[tuple[Actor, str]]) -> str:
    """A confirmed tender whose opened bids are `offers` (bidder, total price in yuan), named 供应商 i."""
    ctx: tenders.TenderContext = app[TENDERS]
    t = await tenders.create(ctx, agency, "采购中心", spec(3, criteria=CRITERIA, objection_window_s=0))
    t = await tenders.publish(ctx, agency, t.id)
    assert t.opening_round is not None
    for i, (bidder, price) in enumerate(offers):
        data = sealed(ctx.chain, t.opening_round, {"total_price": price, "delivery_days": 30})
        await bids.submit(ctx, bidder, t.id, chunks(data), meta(i))
    beacon = await LocalBeaconSource(app[LOCAL_BEACON]).wait_for(t.opening_round)
    await opening.run(ctx, t.id, beacon)
    await opening_record.finalize(dataclasses.replace(ctx, clock=lambda: time.time() + 5), t.id)
    assert (await tenders.get(ctx, t.id)).state.value == "confirmed"
    return t.id


async def start_scoring(app: Any, tender_id: str, agency: Actor, experts: list[Actor]) -> tuple[sessions.Session, Keys]:
    """Start the session, check every expert in (real keys, returned) and elect experts[0] leader: scoring."""
    ectx = app[EVALUATION]
    session = await sessions.start(ectx, agency, tender_id, {})
    keys = Keys()
    for e in experts:
        await sessions.check_in(ectx, e, tender_id, keys.checkin(e.account, session.bids))
    for e in experts[:3]:
        session = await sessions.vote(ectx, e, tender_id, experts[0].account)
    assert session.state.value == "scoring" and session.leader == experts[0].account
    return session, keys
