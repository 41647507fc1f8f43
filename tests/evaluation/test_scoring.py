"""Scoring rules: the price formula and its edges, abnormally low bids, display rounding, sheet checks."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.session.scoring import (
    Category,
    Criteria,
    Criterion,
    Kind,
    LowBidRule,
    Problem,
    ScoringError,
    Sheet,
    abnormally_low,
    check_price_weight,
    check_sheet,
    check_sheets,
    display,
    points,
    price_scores,
)

CRITERIA = Criteria(
    (
        Criterion("P", Kind.PRICE, F(30)),
        Criterion("T1", Kind.TECHNICAL, F(40), minimum=F(10)),
        Criterion("T2", Kind.TECHNICAL, F(10), allowed=(F(0), F(5), F(10))),
        Criterion("B1", Kind.BUSINESS, F(20)),
    )
)


def sheet(
    expert: str, bid: str, t1: int | str, t2: int, b1: int | str, total: int | str | None = None
) -> Sheet:
    return Sheet(
        expert,
        bid,
        {"T1": points(t1), "T2": points(t2), "B1": points(b1)},
        None if total is None else points(total),
    )


# -- price 价格分 -------------------------------------------------------------------------------

PRICE_CASES = [
    ("single bid gets full points", {"a": 123_456}, {"a": F(30)}),
    ("equal prices all full", {"a": 100_00, "b": 100_00}, {"a": F(30), "b": F(30)}),
    (
        "base over price",
        {"a": 80_000_00, "b": 100_000_00, "c": 120_000_00},
        {"a": F(30), "b": F(24), "c": F(20)},
    ),
    ("exact thirds", {"a": 1, "b": 3}, {"a": F(30), "b": F(10)}),
    ("no bids", {}, {}),
]


@pytest.mark.parametrize(("name", "prices", "expected"), PRICE_CASES, ids=[c[0] for c in PRICE_CASES])
def test_price_scores(name: str, prices: dict[str, int], expected: dict[str, F]) -> None:
    assert price_scores(prices, F(30)) == expected


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "100"])
def test_price_must_be_positive_whole_fen(bad: object) -> None:
    with pytest.raises(ScoringError, match="^投标 x 的报价须为正数"):
        price_scores({"a": 100, "x": bad}, F(30))  # type: ignore[dict-item]


@given(
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 10**12), min_size=1, max_size=8),
    st.integers(1, 100),
)
def test_price_properties(prices: dict[str, int], weight: int) -> None:
    scores = price_scores(prices, F(weight))
    low = min(prices.values())
    for bid, fen in prices.items():
        assert 0 < scores[bid] <= weight
        assert (scores[bid] == weight) == (fen == low)  # only the lowest get full points
        for other, ofen in prices.items():
            if ofen > fen:
                assert scores[other] < scores[bid]  # a higher price never scores more


# -- abnormally low 异常低价 --------------------------------------------------------------------


def test_abnormally_low() -> None:
    prices = {"a": 100_000_00, "b": 100_000_00, "c": 79_000_00, "d": 80_000_00}
    flags = abnormally_low(prices)
    # c: mean of the others = 93,333.33 yuan, 4/5 of it = 74,666.67: not flagged; with a 0.9 rule it is.
    assert flags == {}
    flags = abnormally_low(prices, LowBidRule(F(9, 10)))
    assert flags == {
        "c": "price 79000.00 yuan is below 90.00 % of the other bids' mean 93333.33 yuan",
        "d": "price 80000.00 yuan is below 90.00 % of the other bids' mean 93000.00 yuan",
    }
    rule = LowBidRule(None, reference_fen=100_000_00, reference_fraction=F(4, 5))
    assert abnormally_low(prices, rule) == {
        "c": "price 79000.00 yuan is below 80.00 % of the reference 100000.00 yuan"
    }
    assert abnormally_low({"only": 1}) == {}


# -- rounding 舍入 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (F(1, 8), "0.13"),
        (F(-1, 8), "-0.13"),
        (F(1, 3), "0.33"),
        (F(2, 3), "0.67"),
        (F(30), "30.00"),
        (F(24999, 1000), "25.00"),
        (F(-1, 1000), "0.00"),
        (F(5, 1000), "0.01"),
        (F(0), "0.00"),
    ],
)
def test_display_round_half_up(value: F, text: str) -> None:
    assert display(value) == text


def test_display_places() -> None:
    assert display(F(25, 2), 0) == "13" and display(F(1, 2000), 3) == "0.001"


def test_points_are_exact() -> None:
    assert points("2.5") == F(5, 2) and points("7/2") == F(7, 2) and points(3) == 3
    for bad in (2.5, True, "two", None):
        with pytest.raises(ScoringError):
            points(bad)  # type: ignore[arg-type]
    assert points(" -3 ") == -3 and points("1" * 30) == int("1" * 30)


@pytest.mark.parametrize("hostile", ["1e10000000", "1e5000", "1E3", "1" * 31, "0." + "1" * 31, "1/" + "9" * 31, "1/0", "inf", "nan"])
def test_points_from_a_client_are_bounded_before_any_arithmetic(hostile: str) -> None:
    """A score string is refused by its shape; "1e10000000" once took 17.7 s of the event loop."""
    with pytest.raises(ScoringError, match="数字过长|不是数字|除以零"):
        points(hostile)


# -- criteria 评审因素 ---------------------------------------------------------------------------


def test_criteria_rules() -> None:
    assert (
        CRITERIA.total_points == 100
        and CRITERIA.price is not None
        and [c.code for c in CRITERIA.scored] == ["T1", "T2", "B1"]
    )
    check_price_weight(CRITERIA, Category.GOODS)
    low = Criteria((Criterion("P", Kind.PRICE, F(9)), Criterion("T", Kind.TECHNICAL, F(91))))
    with pytest.raises(ScoringError, match="^价格分占总分的 9.00%，服务项目不得低于 10.00%"):
        check_price_weight(low, Category.SERVICES)
    with pytest.raises(ScoringError, match="^评分因素的编号不能重复"):
        Criteria((Criterion("T", Kind.TECHNICAL, F(1)), Criterion("T", Kind.BUSINESS, F(1))))
    with pytest.raises(ScoringError, match="^只能有一项价格分"):
        Criteria((Criterion("P", Kind.PRICE, F(1)), Criterion("Q", Kind.PRICE, F(1))))
    with pytest.raises(ScoringError, match="^评分因素“X”的可选分值须在 0 至 5 之间"):
        Criterion("X", Kind.TECHNICAL, F(5), allowed=(F(6),))


# -- sheets 评分表 ------------------------------------------------------------------------------


def test_a_clean_sheet() -> None:
    assert check_sheet(CRITERIA, sheet("e1", "a", "35.5", 5, 18, "58.5")) == []


def test_sheet_problems() -> None:
    bad = Sheet("e1", "a", {"T1": F(9), "T2": F(4), "X": F(1)}, F(20))
    found = [(f.problem, f.criterion, str(f.message)) for f in check_sheet(CRITERIA, bad)]
    assert found == [
        (Problem.OUT_OF_SCALE, "T1", "“T1”的 9 分超出范围（10 至 40）"),
        (Problem.OUT_OF_SCALE, "T2", "“T2”的 4 分超出范围（可选 0, 5, 10）"),
        (Problem.UNKNOWN, "X", "X不是需要评分的评分因素"),
        (Problem.MISSING, "B1", "“B1”没有评分"),
        (Problem.SUM_ERROR, None, "合计 20 分与各项之和 14 分不符"),
    ]


def test_objective_scores_must_agree_across_experts() -> None:
    sheets = [
        sheet("e1", "a", 30, 5, 10),
        sheet("e2", "a", 31, 10, 10),
        sheet("e1", "b", 30, 5, 10),
        sheet("e2", "b", 30, 5, 12),
    ]
    found = check_sheets(CRITERIA, sheets)
    assert [(f.problem, f.bid, f.criterion, str(f.message)) for f in found] == [
        (Problem.OBJECTIVE_INCONSISTENT, "a", "T2", "各专家对客观分“T2”的评分不一致（e1=5, e2=10）")
    ]
    with pytest.raises(ScoringError, match="^同一位专家对同一份投标有两张评分表"):
        check_sheets(CRITERIA, [sheets[0], sheets[0]])


def test_sheet_json_round_trip() -> None:
    s = sheet("e1", "a", "35.5", 5, 18, "58.5")
    assert s.to_json() == {
        "expert": "e1",
        "bid": "a",
        "scores": {"B1": "18", "T1": "71/2", "T2": "5"},
        "total": "117/2",
    }
    assert Sheet.from_json(s.to_json()) == s
