"""Committee size rules (评标委员会组成): a table per method, the two-thirds rule, single source."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.experts.committee import (
    CommitteeError,
    ProcurementMethod,
    minimum_committee_size,
    minimum_experts,
    validate_committee_plan,
)

M = ProcurementMethod

ALLOWED = [
    (M.OPEN_TENDER, 1_000_000, 5, 1),
    (M.OPEN_TENDER, 9_999_999, 7, 2),
    (M.OPEN_TENDER, 10_000_000, 7, 2),
    (M.INVITED_TENDER, 0, 5, 0),
    (M.INVITED_TENDER, 50_000_000, 9, 3),
    (M.COMPETITIVE_NEGOTIATION, 100_000, 3, 1),
    (M.COMPETITIVE_CONSULTATION, 100_000, 3, 0),
    (M.INQUIRY, 20_000_000, 3, 1),
    (M.INQUIRY, 100_000, 5, 1),
]

REFUSED = [
    (M.OPEN_TENDER, 1_000_000, 3, 0, "公开招标评标委员会至少 5 人，方案为 3 人"),
    (M.OPEN_TENDER, 1_000_000, 6, 0, "公开招标评标委员会须为单数，方案为 6 人"),
    (M.OPEN_TENDER, 10_000_000, 5, 0, "公开招标评标委员会至少 7 人，方案为 5 人"),
    (
        M.INVITED_TENDER,
        12_000_000,
        5,
        1,
        "邀请招标评标委员会至少 7 人，方案为 5 人",
    ),
    (
        M.OPEN_TENDER,
        1_000_000,
        5,
        2,
        "评审专家不得少于成员总数的三分之二：5 人中专家 3 人（采购人代表至多 1 人）",
    ),
    (
        M.COMPETITIVE_NEGOTIATION,
        100_000,
        1,
        0,
        "竞争性谈判评标委员会至少 3 人，方案为 1 人",
    ),
    (
        M.COMPETITIVE_CONSULTATION,
        100_000,
        4,
        0,
        "竞争性磋商评标委员会须为单数，方案为 4 人",
    ),
    (
        M.INQUIRY,
        100_000,
        3,
        2,
        "评审专家不得少于成员总数的三分之二：3 人中专家 1 人（采购人代表至多 1 人）",
    ),
    (M.OPEN_TENDER, 1_000_000, 5, -1, "采购人代表人数不能为负数，收到 -1"),
    (M.OPEN_TENDER, -1, 5, 0, "预算须为不小于零的整数（元），收到 -1"),
]


@pytest.mark.parametrize(("method", "budget", "size", "reps"), ALLOWED)
def test_allowed_plans(method: ProcurementMethod, budget: int, size: int, reps: int) -> None:
    validate_committee_plan(method, budget, size, reps)


@pytest.mark.parametrize(("method", "budget", "size", "reps", "message"), REFUSED)
def test_refused_plans(method: ProcurementMethod, budget: int, size: int, reps: int, message: str) -> None:
    with pytest.raises(CommitteeError) as err:
        validate_committee_plan(method, budget, size, reps)
    assert err.value.message == message
    assert err.value.status == 400
    assert "\n" not in message


def test_single_source_has_no_committee() -> None:
    with pytest.raises(CommitteeError, match=r"单一来源采购不组建评标委员会.*财政部令第74号第三十九条"):
        validate_committee_plan(M.SINGLE_SOURCE, 100_000, 3, 1)


def test_complex_tender_and_open_tender_threshold() -> None:
    assert minimum_committee_size(M.OPEN_TENDER, 1_000_000, complex_or_high_impact=True) == 7
    assert (
        minimum_committee_size(M.COMPETITIVE_NEGOTIATION, 4_000_000, open_tender_threshold_yuan=4_000_000)
        == 5
    )
    assert minimum_committee_size(M.INQUIRY, 3_999_999, open_tender_threshold_yuan=4_000_000) == 3
    # 磋商 (财库〔2014〕214号 art. 14) has no such rise.
    assert (
        minimum_committee_size(M.COMPETITIVE_CONSULTATION, 9_000_000, open_tender_threshold_yuan=4_000_000)
        == 3
    )
    with pytest.raises(CommitteeError, match="评标委员会至少 5 人"):
        validate_committee_plan(M.INQUIRY, 5_000_000, 3, 0, open_tender_threshold_yuan=4_000_000)


def test_labels() -> None:
    assert [m.label_zh for m in M] == ["公开招标", "邀请招标", "竞争性谈判", "竞争性磋商", "询价", "单一来源"]


@given(st.integers(min_value=0, max_value=99))
def test_two_thirds(size: int) -> None:
    least = minimum_experts(size)
    assert 3 * least >= 2 * size
    assert least == 0 or 3 * (least - 1) < 2 * size


@given(
    st.sampled_from([m for m in M if m is not M.SINGLE_SOURCE]),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=21),
    st.integers(min_value=0, max_value=21),
)
def test_plan_accepted_exactly_when_rules_hold(
    method: ProcurementMethod, budget: int, size: int, reps: int
) -> None:
    ok = size >= minimum_committee_size(method, budget) and size % 2 == 1 and 3 * (size - reps) >= 2 * size
    try:
        validate_committee_plan(method, budget, size, reps)
        assert ok
    except CommitteeError:
        assert not ok
