"""The evaluation rules through the session, as a committee would meet them (both databases): the
SME price deduction from the sealed record to the report, the committee's decision that a bid is
invalid, and 废标 when too few valid bids remain — each logged and replayed from the log alone."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.audit.entry import Actor
from evaluation.audit.events import replay
from evaluation.errors import ConflictError, InvalidRequest
from evaluation.session import session as sessions
from evaluation.session import sheets as scoring
from evaluation.session import bid_queries, validity
from evaluation.session import view as session_view
from evaluation.session.events import first_difference, recompute_tally
from evaluation.session.rules import SessionState, avoidance_answers
from evaluation.session.session import EvaluationContext
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.session_fixtures import CRITERIA, Keys, TestCommittee, sheets_doc
from tests.evaluation.tender_fixtures import AGENCY, BIDDERS, beacon, chunks, meta, sealed, spec, tctx  # noqa: F401

LETTER = ("中小企业声明函.pdf", "声明函 本企业为小型企业".encode())
OFFERS = [  # A 100,000; B 108,000 declaring 小微企业 with its 声明函; C 120,000
    ({"total_price": "100000.00", "delivery_days": 30}, [("技术标.txt", b"A")]),
    ({"total_price": "108000.00", "delivery_days": 30, "sme": "小微企业"}, [("技术标.txt", b"B"), LETTER]),
    ({"total_price": "120000.00", "delivery_days": 30, "sme": "小微企业"}, [("技术标.txt", b"C")]),  # no 声明函
]


@pytest.fixture
async def ectx(tctx: TenderContext, beacon: LocalBeacon) -> AsyncIterator[EvaluationContext]:  # noqa: F811
    # A stand-in committee (as in test_session_flow.py): the rules, not the draw, are under test here.
    yield EvaluationContext(tctx, TestCommittee(), LocalBeaconSource(beacon))


async def confirmed_record(ectx: EvaluationContext, beacon: LocalBeacon, offers: list[Any] = OFFERS,  # noqa: F811
                           **over: Any) -> tuple[Any, list[Actor]]:
    """A tender with a 10 % SME deduction whose `offers` were sealed, opened and recorded (final),
    and the three experts seated for it."""
    tctx = ectx.tenders
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(2, criteria=CRITERIA, objection_window_s=0, sme_deduction="10", **over))
    t = await tenders.publish(tctx, AGENCY, t.id)
    assert t.opening_round is not None
    for i, (record, docs) in enumerate(offers):
        await bids.submit(tctx, BIDDERS[i], t.id, chunks(sealed(beacon.chain, t.opening_round, record, docs)), meta(i))
    await opening.run(tctx, t.id, await LocalBeaconSource(beacon).wait_for(t.opening_round))
    await opening_record.finalize(dataclasses.replace(tctx, clock=lambda: time.time() + 5), t.id)
    assert isinstance(ectx.committee, TestCommittee)
    return t, ectx.committee.seat(t.id, 3)


async def sme_tender(ectx: EvaluationContext, beacon: LocalBeacon, offers: list[Any] = OFFERS,  # noqa: F811
                    **over: Any) -> tuple[str, list[Actor], dict[str, str]]:
    t, experts = await confirmed_record(ectx, beacon, offers, **over)
    session = await sessions.start(ectx, AGENCY, t.id, {})
    by_price = {b["price_fen"]: b["bid"] for b in session.bids}
    names = {"A": by_price[100_000_00], "B": by_price[108_000_00], "C": by_price[120_000_00]}
    keys = Keys()
    for e in experts:
        await sessions.check_in(ectx, e, t.id, keys.checkin(e.account, session.bids))
    for e in experts[:2]:
        await sessions.vote(ectx, e, t.id, experts[0].account)
    ectx.keys = keys  # type: ignore[attr-defined]
    return t.id, experts, names


async def test_sme_deduction_from_the_sealed_record_to_the_report(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id, experts, names = await sme_tender(ectx, beacon)
    keys: Keys = ectx.keys  # type: ignore[attr-defined]
    view = await session_view.view(ectx, experts[0], tender_id)
    shown = {b["bid"]: (b["price"], b["deduction_percent"], b["evaluated_price"]) for b in view["bids"]}
    assert shown[names["B"]] == ("108000.00", "10", "97200.00")
    assert shown[names["C"]] == ("120000.00", "0", "120000.00")  # declared, but no 声明函: no deduction
    for e in experts:
        same = {b: {"c2": "40", "c3": "15"} for b in names.values()}
        await scoring.submit_sheets(ectx, e, tender_id, *sheets_doc(keys, tender_id, e.account, same))
    session = await scoring.compute_tally(ectx, experts[0], tender_id)
    assert session.report is not None and session.tally is not None
    ranking = [(r["bidder_name"], r["rank"], r["price"], r["evaluated_price"], r["price_score_display"])
               for r in session.report["ranking"]]
    assert ranking == [("供应商 1", 1, "108000.00", "97200.00", "30.00"), ("供应商 0", 2, "100000.00", "100000.00", "29.16"),
                       ("供应商 2", 3, "120000.00", "120000.00", "24.30")]
    state = replay(await ectx.tenders.audit.entries_for_tender(tender_id))
    assert state["problems"] == []
    assert first_difference(recompute_tally(state["evaluation"]).to_json(), session.tally["tally"]) is None


async def test_invalid_bid_leaves_too_few_and_the_tender_fails(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender_id, experts, names = await sme_tender(ectx, beacon)
    leader = experts[0]
    decision = {"bid": names["C"], "ground": "conformity", "reason": "未按要求提供授权书 no letter of authority"}
    with pytest.raises(NotPermitted, match="^只有评标组长可以记录评标委员会的决定"):
        await validity.declare_invalid(ectx, experts[1], tender_id, decision)
    with pytest.raises(InvalidRequest, match="^该投标的报价未被提示为异常低价"):
        await validity.declare_invalid(ectx, leader, tender_id, {**decision, "ground": "abnormally_low"})
    with pytest.raises(InvalidRequest, match="^请填写评标委员会的理由"):
        await validity.declare_invalid(ectx, leader, tender_id, {**decision, "reason": " "})
    before = ectx.tenders.audit.size
    session = await validity.declare_invalid(ectx, leader, tender_id, decision)
    assert session.state.value == "failed"
    tender = await tenders.get(ectx.tenders, tender_id)
    assert tender.state is TenderState.FAILED and tender.failed_reason is not None
    assert "废标" in tender.failed_reason and "投标只有 2 家，少于 3 家" in tender.failed_reason
    entries = await ectx.tenders.audit.entries_for_tender(tender_id)
    assert [e.kind for e in entries[before:]] == ["evaluation.bid_invalid", "evaluation.failed", "evaluation.state"]
    state = replay(entries)
    assert state["problems"] == [] and state["phase"] == "failed" and state["evaluation"]["state"] == "failed"
    assert state["failed_reason"] == tender.failed_reason
    with pytest.raises(ConflictError):  # never a ranking
        await scoring.compute_tally(ectx, leader, tender_id)
    view = await session_view.view(ectx, leader, tender_id)
    assert view["failed_reason"] == tender.failed_reason and view["tally"] is None


async def test_abnormally_low_bid_found_invalid_is_left_out_of_the_tally(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    low = ({"total_price": "60000.00", "delivery_days": 30}, [("技术标.txt", b"D")])  # < 80 % of the others' mean
    tender_id, experts, names = await sme_tender(ectx, beacon, offers=[*OFFERS, low])
    keys: Keys = ectx.keys  # type: ignore[attr-defined]
    leader = experts[0]
    d = next(b["bid"] for b in (await sessions.get_session(ectx, tender_id)).bids if b["bid"] not in names.values())
    assert d in (await session_view.view(ectx, leader, tender_id))["abnormally_low"]
    with pytest.raises(InvalidRequest, match="^异常低价须先要求投标人说明"):
        await validity.declare_invalid(ectx, leader, tender_id, {"bid": d, "ground": "abnormally_low", "reason": "低"})
    with pytest.raises(InvalidRequest, match="的报价未被提示为异常低价$"):
        await bid_queries.query_low_price(ectx, leader, tender_id, {"bid": names["A"], "minutes": 30})
    await bid_queries.query_low_price(ectx, leader, tender_id, {"bid": d, "minutes": 30})
    bidder_d = Actor(next(b["bidder"] for b in (await sessions.get_session(ectx, tender_id)).bids if b["bid"] == d), "bidder")
    assert bid_queries.bidder_view(await sessions.get_session(ectx, tender_id), bidder_d)["bids"][0]["low_price"]["status"] == "open"
    with pytest.raises(ConflictError, match="尚未提交说明，无可接受$"):
        await bid_queries.decide_low_price(ectx, leader, tender_id, {"bid": d, "accepted": True, "reason": "ok"})
    with pytest.raises(ConflictError, match="的说明期限未到，尚不能认定$"):  # no justification yet, but the time runs
        await bid_queries.decide_low_price(ectx, leader, tender_id, {"bid": d, "accepted": False, "reason": "无说明"})
    with pytest.raises(NotPermitted, match="^只有.+本人可以答复$"):
        await bid_queries.justify_low_price(ectx, Actor(BIDDERS[0].account, "bidder"), tender_id, {"bid": d, "text": "x"})
    await bid_queries.justify_low_price(ectx, bidder_d, tender_id, {"bid": d, "text": "库存设备，成本已摊销 old stock",
                                                                    "document_sha256": "ab" * 32})
    session = await bid_queries.decide_low_price(ectx, leader, tender_id, {"bid": d, "accepted": False,
                                                                           "reason": "说明不能证明其报价合理性 not convincing"})
    assert session.state.value == "scoring"
    with pytest.raises(ConflictError, match="的投标已被认定无效$"):
        await bid_queries.decide_low_price(ectx, leader, tender_id, {"bid": d, "accepted": False, "reason": "again"})
    every = {b: {"c2": "40", "c3": "15"} for b in [*names.values(), d]}
    with pytest.raises(InvalidRequest, match="^请为每一份有效投标各提交一张评分表"):
        await scoring.submit_sheets(ectx, experts[1], tender_id, *sheets_doc(keys, tender_id, experts[1].account, every))
    for e in experts:
        same = {b: {"c2": "40", "c3": "15"} for b in names.values()}
        await scoring.submit_sheets(ectx, e, tender_id, *sheets_doc(keys, tender_id, e.account, same))
    session = await scoring.compute_tally(ectx, leader, tender_id)
    assert session.tally is not None and session.report is not None
    session_bids = (await sessions.get_session(ectx, tender_id)).bids
    rows = [(b["bid"], b["rank"], b["invalid"] is not None) for b in session.tally["tally"]["bids"]]
    assert rows == [(names["B"], 1, False), (names["A"], 2, False), (names["C"], 3, False), (d, None, True)]
    assert session.report["ranking"][0]["price_score_display"] == "30.00"  # the base is B's, not D's 60,000
    assert next(b for b in session_bids if b["bid"] == d)["low_price"]["justification"]["document_sha256"] == "ab" * 32
    assert "报价明显低于其他报价" in session.report["ranking"][-1]["invalid"]
    state = replay(await ectx.tenders.audit.entries_for_tender(tender_id))
    assert state["problems"] == []
    assert first_difference(recompute_tally(state["evaluation"]).to_json(), session.tally["tally"]) is None


async def test_arithmetic_correction_confirmed_changes_the_price_refused_invalidates(ectx: EvaluationContext,  # noqa: F811
                                                                                   beacon: LocalBeacon) -> None:  # noqa: F811
    fourth = ({"total_price": "130000.00", "delivery_days": 30}, [("技术标.txt", b"D")])
    tender_id, experts, names = await sme_tender(ectx, beacon, offers=[*OFFERS, fourth])
    keys: Keys = ectx.keys  # type: ignore[attr-defined]
    leader = experts[0]
    session = await sessions.get_session(ectx, tender_id)
    bidder = {b["bid"]: Actor(b["bidder"], "bidder") for b in session.bids}
    d = next(b for b in bidder if b not in names.values())
    # B wrote 壹拾万零伍仟元整 in words but 108,000.00 in figures: words prevail (art. 59 (2))
    fix = {"bid": names["B"], "rule": "words", "words": "壹拾万零伍仟元整", "explanation": "大写金额与小写金额不一致"}
    with pytest.raises(NotPermitted, match="^只有评标组长可以记录评标委员会的决定"):
        await bid_queries.correct_price(ectx, experts[1], tender_id, fix)
    with pytest.raises(InvalidRequest, match="^不是有效的大写金额：'十万'"):
        await bid_queries.correct_price(ectx, leader, tender_id, {**fix, "words": "十万"})
    await bid_queries.correct_price(ectx, leader, tender_id, fix)
    for e in experts:  # everyone scores all four bids; the review opens
        every = {x: {"c2": "40", "c3": "15"} for x in bidder}
        await scoring.submit_sheets(ectx, e, tender_id, *sheets_doc(keys, tender_id, e.account, every))
    with pytest.raises(ConflictError, match="^暂不能汇总：.*尚未答复算术修正"):
        await scoring.compute_tally(ectx, leader, tender_id)  # the tally waits for the bidder
    with pytest.raises(NotPermitted, match="^只有.+本人可以答复$"):
        await bid_queries.answer_correction(ectx, bidder[names["A"]], tender_id, {"bid": names["B"], "confirm": True})
    session = await bid_queries.answer_correction(ectx, bidder[names["B"]], tender_id, {"bid": names["B"], "confirm": True})
    b = next(x for x in session.bids if x["bid"] == names["B"])
    assert (b["price_fen"], b["evaluated_fen"], b["correction"]["original_fen"]) == (105_000_00, "9450000", 108_000_00)
    # D's unit prices sum to 125,000.00, not its 130,000.00 (art. 59 (4)); D refuses: its bid is invalid
    items = [{"unit_price": "5000.00", "quantity": 20}, {"unit_price": "25000.00", "quantity": 1}]
    await bid_queries.correct_price(ectx, leader, tender_id, {"bid": d, "rule": "unit_sum", "items": items,
                                                              "explanation": "总价与单价汇总不一致"})
    session = await bid_queries.answer_correction(ectx, bidder[d], tender_id, {"bid": d, "confirm": False})
    assert "投标人不确认算术修正" in next(x for x in session.bids if x["bid"] == d)["invalid"]
    session = await scoring.compute_tally(ectx, leader, tender_id)
    assert session.tally is not None
    first = session.tally["tally"]["bids"][0]
    assert (first["bid"], first["price_fen"], first["evaluated_fen"]) == (names["B"], 105_000_00, "9450000")
    state = replay(await ectx.tenders.audit.entries_for_tender(tender_id))
    assert state["problems"] == []
    assert first_difference(recompute_tally(state["evaluation"]).to_json(), session.tally["tally"]) is None
    assert state["evaluation"]["bids"] == (await sessions.get_session(ectx, tender_id)).bids


async def test_no_justification_in_time_makes_the_low_bid_invalid(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    low = ({"total_price": "60000.00", "delivery_days": 30}, [("技术标.txt", b"D")])
    tender_id, experts, names = await sme_tender(ectx, beacon, offers=[*OFFERS, low])
    d = next(b for b in (await sessions.get_session(ectx, tender_id)).bids if b["bid"] not in names.values())
    await bid_queries.query_low_price(ectx, experts[0], tender_id, {"bid": d["bid"], "minutes": 10})
    late = dataclasses.replace(ectx, tenders=dataclasses.replace(ectx.tenders, clock=lambda: time.time() + 3600))
    with pytest.raises(ConflictError, match="说明期限已过"):
        await bid_queries.justify_low_price(late, Actor(d["bidder"], "bidder"), tender_id, {"bid": d["bid"], "text": "迟到"})
    session = await bid_queries.decide_low_price(late, experts[0], tender_id,
                                                 {"bid": d["bid"], "accepted": False, "reason": "未在规定时间内提交书面说明"})
    assert "未在规定时间内提交书面说明" in next(b for b in session.bids if b["bid"] == d["bid"])["invalid"]
    kinds = [e.kind for e in await ectx.tenders.audit.entries_for_tender(tender_id)][-3:]
    assert kinds == ["evaluation.low_price_query", "evaluation.low_price_decision", "evaluation.bid_invalid"]


BIDS = [{"bidder": "acct_a", "bidder_name": "甲公司"}, {"bidder": "acct_b", "bidder_name": "乙公司"},
        {"bidder": "acct_a", "bidder_name": "甲公司"}]


def test_avoidance_is_answered_once_per_bidder_with_a_reason_for_a_tie() -> None:
    answers = avoidance_answers(BIDS, [{"bidder": "acct_b", "conflict": True, "reason": " 近三年\n曾任职 "},
                                       {"bidder": "acct_a", "conflict": False, "reason": "ignored"}])
    assert answers == [{"bidder": "acct_a", "bidder_name": "甲公司", "conflict": False, "reason": ""},
                       {"bidder": "acct_b", "bidder_name": "乙公司", "conflict": True, "reason": "近三年 曾任职"}]


@pytest.mark.parametrize(("answers", "error"), [
    (None, "^请对每一家投标人回答一次回避问题"),
    ({"acct_a": False}, "^请对每一家投标人回答一次回避问题"),
    ([{"bidder": "acct_a", "conflict": False}], "^请也就乙公司回答回避问题"),
    ([{"bidder": "acct_a", "conflict": False}, {"bidder": "acct_a", "conflict": False}], "^对甲公司的回避问题回答了两次"),
    ([{"bidder": "acct_x", "conflict": False}, {"bidder": "acct_b", "conflict": False}], "^回避声明中有一项不是本次评标的投标人"),
    ([{"bidder": ["acct_a"], "conflict": False}], "^回避声明中有一项不是本次评标的投标人"),
    ([{"bidder": "acct_a", "conflict": "no"}, {"bidder": "acct_b", "conflict": False}], "^请就甲公司回答“是”或“否”"),
    ([{"bidder": "acct_a", "conflict": 0}, {"bidder": "acct_b", "conflict": False}], "^请就甲公司回答“是”或“否”"),
    ([{"bidder": "acct_a", "conflict": True, "reason": "  "}, {"bidder": "acct_b", "conflict": False}], "^请说明您与甲公司存在何种关系"),
    ([{"bidder": "acct_a", "conflict": True, "reason": "x" * 501}, {"bidder": "acct_b", "conflict": False}], "^与甲公司的关系说明不超过 500 字"),
    ([{"bidder": "acct_a", "conflict": True, "reason": 1e999}, {"bidder": "acct_b", "conflict": False}], "^与甲公司的关系说明不超过 500 字"),
    ([{"bidder": "acct_a", "conflict": False}] * 3, "^请对每一家投标人回答一次回避问题"),
])
def test_avoidance_answers_refuse_what_is_not_one_clear_answer_per_bidder(answers: Any, error: str) -> None:
    with pytest.raises(InvalidRequest, match=error):
        avoidance_answers(BIDS, answers)


async def test_a_member_declaring_a_tie_withdraws_instead_of_checking_in(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tctx = ectx.tenders
    t, experts = await confirmed_record(ectx, beacon)
    session = await sessions.start(ectx, AGENCY, t.id, {})
    keys = Keys()
    tied = keys.checkin(experts[0].account, session.bids)
    tied["avoidance"][1] = {**tied["avoidance"][1], "conflict": True, "reason": "配偶在该公司任职"}
    before = tctx.audit.size
    with pytest.raises(InvalidRequest, match="^请也就.*回答回避问题"):  # an answer missing: nothing recorded
        await sessions.check_in(ectx, experts[0], t.id, {**tied, "avoidance": tied["avoidance"][:1]})
    assert tctx.audit.size == before
    session = await sessions.check_in(ectx, experts[0], t.id, tied)
    me = session.member(experts[0].account)
    assert me is not None and me.recused_us is not None and me.checked_in_us is None and me.public_key is None
    assert [r["bidder_name"] for r in me.recusal] == [session.bids[1]["bidder_name"]]
    entry = (await tctx.audit.entries(before, tctx.audit.size))[-1]
    assert entry.kind == "evaluation.member_recused" and entry.payload["avoidance"][1]["reason"] == "配偶在该公司任职"
    with pytest.raises(ConflictError, match="^您已申请回避"):
        await sessions.check_in(ectx, experts[0], t.id, keys.checkin(experts[0].account, session.bids))
    for e in experts[1:]:
        session = await sessions.check_in(ectx, e, t.id, keys.checkin(e.account, session.bids))
    assert session.state is SessionState.CHECKIN  # the withdrawn seat keeps the session at check-in
