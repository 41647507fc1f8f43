"""Refilling a seat after a 回避 at check-in (evaluation/session/refill.py), on both databases, with
the real draw: the withdrawn expert is declined from the draw, the next of the reserve is invited,
accepts, joins the session filling the seat and checks in; only then does the election open.
Refusals change nothing."""

from __future__ import annotations

import asyncio

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.accounts.account import create_account
from evaluation.audit.entry import Actor
from evaluation.audit.events import replay
from evaluation.errors import ConflictError, InvalidRequest, InvalidStateError, NotFoundError
from evaluation.experts import draw_service
from evaluation.experts import pool as experts
from evaluation.experts.draw_job import DrawJob
from evaluation.session import refill
from evaluation.session import report as session_report
from evaluation.session import session as sessions
from evaluation.session import sheets as scoring
from evaluation.session.rules import SessionState
from evaluation.session.session import EvaluationContext
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.experts_fixtures import FAST, PURCHASER, committee_pool
from tests.evaluation.session_fixtures import Keys, TestCommittee, confirmed_tender, sheets_doc
from tests.evaluation.tender_fixtures import AGENCY, OTHER_AGENCY, beacon, tctx  # noqa: F401  (fixtures)


async def drawn_session(tctx: TenderContext, beacon: LocalBeacon) -> tuple[EvaluationContext, str, list[Actor], list[Actor]]:  # noqa: F811
    """A confirmed tender, a real draw of 5 from 6 linked experts (one in reserve), the session
    started. Returns (context, tender, seated members, the reserve)."""
    tender = await confirmed_tender(tctx, beacon)
    accounts = [await create_account(tctx.audit, username=f"refill-{n}", password="p" * 12, display_name=f"专家{n}",
                                     role="expert", hasher=FAST) for n in range(6)]
    report = await experts.import_csv(tctx.engine, tctx.audit, committee_pool([a.username for a in accounts], size=6), AGENCY)
    assert report.rejected == [], report
    await draw_service.request_draw(tctx, AGENCY, tender.id, {"size": 5, "purchaser": PURCHASER})
    job = DrawJob(tctx, LocalBeaconSource(beacon))
    task = asyncio.create_task(job.run())
    try:
        await asyncio.wait_for(job.drawn(tender.id), timeout=30)
    finally:
        task.cancel()
        await job.stop()
    ectx = EvaluationContext(tctx, beacon=LocalBeaconSource(beacon))
    seated = {m.account_id for m in await experts.committee_of(tctx.engine, tender.id)}
    for a in accounts:
        if a.id in seated:
            await draw_service.accept(tctx, a.actor, tender.id)
    await sessions.start(ectx, AGENCY, tender.id, {})
    return ectx, tender.id, [a.actor for a in accounts if a.id in seated], [a.actor for a in accounts if a.id not in seated]


def tied(keys: Keys, account: str, bids: list[dict]) -> dict:
    data = keys.checkin(account, bids)
    data["avoidance"][0] = {**data["avoidance"][0], "conflict": True, "reason": "曾在该公司任职"}
    return data


async def test_a_withdrawn_seat_is_refilled_from_the_reserve(tctx: TenderContext, beacon: LocalBeacon) -> None:  # noqa: F811
    ectx, tid, members, reserve = await drawn_session(tctx, beacon)
    keys = Keys()
    bids = (await sessions.get_session(ectx, tid)).bids
    gone = members[0]
    with pytest.raises(ConflictError, match="未回避：只有回避成员的席位才能补抽"):  # nobody withdrew yet
        await refill.refill(ectx, AGENCY, tid, gone.account)
    await sessions.check_in(ectx, gone, tid, tied(keys, gone.account, bids))
    for m in members[1:]:
        session = await sessions.check_in(ectx, m, tid, keys.checkin(m.account, bids))
    assert session.state is SessionState.CHECKIN and [m.account for m in session.vacant()] == [gone.account]

    before = tctx.audit.size
    with pytest.raises(NotPermitted, match="属于另一家代理机构"):
        await refill.refill(ectx, OTHER_AGENCY, tid, gone.account)
    with pytest.raises(NotFoundError, match="不是.*评标委员会的成员"):
        await refill.refill(ectx, AGENCY, tid, "acc-nobody")
    with pytest.raises(ConflictError, match="未回避：只有回避成员的席位才能补抽"):
        await refill.refill(ectx, AGENCY, tid, members[1].account)
    with pytest.raises(InvalidStateError, match="评标已开始，评标委员会不能再变动"):  # the plain decline stays closed after the start
        await draw_service.decline(tctx, AGENCY, tid, session.member(members[1].account).expert_id, "x", "avoidance", "y")
    assert tctx.audit.size == before

    out = await refill.refill(ectx, AGENCY, tid, gone.account)
    assert out == {"seat": session.member(gone.account).seat, "replaced": 1}
    entries = await tctx.audit.entries(before, tctx.audit.size)
    assert [e.kind for e in entries] == ["experts.declined", "experts.replaced"]
    recusal = [e for e in await tctx.audit.entries_for_tender(tid, kinds=["evaluation.member_recused"])][-1]
    assert entries[0].payload["ground"] == "avoidance" and entries[0].payload["evidence"] == f"evaluation.member_recused #{recusal.index}"
    with pytest.raises(ConflictError, match="^已为.+的席位补抽专家"):
        await refill.refill(ectx, AGENCY, tid, gone.account)
    assert await refill.join_replacement(ectx, members[1], tid) is None  # not a replacement: nothing joins

    newcomer = reserve[0]
    await draw_service.accept(tctx, newcomer, tid)
    session = await refill.join_replacement(ectx, newcomer, tid)
    assert session is not None and session.vacant() == [] and session.state is SessionState.CHECKIN
    joined = session.member(newcomer.account)
    assert joined is not None and joined.fills == session.member(gone.account).seat and joined.kind == "expert"
    added = (await tctx.audit.entries(tctx.audit.size - 1, tctx.audit.size))[0]
    assert added.kind == "evaluation.member_added" and added.payload["replaces"] == gone.account
    assert await refill.join_replacement(ectx, newcomer, tid) is None  # idempotent
    with pytest.raises(ConflictError, match="的席位已补足"):
        await refill.refill(ectx, AGENCY, tid, gone.account)

    session = await sessions.check_in(ectx, newcomer, tid, keys.checkin(newcomer.account, bids))
    assert session.state is SessionState.ELECTION
    with pytest.raises(NotPermitted, match="^您已申请回避"):
        await sessions.vote(ectx, gone, tid, members[1].account)
    with pytest.raises(InvalidRequest, match="^所选的人不是评标委员会成员"):  # a withdrawn member cannot be elected
        await sessions.vote(ectx, members[1], tid, gone.account)
    for m in [*members[1:3], newcomer]:  # 3 of the 5 seated is a majority
        session = await sessions.vote(ectx, m, tid, members[1].account)
    assert session.state is SessionState.SCORING and session.leader == members[1].account
    with pytest.raises(InvalidStateError, match="「独立评分」"):
        await refill.refill(ectx, AGENCY, tid, gone.account)

    # The report lists the withdrawn member as 回避, with who filled its seat, not as absent.
    for m in [*members[1:], newcomer]:
        scores = {b["bid"]: {"c2": "40", "c3": "15"} for b in session.bids}
        await scoring.submit_sheets(ectx, m, tid, *sheets_doc(keys, tid, m.account, scores))
    session = await scoring.compute_tally(ectx, members[1], tid)
    assert session.report is not None
    rows = {r["account"]: r for r in session.report["members"]}
    assert rows[gone.account]["recused"]["replaced_by"] == {"seat": joined.seat, "name": joined.name}
    assert rows[gone.account]["recused"]["bidders"] == [bids[0]["bidder_name"]]
    assert rows[newcomer.account]["fills"] == session.member(gone.account).seat
    assert session_report.attendance(rows[gone.account]) == f"回避（由 {joined.name} 补抽替补）"
    assert "recused" not in rows[members[1].account] and session_report.attendance(rows[members[1].account]) == "是"


async def test_an_exhausted_reserve_is_refused_and_changes_nothing(tctx: TenderContext, beacon: LocalBeacon) -> None:  # noqa: F811
    ectx, tid, members, reserve = await drawn_session(tctx, beacon)
    keys = Keys()
    bids = (await sessions.get_session(ectx, tid)).bids
    for m in members[:2]:
        await sessions.check_in(ectx, m, tid, tied(keys, m.account, bids))
    await refill.refill(ectx, AGENCY, tid, members[0].account)
    before = tctx.audit.size
    with pytest.raises(refill.ReserveExhausted) as refused:
        await refill.refill(ectx, AGENCY, tid, members[1].account)
    line = refused.value.message
    assert line.startswith("备选专家已用尽，无法补足") and "重新申请抽取专家" in line and "第四十八条" in line
    assert "\n" not in line and refused.value.status == 409
    assert tctx.audit.size == before
    status = await draw_service.draw_status(tctx, AGENCY, tid)
    assert status["state"] == "drawn"


async def test_a_seat_is_left_unfilled_only_while_the_committee_stays_lawful(tctx: TenderContext, beacon: LocalBeacon) -> None:  # noqa: F811
    """不再补足 (87号令 arts. 47–48): of 7 members, one withdrawn leaves 6 — an even committee, so the
    seat must be refilled; a second withdrawn leaves 5, lawful: both seats are left unfilled and the
    election opens once the last is released. Refusals write nothing."""
    tender = await confirmed_tender(tctx, beacon)
    committee = TestCommittee()
    ectx = EvaluationContext(tctx, committee, LocalBeaconSource(beacon))
    members = committee.seat(tender.id, count=7)
    tid = (await sessions.start(ectx, AGENCY, tender.id, {})).id
    keys = Keys()
    bids = (await sessions.get_session(ectx, tid)).bids
    await sessions.check_in(ectx, members[0], tid, tied(keys, members[0].account, bids))
    for m in members[2:]:
        await sessions.check_in(ectx, m, tid, keys.checkin(m.account, bids))
    before = tctx.audit.size
    with pytest.raises(ConflictError, match="单数|odd"):  # 6 left
        await refill.release(ectx, AGENCY, tid, members[0].account, "备选专家已用尽")
    with pytest.raises(InvalidRequest, match="理由"):
        await refill.release(ectx, AGENCY, tid, members[0].account, " ")
    with pytest.raises(NotPermitted):
        await refill.release(ectx, OTHER_AGENCY, tid, members[0].account, "x")
    with pytest.raises(ConflictError, match="未回避"):
        await refill.release(ectx, AGENCY, tid, members[2].account, "x")
    assert tctx.audit.size == before

    await sessions.check_in(ectx, members[1], tid, tied(keys, members[1].account, bids))
    session = await refill.release(ectx, AGENCY, tid, members[0].account, "备选专家已用尽，现有成员符合组成要求")
    assert session.state is SessionState.CHECKIN and [m.account for m in session.vacant()] == [members[1].account]
    with pytest.raises(ConflictError, match="已补足或已确认不再补足"):
        await refill.release(ectx, AGENCY, tid, members[0].account, "again")
    session = await refill.release(ectx, AGENCY, tid, members[1].account, "同上")
    assert session.state is SessionState.ELECTION and len(session.seated) == 5 and session.vacant() == []
    released = await tctx.audit.entries_for_tender(tender.id, kinds=["evaluation.seat_released"])
    assert [(e.payload["seat"], e.payload["seated"]) for e in released] == [(1, 5), (2, 5)]
    state = replay(await tctx.audit.entries_for_tender(tender.id))
    assert state["problems"] == [] and state["evaluation"]["members"][members[0].account]["released"] is True
