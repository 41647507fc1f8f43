"""The evaluation session on both databases: the whole lifecycle with its transition list,
independence of sheets, refused signatures and changes, the leader vote, and the tally replayed
from the log alone equal to the stored one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.accounts.account import Role, create_account
from evaluation.audit.entry import Actor
from evaluation.audit.events import replay
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError
from evaluation.session import session as sessions
from evaluation.session import sheets as scoring
from evaluation.session.events import first_difference, recompute_tally
from evaluation.session.session import EvaluationContext
from evaluation.session.signatures import BadSignature
from evaluation.session.tally import ChangeRefused
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.session_fixtures import Keys, TestCommittee, confirmed_tender, sheets_doc
from tests.evaluation.tender_fixtures import AGENCY, beacon, tctx  # noqa: F401  (fixtures)

# expert i's scores: technical c2 (0..50), business c3 (0..20); expert 4 is far off on bid 0's c2
SCORES = [{"c2": "40", "c3": "15"}, {"c2": "42", "c3": "16"}, {"c2": "38", "c3": "14"},
          {"c2": "41", "c3": "15"}, {"c2": "10", "c3": "15"}]


@pytest.fixture
async def ectx(tctx: TenderContext, beacon: LocalBeacon) -> AsyncIterator[EvaluationContext]:  # noqa: F811
    # A stand-in committee source: these are pure domain tests of the session rules, on both
    # databases, needing a committee of a chosen shape at once; the draw is not what they test
    # (the real draw → session chain runs in tests/web/test_evaluation_api.py and the e2e flow).
    yield EvaluationContext(tctx, TestCommittee(), LocalBeaconSource(beacon))


async def started(ectx: EvaluationContext, beacon: LocalBeacon, **config: Any) -> tuple[str, list[Actor]]:  # noqa: F811
    tender = await confirmed_tender(ectx.tenders, beacon)
    assert isinstance(ectx.committee, TestCommittee)
    experts = ectx.committee.seat(tender.id)
    await sessions.start(ectx, AGENCY, tender.id, {"config": config} if config else {})
    return tender.id, experts


async def through_election(ectx: EvaluationContext, tender_id: str, experts: list[Actor], keys: Keys) -> None:
    bids = (await sessions.get_session(ectx, tender_id)).bids
    for e in experts:
        await sessions.check_in(ectx, e, tender_id, keys.checkin(e.account, bids))
    for e in experts[:3]:  # 3 of 5 is a majority
        await sessions.vote(ectx, e, tender_id, experts[0].account)


async def submit_all(ectx: EvaluationContext, tender_id: str, experts: list[Actor], keys: Keys) -> None:
    bids = [b["bid"] for b in (await sessions.get_session(ectx, tender_id)).bids]
    for i, e in enumerate(experts):
        per_bid = {b: (SCORES[i] if b == bids[0] else {"c2": "40", "c3": "15"}) for b in bids}
        await scoring.submit_sheets(ectx, e, tender_id, *sheets_doc(keys, tender_id, e.account, per_bid))


async def test_whole_session_and_replay(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id, experts = await started(ectx, beacon)
    keys = Keys()
    await through_election(ectx, tender_id, experts, keys)
    session = await sessions.get_session(ectx, tender_id)
    assert session.leader == experts[0].account and session.state.value == "scoring"
    await submit_all(ectx, tender_id, experts, keys)
    session = await sessions.get_session(ectx, tender_id)
    assert session.state.value == "review"
    bid0 = session.bids[0]["bid"]
    change = {"expert": experts[4].account, "bid": bid0, "criterion": "c2", "new": "39",
              "reason": "abnormal_high_low", "explanation": "重新核对技术方案后修正 re-read the proposal"}
    await scoring.change_score(ectx, experts[4], tender_id, *keys.document("pingbiao-change/1", tender_id, experts[4].account, change=change))
    session = await scoring.compute_tally(ectx, experts[0], tender_id)
    assert session.state.value == "signing" and session.report_sha256
    for e in experts:
        text, sig = keys.document("pingbiao-report/1", tender_id, e.account, sha256=session.report_sha256)
        session = await scoring.sign_report(ectx, e, tender_id, text, sig)
    assert session.state.value == "done"

    entries = await ectx.tenders.audit.entries_for_tender(tender_id)
    moves = [(e.payload["old"], e.payload["new"]) for e in entries if e.kind == "evaluation.state"]
    assert moves == [("checkin", "election"), ("election", "scoring"), ("scoring", "review"),
                     ("review", "tally"), ("tally", "signing"), ("signing", "done")]
    state = replay(entries)
    assert state["problems"] == [] and state["phase"] == "evaluating"
    recomputed = recompute_tally(state["evaluation"]).to_json()
    assert first_difference(recomputed, session.tally["tally"] if session.tally else None) is None
    assert first_difference(recomputed, state["evaluation"]["tally"]["tally"]) is None
    totals = [Fraction(b["total"]) for b in recomputed["bids"]]
    assert totals == sorted(totals, reverse=True) and recomputed["bids"][0]["rank"] == 1
    assert state["evaluation"]["report_final"] == session.report_sha256


async def test_independence_and_refusals(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id, experts = await started(ectx, beacon)
    keys = Keys()
    await through_election(ectx, tender_id, experts, keys)
    bids = [b["bid"] for b in (await sessions.get_session(ectx, tender_id)).bids]
    good = {b: {"c2": "40", "c3": "15"} for b in bids}
    text, _ = sheets_doc(keys, tender_id, experts[0].account, good)
    before = ectx.tenders.audit.size
    with pytest.raises(BadSignature):
        await scoring.submit_sheets(ectx, experts[0], tender_id, text, Keys().sign(experts[0].account, text.encode()))
    assert ectx.tenders.audit.size == before
    with pytest.raises(NotFoundError):
        await scoring.sheets_of(ectx, experts[0], tender_id, experts[0].account)  # nothing stored
    await scoring.submit_sheets(ectx, experts[0], tender_id, *sheets_doc(keys, tender_id, experts[0].account, good))
    assert (await scoring.sheets_of(ectx, experts[0], tender_id, experts[0].account))["sheets"]
    with pytest.raises(NotFoundError):
        await scoring.sheets_of(ectx, experts[1], tender_id, experts[0].account)
    with pytest.raises(NotFoundError):
        await scoring.sheets_of(ectx, AGENCY, tender_id, experts[0].account)
    with pytest.raises(NotPermitted):
        await scoring.sheets_of(ectx, Actor("acc-other", "expert"), tender_id, experts[0].account)
    assert await scoring.sheets_of(ectx, Actor("sup", "supervisor"), tender_id, experts[0].account)
    with pytest.raises(ConflictError, match="^您已提交评分表"):
        await scoring.submit_sheets(ectx, experts[0], tender_id, *sheets_doc(keys, tender_id, experts[0].account, good))
    with pytest.raises(InvalidRequest, match="^签署的文件不是规范格式"):
        await scoring.submit_sheets(ectx, experts[1], tender_id, text.replace(",", ", ", 1), "AAAA")
    for i, e in enumerate(experts[1:], start=1):
        per_bid = {b: (SCORES[i] if b == bids[0] else {"c2": "40", "c3": "15"}) for b in bids}
        await scoring.submit_sheets(ectx, e, tender_id, *sheets_doc(keys, tender_id, e.account, per_bid))
    assert (await scoring.sheets_of(ectx, experts[1], tender_id, experts[0].account))["sheets"]
    # a change without an allowed reason, or for a reason that does not hold, is refused
    base = {"expert": experts[4].account, "bid": bids[0], "criterion": "c2", "new": "39", "explanation": "x"}
    size = ectx.tenders.audit.size
    for reason in ("because", "sum_error", "out_of_scale"):
        doc = keys.document("pingbiao-change/1", tender_id, experts[4].account, change={**base, "reason": reason})
        with pytest.raises(ChangeRefused):
            await scoring.change_score(ectx, experts[4], tender_id, *doc)
    doc = keys.document("pingbiao-change/1", tender_id, experts[4].account,
                        change={**base, "reason": "abnormal_high_low", "explanation": " "})
    with pytest.raises(ChangeRefused, match="^修改评分须说明理由"):
        await scoring.change_score(ectx, experts[4], tender_id, *doc)
    other = keys.document("pingbiao-change/1", tender_id, experts[3].account,
                          change={**base, "reason": "abnormal_high_low"})
    with pytest.raises(NotPermitted):
        await scoring.change_score(ectx, experts[3], tender_id, *other)
    assert ectx.tenders.audit.size == size
    with pytest.raises(NotPermitted, match="^只有评标组长可以结束复核并汇总"):
        await scoring.compute_tally(ectx, experts[1], tender_id)


async def test_leader_vote_rules(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id, experts = await started(ectx, beacon)
    rep = await create_account(ectx.tenders.audit, username="rep", password="correct horse battery",
                               display_name="采购人代表", role=Role.agency, organization="采购人")
    with pytest.raises(NotPermitted):
        await sessions.add_purchaser_rep(ectx, Actor("acc-agency-2", "agency"), tender_id, rep.id)
    await sessions.add_purchaser_rep(ectx, AGENCY, tender_id, rep.id)
    other = await create_account(ectx.tenders.audit, username="rep2", password="correct horse battery",
                                 display_name="另一代表", role=Role.agency, organization="采购人")
    await sessions.add_purchaser_rep(ectx, AGENCY, tender_id, other.id)  # 5 experts of 7 members
    third = await create_account(ectx.tenders.audit, username="rep3", password="correct horse battery",
                                 display_name="第三代表", role=Role.agency, organization="采购人")
    with pytest.raises(ConflictError, match="^评审专家须占成员总数的三分之二以上"):  # 5 experts of 8 < ceil(16 / 3) = 6
        await sessions.add_purchaser_rep(ectx, AGENCY, tender_id, third.id)
    keys = Keys()
    rep_actor = Actor(rep.id, "agency")
    members = [*experts, rep_actor, Actor(other.id, "agency")]
    with pytest.raises(ConflictError, match="的评标当前为「签到中」，不能推选评标组长"):
        await sessions.vote(ectx, experts[0], tender_id, experts[0].account)
    bids = (await sessions.get_session(ectx, tender_id)).bids
    for m in members:
        await sessions.check_in(ectx, m, tender_id, keys.checkin(m.account, bids))
    with pytest.raises(InvalidRequest, match="^采购人代表不能担任评标组长"):
        await sessions.vote(ectx, experts[0], tender_id, rep.id)
    # round 1: 3 / 3 / 1 of 7: nobody has a majority -> revote
    for m, c in zip(members, [0, 0, 0, 1, 1, 1, 2], strict=True):
        await sessions.vote(ectx, m, tender_id, experts[c].account)
    session = await sessions.get_session(ectx, tender_id)
    assert session.vote_round == 2 and session.leader is None and session.state.value == "election"
    await sessions.vote(ectx, members[0], tender_id, experts[1].account)
    with pytest.raises(ConflictError, match="^您已在第 2 轮投票"):
        await sessions.vote(ectx, members[0], tender_id, experts[1].account)
    for m in members[1:4]:  # 4 of 7 is a majority: elected before the others vote
        session = await sessions.vote(ectx, m, tender_id, experts[1].account)
    assert session.leader == experts[1].account and session.state.value == "scoring"
    kinds = [e.kind for e in await ectx.tenders.audit.entries_for_tender(tender_id)]
    assert kinds.count("evaluation.revote") == 1 and kinds.count("evaluation.leader_elected") == 1
    assert kinds.count("evaluation.member_added") == 2
