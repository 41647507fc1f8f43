"""The tally: means, totals and ranking with tie rules, 评定分离, deviations and allowed changes,
and properties: invariance to the order of sheets and bids."""

from __future__ import annotations

import hashlib
import random
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.session.scoring import (
    Criteria,
    Criterion,
    Kind,
    Method,
    ScoringError,
    Sheet,
    display,
    rounded,
)
from evaluation.session.tally import (
    Bid,
    ChangeReason,
    ChangeRefused,
    ScoreChange,
    TieRule,
    apply_change,
    deviations,
    median,
    recommend,
    tally,
    unresolved,
)

CRITERIA = Criteria(
    (
        Criterion("P", Kind.PRICE, F(30)),
        Criterion("T1", Kind.TECHNICAL, F(40)),
        Criterion("T2", Kind.TECHNICAL, F(10), allowed=(F(0), F(5), F(10))),
        Criterion("B1", Kind.BUSINESS, F(20)),
    )
)


def sheet(expert: str, bid: str, t1: int, t2: int, b1: int, total: int | None = None) -> Sheet:
    return Sheet(expert, bid, {"T1": F(t1), "T2": F(t2), "B1": F(b1)}, None if total is None else F(total))


BIDS = [Bid("a", 100_000_00), Bid("b", 80_000_00), Bid("c", 120_000_00)]
SHEETS = [
    sheet("e1", "a", 36, 10, 18),
    sheet("e2", "a", 34, 10, 17),
    sheet("e3", "a", 35, 10, 16),
    sheet("e1", "b", 30, 5, 15),
    sheet("e2", "b", 28, 5, 15),
    sheet("e3", "b", 26, 5, 14),
    sheet("e1", "c", 38, 10, 19),
    sheet("e2", "c", 39, 10, 19),
    sheet("e3", "c", 37, 10, 20),
]


def test_comprehensive_tally() -> None:
    result = tally(CRITERIA, Method.COMPREHENSIVE, BIDS, SHEETS)
    rows = [(b.bid, b.rank, display(b.price_score), display(b.total)) for b in result.bids]
    # a: 35 + 10 + 17 + 24 = 86; b: 28 + 5 + 44/3 + 30 = 77.67; c: 38 + 10 + 58/3 + 20 = 87.33
    assert rows == [("c", 1, "20.00", "87.33"), ("a", 2, "24.00", "86.00"), ("b", 3, "30.00", "77.67")]
    assert result.bids[0].means == {"T1": F(38), "T2": F(10), "B1": F(58, 3)}
    assert result.to_json()["bids"][0]["total"] == "262/3"


def test_lowest_price_method() -> None:
    result = tally(CRITERIA, Method.LOWEST_PRICE, [Bid("x", 5), Bid("y", 3), Bid("z", 3)], [])
    assert [(b.bid, b.rank) for b in result.bids] == [("y", 1), ("z", 1), ("x", 3)]  # 并列


def _equal_bids() -> tuple[list[Bid], list[Sheet]]:
    bids = [Bid("a", 100), Bid("b", 100), Bid("c", 100)]
    sheets = [sheet("e1", "a", 30, 5, 15), sheet("e1", "b", 25, 10, 15), sheet("e1", "c", 20, 10, 20)]
    return bids, sheets  # all total 80, same price; technical 35, 35, 30


def test_ties_by_score_then_price() -> None:
    bids = [Bid("a", 100), Bid("b", 90)]
    sheets = [sheet("e1", "a", 30, 5, 15), sheet("e1", "b", 30, 5, 15)]
    assert [
        b.bid for b in tally(CRITERIA, Method.COMPREHENSIVE, [Bid("a", 100), Bid("b", 100)], sheets).bids
    ] == ["a", "b"]
    result = tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets)
    assert [(b.bid, b.rank) for b in result.bids] == [("b", 1), ("a", 2)]  # b also has the higher price score


def test_tie_rules() -> None:
    bids, sheets = _equal_bids()
    shared = tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets)
    assert [(b.bid, b.rank) for b in shared.bids] == [("a", 1), ("b", 1), ("c", 1)]
    technical = tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets, tie_rule=TieRule.TECHNICAL)
    assert [(b.bid, b.rank) for b in technical.bids] == [("a", 1), ("b", 1), ("c", 3)]
    randomness = hashlib.sha256(b"tie").digest()
    drawn = tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets, tie_rule=TieRule.DRAW, randomness=randomness)
    order = sorted("abc", key=lambda b: hashlib.sha256(b"pingbiao-tie-v1" + randomness + b.encode()).digest())
    assert [(b.bid, b.rank) for b in drawn.bids] == [(bid, n + 1) for n, bid in enumerate(order)]
    with pytest.raises(ScoringError, match="^抽签决定并列名次须有已记录的随机数"):
        tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets, tie_rule=TieRule.DRAW)


def test_recommend_and_separated_mode() -> None:
    result = tally(CRITERIA, Method.COMPREHENSIVE, BIDS, SHEETS)
    assert recommend(result, 2).candidates == ("c", "a")
    separated = recommend(result, 2, separated=True)
    assert separated.candidates == ("a", "c") and not separated.ranked  # 评定分离: unranked
    bids, sheets = _equal_bids()
    assert recommend(tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets), 1).candidates == (
        "a",
        "b",
        "c",
    )  # tie at the cut


def test_incomplete_or_bad_sheets_refused() -> None:
    with pytest.raises(ScoringError, match="^每位专家须对每一份有效投标评分：现有评分表 8 张，应为 3 × 3 张"):
        tally(CRITERIA, Method.COMPREHENSIVE, BIDS, SHEETS[:-1])
    with pytest.raises(ScoringError, match="^评分表有 1 处问题，第一处：投标 a，“T1”的 41 分超出范围"):
        tally(CRITERIA, Method.COMPREHENSIVE, BIDS, [sheet("e1", "a", 41, 10, 18), *SHEETS[1:]])
    with pytest.raises(ScoringError, match="^投标 x 的报价须为正数"):
        tally(CRITERIA, Method.LOWEST_PRICE, [Bid("x", 0)], [])


# -- deviations 畸高畸低 and changes -------------------------------------------------------------

DEV_SHEETS = [
    sheet("e1", "a", 36, 10, 18, 64),
    sheet("e2", "a", 34, 10, 17, 61),
    sheet("e3", "a", 12, 10, 16, 38),
]


def test_deviations() -> None:
    found = deviations(CRITERIA, DEV_SHEETS, F(3, 10))  # more than 12 of 40 points from the median (34)
    # e3 is far below the others; e1 is near the median and is not flagged for the mean e3 pulls down.
    assert [(d.expert, d.criterion, d.score, d.median, d.others_low, d.others_high, d.high) for d in found] == [
        ("e3", "T1", F(12), F(34), F(34), F(36), False),
    ]
    assert found[0].others_mean == 35
    assert deviations(CRITERIA, DEV_SHEETS[:1], F(1, 10)) == []  # one expert: nothing to compare
    with pytest.raises(ScoringError):
        deviations(CRITERIA, DEV_SHEETS, F(0))


def test_median() -> None:
    assert median([F(3), F(1), F(2)]) == 2 and median([F(4), F(1), F(2), F(3)]) == F(5, 2)
    assert median([F(7)]) == 7
    with pytest.raises(ScoringError):
        median([])


def test_deviations_two_experts_both_or_neither() -> None:
    # two experts: each sits half the gap from the median, so both are flagged or neither
    apart = [sheet("e1", "a", 40, 10, 18), sheet("e2", "a", 10, 10, 18)]  # 15 from the median 25 > 12
    assert [(d.expert, d.high, d.median, d.others_low) for d in deviations(CRITERIA, apart, F(3, 10))] == [
        ("e1", True, F(25), F(10)), ("e2", False, F(25), F(40))]
    near = [sheet("e1", "a", 36, 10, 18), sheet("e2", "a", 12, 10, 18)]  # 12 from the median 24: not more
    assert deviations(CRITERIA, near, F(3, 10)) == []


def test_deviation_threshold_edge() -> None:
    # exactly threshold × points from the median is not a deviation; a hair more is
    at = [sheet("e1", "a", 30, 10, 18), sheet("e2", "a", 30, 10, 18), sheet("e3", "a", 18, 10, 18)]
    assert deviations(CRITERIA, at, F(3, 10)) == []
    beyond = [sheet("e1", "a", 30, 10, 18), sheet("e2", "a", 30, 10, 18),
              Sheet("e3", "a", {"T1": F(179, 10), "T2": F(10), "B1": F(18)}, None)]
    assert [d.expert for d in deviations(CRITERIA, beyond, F(3, 10))] == ["e3"]
    # five experts, one outlier high: only it is flagged, the median is the middle score
    five = [sheet(f"e{i}", "a", t, 10, 18) for i, t in enumerate([20, 22, 24, 25, 40], 1)]
    [d] = deviations(CRITERIA, five, F(3, 10))
    assert (d.expert, d.high, d.median, d.others_low, d.others_high) == ("e5", True, F(24), F(20), F(25))


def test_unresolved() -> None:
    found = deviations(CRITERIA, DEV_SHEETS, F(3, 10))
    assert unresolved(found, []) == found
    assert unresolved(found, [("e3", "a", "T1", F(12))]) == []
    assert unresolved(found, [("e3", "a", "T1", F(11))]) == found  # a confirmation covers that score only


def change(
    reason: object, criterion: str | None = "T1", new: int = 30, expert: str = "e3", why: str = "复核"
) -> ScoreChange:
    return ScoreChange(expert, "a", criterion, F(new), reason, why)  # type: ignore[arg-type]


def test_allowed_change_for_abnormal_score() -> None:
    out = apply_change(CRITERIA, DEV_SHEETS, change(ChangeReason.ABNORMAL_HIGH_LOW), threshold=F(3, 10))
    assert out[2].scores["T1"] == 30 and out[2].total == 56  # the written total follows the item
    assert out[:2] == tuple(DEV_SHEETS[:2])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            change(None),
            "修改评分须选择允许的理由（计算错误、分值超出范围、客观分不一致、畸高畸低），收到 None",
        ),
        (change("typo"), "修改评分须选择允许的理由"),
        (change(ChangeReason.ABNORMAL_HIGH_LOW, why=" "), "修改评分须说明理由"),
        (
            change(ChangeReason.ABNORMAL_HIGH_LOW, expert="e2"),
            "修改理由“畸高畸低”不适用于这项评分（“T1” 34 分）",
        ),
        (change(ChangeReason.OUT_OF_SCALE), "修改理由“分值超出范围”不适用于这项评分（“T1” 12 分）"),
        (
            change(ChangeReason.OBJECTIVE_INCONSISTENT, "T2", 5),
            "修改理由“客观分不一致”不适用于这项评分（“T2” 10 分）",
        ),
        (change(ChangeReason.ABNORMAL_HIGH_LOW, new=41), "新的分值 41 须与原分值 12 不同且在评分范围内"),
        (
            change(ChangeReason.SUM_ERROR, None, 38),
            "计算错误的修改只能把有误的合计改为各项之和（38 分）",
        ),
        (change(ChangeReason.OUT_OF_SCALE, None, 38), "只有“计算错误”可以修改合计分"),
        (change(ChangeReason.SUM_ERROR, "T1"), "修改理由“计算错误”不适用于这项评分（“T1” 12 分）"),
        (change(ChangeReason.ABNORMAL_HIGH_LOW, "P"), "这张评分表上没有“P”的评分"),
        (change(ChangeReason.ABNORMAL_HIGH_LOW, expert="e9"), "专家 e9 没有投标 a 的评分表"),
    ],
)
def test_refused_changes(bad: ScoreChange, message: str) -> None:
    with pytest.raises(ChangeRefused) as err:
        apply_change(CRITERIA, DEV_SHEETS, bad, threshold=F(3, 10))
    assert err.value.message.startswith(message) and err.value.status == 409


def test_changes_for_each_reason() -> None:
    sheets = [
        sheet("e1", "a", 36, 10, 18, 60),
        sheet("e2", "a", 34, 5, 17),
        Sheet("e3", "a", {"T1": F(45), "T2": F(10), "B1": F(16)}),
    ]
    t = F(1, 2)
    sheets = list(apply_change(CRITERIA, sheets, change(ChangeReason.SUM_ERROR, None, 64, "e1"), threshold=t))
    sheets = list(
        apply_change(
            CRITERIA, sheets, change(ChangeReason.OBJECTIVE_INCONSISTENT, "T2", 10, "e2"), threshold=t
        )
    )
    sheets = list(
        apply_change(CRITERIA, sheets, change(ChangeReason.OUT_OF_SCALE, "T1", 38, "e3"), threshold=t)
    )
    assert (sheets[0].total, sheets[1].scores["T2"], sheets[2].scores["T1"]) == (64, 10, 38)
    assert (
        tally(CRITERIA, Method.COMPREHENSIVE, [Bid("a", 1)], sheets).bids[0].total
        == F(36 + 34 + 38, 3) + 10 + 17 + 30
    )


def test_change_json() -> None:
    assert change(ChangeReason.ABNORMAL_HIGH_LOW).to_json() == {
        "expert": "e3",
        "bid": "a",
        "criterion": "T1",
        "new": "30",
        "reason": "abnormal_high_low",
        "explanation": "复核",
    }


# -- properties ---------------------------------------------------------------------------------


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[Bid], list[Sheet]]:
    n_bids, n_experts = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    bids = [Bid(f"b{i}", draw(st.integers(1, 10**9))) for i in range(n_bids)]
    sheets = []
    for b in bids:
        t2 = draw(st.sampled_from([0, 5, 10]))  # objective: the same for every expert
        for e in range(n_experts):
            sheets.append(sheet(f"e{e}", b.id, draw(st.integers(0, 40)), t2, draw(st.integers(0, 20))))
    return bids, sheets


@settings(max_examples=200, deadline=None)
@given(
    sessions(),
    st.randoms(use_true_random=False),
    st.sampled_from(list(TieRule)),
    st.sampled_from(list(Method)),
)
def test_tally_invariant_to_order(
    session: tuple[list[Bid], list[Sheet]], rnd: random.Random, rule: TieRule, method: Method
) -> None:
    bids, sheets = session
    randomness = b"r" * 32
    if method is Method.LOWEST_PRICE and rule is TieRule.TECHNICAL:
        with pytest.raises(ScoringError, match="最低评标价法没有技术分"):
            tally(CRITERIA, method, bids, sheets, tie_rule=rule, randomness=randomness)
        return
    first = tally(CRITERIA, method, bids, sheets, tie_rule=rule, randomness=randomness)
    rnd.shuffle(bids)
    rnd.shuffle(sheets)
    assert tally(CRITERIA, method, bids, sheets, tie_rule=rule, randomness=randomness) == first


@settings(max_examples=200, deadline=None)
@given(sessions())
def test_tally_arithmetic(session: tuple[list[Bid], list[Sheet]]) -> None:
    bids, sheets = session
    result = tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets)
    low = min(b.price_fen for b in bids)
    for row in result.bids:
        mine = [s for s in sheets if s.bid == row.bid]
        assert row.total == sum((s.items_sum() for s in mine), F(0)) / len(mine) + row.price_score
        assert (row.price_score == 30) == (row.price_fen == low)
    ranks = [row.rank for row in result.bids]
    assert ranks[0] == 1 and ranks == sorted(ranks)  # type: ignore[type-var]
    totals = [(-rounded(row.total), row.price_fen) for row in result.bids]
    assert totals == sorted(totals)  # compared as displayed (2 decimals)
