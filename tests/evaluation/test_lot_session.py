"""The evaluation of a multi-lot tender (分包评审) on both databases: one session per lot (id
``<tender>.<lot>``), each naming its lot and taking only the bids on it at their price for it
(never a sum of lots); both lots run, interleaved, to signed reports that name the lot; the result
is published per lot and the tender is awarded only with the last; each lot's tally replayed from
that lot's entries alone agrees; hostile ids and repeated steps are refused with nothing written."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.audit.entry import Actor
from evaluation.audit.events import replay
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError
from evaluation.session import replay as session_replay
from evaluation.session import result
from evaluation.session import session as sessions
from evaluation.session import sheets as scoring
from evaluation.session.events import first_difference, lot_entries, recompute_tally, session_state
from evaluation.session.session import EvaluationContext
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.tender import TenderContext
from tests.evaluation.session_fixtures import CRITERIA, Keys, TestCommittee, sheets_doc
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
    for target, body in ((tender_id, {}), (tender_id, {"lot": 3}), (tender_id, {"lot": "2"}),
                         (tender_id, {"config": {"lot": 0}}), (f"{tender_id}.3", {}), (f"{tender_id}.0", {}),
                         (f"{tender_id}.02", {}), (f"{tender_id}.x", {}), (f"{tender_id}.2", {"lot": 1})):
        with pytest.raises(InvalidRequest):
            await sessions.start(ectx, AGENCY, target, body)
    assert (await tenders.get(ectx.tenders, tender_id)).state.value == "confirmed"  # nothing started
    assert [e for e in await ectx.tenders.audit.entries_for_tender(tender_id) if e.kind.startswith("evaluation.")] == []

    session = await sessions.start(ectx, AGENCY, tender_id, {"lot": 2})
    sid = f"{tender_id}.2"
    assert session.id == sid and session.tender_id == tender_id and session.lot == 2
    with pytest.raises(NotFoundError, match="分包评标"):  # the tender's own id names no session
        await sessions.get_session(ectx, tender_id)
    prices = {b["bidder"]: b["price_fen"] for b in session.bids}
    assert prices == {BIDDERS[0].account: 15_000_000, BIDDERS[1].account: 16_000_000, BIDDERS[3].account: 14_000_050}
    assert session.config.lot == 2
    started = next(e for e in await ectx.tenders.audit.entries_for_tender(tender_id) if e.kind == "evaluation.started")
    assert started.payload["lot"] == {"lot": 2, "name": "打印机"} and started.payload["config"]["lot"] == 2

    keys = Keys()
    await through_election(ectx, sid, experts, keys)
    await submit_all(ectx, sid, experts, keys)
    with pytest.raises(ConflictError, match="畸低"):  # experts[4] scored far below the median
        await scoring.compute_tally(ectx, experts[0], sid)
    bid0 = (await sessions.get_session(ectx, sid)).bids[0]["bid"]
    await scoring.confirm_deviation(ectx, experts[4], sid, {"bid": bid0, "criterion": "c2", "reason": "维持 kept"})
    session = await scoring.compute_tally(ectx, experts[0], sid)
    assert session.report is not None and session.report["tender"]["lot"] == {"lot": 2, "name": "打印机"}
    ranked = {b["bid"]: b["price_fen"] for b in session.tally["tally"]["bids"]} if session.tally else {}
    assert sorted(ranked.values()) == [14_000_050, 15_000_000, 16_000_000]
    entries = await ectx.tenders.audit.entries_for_tender(tender_id)
    assert all(e.payload.get("lot") in (2, {"lot": 2, "name": "打印机"}) for e in entries if e.kind.startswith("evaluation."))
    state = replay(entries)
    assert state["problems"] == []
    ev = session_state(state, 2)
    assert ev is not None and first_difference(recompute_tally(ev).to_json(), session.tally["tally"] if session.tally else None) is None


async def to_signed(ectx: EvaluationContext, sid: str, experts: list[Actor], keys: Keys) -> sessions.Session:
    """From scoring to the signed report of the session `sid` (expert 4's deviating score confirmed)."""
    await submit_all(ectx, sid, experts, keys)
    bid0 = (await sessions.get_session(ectx, sid)).bids[0]["bid"]
    await scoring.confirm_deviation(ectx, experts[4], sid, {"bid": bid0, "criterion": "c2", "reason": "维持 kept"})
    session = await scoring.compute_tally(ectx, experts[0], sid)
    for e in experts:
        text, sig = keys.document("pingbiao-report/1", sid, e.account, sha256=session.report_sha256)
        session = await scoring.sign_report(ectx, e, sid, text, sig)
    return session


async def test_both_lots_evaluated_to_signed_reports_and_results(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id = await two_lot_tender(ectx.tenders, beacon)
    assert isinstance(ectx.committee, TestCommittee)
    experts = ectx.committee.seat(tender_id)  # the same committee evaluates both lots
    lot1, lot2 = f"{tender_id}.1", f"{tender_id}.2"
    both = await asyncio.gather(sessions.start(ectx, AGENCY, lot1, {}), sessions.start(ectx, AGENCY, tender_id, {"lot": 2}))
    assert [s.id for s in both] == [lot1, lot2]  # started at the same time: each lot its own session
    assert (await tenders.get(ectx.tenders, tender_id)).state.value == "evaluating"
    count = len(await ectx.tenders.audit.entries_for_tender(tender_id))
    for target, body in ((lot2, {}), (tender_id, {"lot": 1})):
        with pytest.raises(ConflictError, match="已经开始"):
            await sessions.start(ectx, AGENCY, target, body)
    with pytest.raises(NotFoundError):
        await sessions.get_session(ectx, f"{tender_id}.9")
    assert len(await ectx.tenders.audit.entries_for_tender(tender_id)) == count  # refusals wrote nothing

    keys = Keys()
    await through_election(ectx, lot1, experts, keys)
    await through_election(ectx, lot2, experts, keys)
    with pytest.raises(InvalidRequest):  # a sheet signed for lot 1 does not count in lot 2
        bids2 = [b["bid"] for b in (await sessions.get_session(ectx, lot2)).bids]
        await scoring.submit_sheets(ectx, experts[1], lot2, *sheets_doc(keys, lot1, experts[1].account,
                                                                        {b: {"c2": "40", "c3": "15"} for b in bids2}))
    done1 = await to_signed(ectx, lot1, experts, keys)
    assert done1.state.value == "done" and done1.report is not None
    assert done1.report["tender"]["lot"] == {"lot": 1, "name": "计算机"}
    assert {b["bidder"] for b in done1.bids} == {BIDDERS[0].account, BIDDERS[1].account, BIDDERS[2].account}
    assert (await sessions.get_session(ectx, lot2)).state.value == "scoring"  # lot 2 is its own session

    with pytest.raises(ConflictError, match="^评标报告尚未经全体成员签署"):
        await result.publish_result(ectx, AGENCY, lot2, {})
    first = await result.publish_result(ectx, AGENCY, tender_id, {"lot": 1})
    assert first["lot"] == {"lot": 1, "name": "计算机"} and first["winner_bid"] in done1.report["recommendation"]["candidates"]
    assert (await tenders.get(ectx.tenders, tender_id)).state.value == "evaluating"  # lot 2 is still evaluated
    with pytest.raises(ConflictError, match="已经公告"):
        await result.publish_result(ectx, AGENCY, lot1, {})

    done2 = await to_signed(ectx, lot2, experts, keys)
    assert done2.report is not None and done2.report["tender"]["lot"] == {"lot": 2, "name": "打印机"}
    second = await result.publish_result(ectx, AGENCY, lot2, {})
    assert second["lot"]["lot"] == 2 and second["price"] != first["price"]
    assert (await tenders.get(ectx.tenders, tender_id)).state.value == "awarded"
    assert set(await result.published_results(ectx, tender_id)) == {1, 2}

    entries = await ectx.tenders.audit.entries_for_tender(tender_id)
    state = replay(entries)
    assert state["problems"] == [] and state["phase"] == "awarded"
    for lot, done in ((1, done1), (2, done2)):
        sid = f"{tender_id}.{lot}"
        checked = session_replay.check(entries, await session_replay.stored_tally(ectx.engine, sid), lot)
        assert checked.ok, checked.text
        ev = session_state(replay(lot_entries(entries, lot)), lot)
        assert ev is not None and ev["report_final"] == done.report_sha256
        assert {b["bid"] for b in ev["bids"]} == {b["bid"] for b in done.bids}
        moves = [(e.payload["old"], e.payload["new"]) for e in entries if e.kind == "evaluation.state" and e.payload["lot"] == lot]
        assert moves == [("checkin", "election"), ("election", "scoring"), ("scoring", "review"),
                         ("review", "tally"), ("tally", "signing"), ("signing", "done")]
    assert done1.report_sha256 != done2.report_sha256
