"""Pure rules of the start: the tender's criteria as the session scores them, the tender's 畸高畸低
threshold as the session's default, and hostile thresholds refused in one line."""

from __future__ import annotations

from fractions import Fraction

import pytest

from evaluation.errors import InvalidRequest
from evaluation.session.rules import SessionConfig, criteria_from_tender, tender_threshold
from evaluation.session.scoring import Kind, ScoringError
from evaluation.tenders.rules import parse_spec
from tests.evaluation.tender_fixtures import spec


def tender_criteria(criteria: list[dict[str, object]]) -> list[dict[str, object]]:
    """The criteria as a tender stores them (parsed by the tender rules, then as JSON)."""
    return [c.to_json() for c in parse_spec(spec(3600, criteria=criteria)).criteria]


def test_each_kind_maps_to_how_the_session_scores_it() -> None:
    items = tender_criteria([
        {"name": "报价", "points": 40, "kind": "price"},
        {"name": "资质", "points": 10, "kind": "objective"},
        {"name": "业绩", "points": 20, "kind": "objective", "allowed": ["0", "5", "12.5", "20"]},
        {"name": "方案", "points": 30, "kind": "subjective", "description": "完整、可行"},
    ])
    price, plain, tiers, subjective = criteria_from_tender(items).items
    assert (price.kind, price.max_points, price.title) == (Kind.PRICE, 40, "报价")
    assert plain.objective and plain.allowed == (0, 10)  # met or not: 0 or the full points
    assert tiers.allowed == (0, 5, Fraction(25, 2), 20) and tiers.in_scale(Fraction(25, 2)) and not tiers.in_scale(6)
    assert not subjective.objective and subjective.in_scale(Fraction(29, 2)) and not subjective.in_scale(31)


def test_a_criterion_stored_before_kinds_keeps_its_meaning() -> None:
    price, other = criteria_from_tender([{"name": "价格 Price", "points": 30}, {"name": "技术", "points": 70}]).items
    assert price.kind is Kind.PRICE and other.kind is Kind.TECHNICAL and not other.objective


def test_a_tender_without_criteria_cannot_start() -> None:
    with pytest.raises(ScoringError, match="招标项目没有评分因素"):
        criteria_from_tender([])


def test_the_tenders_threshold_is_the_sessions_default() -> None:
    assert tender_threshold(None) == "3/10"
    assert tender_threshold(Fraction(25)) == "1/4" and tender_threshold(Fraction(25, 2)) == "1/8"
    config = SessionConfig.from_json({"method": "comprehensive", "deviation_threshold": tender_threshold(Fraction(100))})
    assert config.deviation_threshold == 1


@pytest.mark.parametrize("bad", ["NaN", "1e999", "Infinity", "-1/10", "0", "11/10", "9" * 5000, "1/0", "", 2, -1, 1.5, True])
def test_hostile_thresholds_are_refused_in_one_line(bad: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        SessionConfig.from_json({"method": "comprehensive", "deviation_threshold": bad})
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
