"""The evaluation of a multi-lot tender (分包评审) on both databases: the session names the lot,
takes only the bids on it at their price for it (never a sum of lots), runs to a signed report
that names the lot, and the tally replayed from the log agrees."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.audit.events import replay
from evaluation.errors import ConflictError, InvalidRequest
from evaluation.session import session as sessions
from evaluation.session import sheets as scoring
from evaluation.session.events import first_difference, recompute_tally
from evaluation.session.session import EvaluationContext
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.tender import TenderContext
from tests.evaluation.session_fixtures import CRITERIA, Keys, TestCommittee
from tests.evaluation.tender_fixtures import AGENCY, BIDDERS, beacon, chunks, meta, sealed, spec, tctx  # noqa: F401
from tests.evaluation.test_session_flow import submit_all, through_election

LOTS = [{"name": "计算机", "budget_fen": 0}, {"name": "打印机", "budget_fen": 20_000_000}]
BIDS = [  # bidder i's lots: lot 2 has bidders 0, 1, 3; lot 1 has 0, 1, 2
    [{"lot": 1, "price": "100000"}, {"lot": 2, "price": "150000"}],
    [{"lot": 2, "price": "160000"}, {"lot": 1, "price": "90000"}],
    [{"lot": 1, "price": "120000"}],
    [{"lot": 2, "price": "140000.50"}],
]


@pytest.fixture
async def ectx(tctx: TenderContext, beacon: LocalBeacon) -> AsyncIterator[EvaluationContext]:  # noqa: F811
    yield EvaluationContext(tctx, TestCommittee(), LocalBeaconSource(beacon))


async def two_lot_tender(tctx: TenderContext, beacon: LocalBeacon) -> str:  # noqa: F811
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(2, criteria=CRITERIA, objection_window_s=0, lots=LOTS))
    t = await tenders.publish(tctx, AGENCY, t.id)
    assert t.opening_round is not None
    for i, lots in enumerate(BIDS):
        data = sealed(beacon.chain, t.opening_round, {"delivery_days": 30, "lots": lots})
        await bids.submit(tctx, BIDDERS[i], t.id, chunks(data), meta(i))
    await opening.run(tctx, t.id, await LocalBeaconSource(beacon).wait_for(t.opening_round))
    await opening_record.finalize(dataclasses.replace(tctx, clock=lambda: time.time() + 5), t.id)
    return t.id


async def test_a_session_evaluates_one_lot_at_its_prices(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id = await two_lot_tender(ectx.tenders, beacon)
    assert isinstance(ectx.committee, TestCommittee)
    experts = ectx.committee.seat(tender_id)
    for body in ({}, {"lot": 3}, {"lot": "2"}, {"config": {"lot": 0}}):
        with pytest.raises(InvalidRequest):
            await sessions.start(ectx, AGENCY, tender_id, body)
    assert (await tenders.get(ectx.tenders, tender_id)).state.value == "confirmed"  # nothing started

    session = await sessions.start(ectx, AGENCY, tender_id, {"lot": 2})
    prices = {b["bidder"]: b["price_fen"] for b in session.bids}
    assert prices == {BIDDERS[0].account: 15_000_000, BIDDERS[1].account: 16_000_000, BIDDERS[3].account: 14_000_050}
    assert session.config.lot == 2
    started = next(e for e in await ectx.tenders.audit.entries_for_tender(tender_id) if e.kind == "evaluation.started")
    assert started.payload["lot"] == {"lot": 2, "name": "打印机"} and started.payload["config"]["lot"] == 2

    keys = Keys()
    await through_election(ectx, tender_id, experts, keys)
    await submit_all(ectx, tender_id, experts, keys)
    with pytest.raises(ConflictError, match="畸低"):  # experts[4] scored far below the median
        await scoring.compute_tally(ectx, experts[0], tender_id)
    bid0 = (await sessions.get_session(ectx, tender_id)).bids[0]["bid"]
    await scoring.confirm_deviation(ectx, experts[4], tender_id, {"bid": bid0, "criterion": "c2", "reason": "维持 kept"})
    session = await scoring.compute_tally(ectx, experts[0], tender_id)
    assert session.report is not None and session.report["tender"]["lot"] == {"lot": 2, "name": "打印机"}
    ranked = {b["bid"]: b["price_fen"] for b in session.tally["tally"]["bids"]} if session.tally else {}
    assert sorted(ranked.values()) == [14_000_050, 15_000_000, 16_000_000]
    state = replay(await ectx.tenders.audit.entries_for_tender(tender_id))
    assert state["problems"] == []
    assert first_difference(recompute_tally(state["evaluation"]).to_json(), session.tally["tally"] if session.tally else None) is None
