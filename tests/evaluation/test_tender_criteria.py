"""A tender's scoring criteria (评分因素) and 畸高畸低 threshold: validated item by item, every
mistake at once in Chinese; hostile numbers refused; tenders stored before the rules still load."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from evaluation.errors import InvalidRequest
from evaluation.inputs import parse_json
from evaluation.tenders.criteria import (
    DEFAULT_DEVIATION_PERCENT,
    Kind,
    parse_criteria,
    parse_deviation_threshold,
)
from evaluation.tenders.rules import amend_spec, parse_spec, spec_from_json
from tests.evaluation.tender_fixtures import spec

GOOD = [
    {"name": "价格", "points": 30, "kind": "price", "description": "低价优先法"},
    {"name": "资质证书", "points": 10, "kind": "objective", "allowed": ["0", "5", "10"], "description": "ISO9001 得 5 分"},
    {"name": "技术方案", "points": 60, "kind": "subjective", "description": "优 48–60，良 30–47"},
]


def errors_of(items: object, method: str = "comprehensive", category: str = "goods") -> list[str]:
    with pytest.raises(InvalidRequest) as caught:
        parse_criteria(items, method, category)
    message = caught.value.message
    assert "\n" not in message and "Traceback" not in message
    return message.split("；")


def test_good_criteria_round_trip_through_the_spec() -> None:
    s = parse_spec(spec(criteria=GOOD, deviation_threshold="25"))
    assert [c.kind for c in s.criteria] == [Kind.PRICE, Kind.OBJECTIVE, Kind.SUBJECTIVE]
    assert s.criteria[1].scale() == ("0", "5", "10") and s.deviation_threshold == Fraction(25)
    back = spec_from_json(json.loads(json.dumps(s.to_json())))
    assert back == s and back.to_json()["deviation_threshold"] == "25"


def test_objective_item_defaults_to_nothing_or_everything() -> None:
    (c,) = [c for c in parse_criteria([*GOOD[:2], {"name": "方案", "points": 60}], "comprehensive", "goods") if c.points == 10]
    assert c.scale() == ("0", "5", "10")
    plain = parse_criteria([GOOD[0], {"name": "业绩", "points": 70, "kind": "objective"}], "comprehensive", "goods")
    assert plain[1].allowed == () and plain[1].scale() == ("0", "70")


def test_every_mistake_is_reported_at_once() -> None:
    errors = errors_of([
        {"name": "", "points": 10},
        {"name": "技术", "points": 0, "kind": "other"},
        {"name": "商务", "points": 20, "kind": "subjective", "allowed": ["0", "20"]},
    ])
    assert errors == [
        "第 1 项评分因素没有名称",
        "第 2 项评分因素（技术）的分值须为 1–100 的整数，现为 0",
        "第 2 项评分因素（技术）的类型须为 价格分、客观分 或 主观分",
        "第 3 项评分因素（商务）不是客观分，不能列出可选分值",
    ]


def test_set_rules_of_comprehensive_scoring() -> None:
    assert errors_of([{"name": "技术", "points": 50}, {"name": "商务", "points": 40}]) == [
        "综合评分法的分值合计须为 100，现为 90",
        "综合评分法须有且只有一项价格分，现有 0 项",
    ]
    two_prices = [{"name": "价格", "points": 50, "kind": "price"}, {"name": "报价", "points": 50, "kind": "price"}]
    assert errors_of(two_prices) == ["综合评分法须有且只有一项价格分，现有 2 项"]
    light = [{"name": "价格", "points": 20, "kind": "price"}, {"name": "技术", "points": 80}]
    assert errors_of(light) == ["价格分权重不得低于 30%（87号令第五十五条），现为 20%"]
    assert len(parse_criteria(light, "comprehensive", "services")) == 2  # services: at least 10
    assert errors_of([*GOOD, {"name": "技术方案", "points": 1}])[0] == "评分因素“技术方案”重复"
    assert parse_criteria([{"name": "技术", "points": 5}], "lowest_price", "goods")[0].points == 5


@pytest.mark.parametrize("points", [float("nan"), float("inf"), 1e999, -5, 10**100, 2**63, 100.0, True, "30", None, [30]])
def test_hostile_points(points: object) -> None:
    (error,) = errors_of([{"name": "技术", "points": points}], "lowest_price")
    assert error.startswith("第 1 项评分因素（技术）的分值须为 1–100 的整数，现为")
    assert len(error) < 80


@pytest.mark.parametrize("value", ["1e999", "NaN", "-1", "11", "1.234", "\ud800", 10**30, 3.5, "9" * 5000])
def test_hostile_allowed_values(value: object) -> None:
    errors = errors_of([{"name": "资质", "points": 10, "kind": "objective", "allowed": ["0", value]}], "lowest_price")
    assert errors[0].startswith("第 1 项评分因素（资质）的可选分值") and all(len(e) < 90 for e in errors)
    assert all(len(e.encode("utf-8")) < 400 for e in errors)  # a lone surrogate prints as "?"


@pytest.mark.parametrize("value", [0, -1, 101, "100.001", "NaN", "1e999", "inf", 1e999, True, "", "\ud800"])
def test_hostile_thresholds(value: object) -> None:
    with pytest.raises(InvalidRequest, match="畸高畸低偏差阈值须为大于 0、不超过 100 的百分比"):
        parse_deviation_threshold(value)


def test_thresholds_in_range() -> None:
    assert parse_deviation_threshold(None) is None and DEFAULT_DEVIATION_PERCENT == 30
    assert parse_deviation_threshold("12.5") == Fraction(25, 2) and parse_deviation_threshold(100) == 100


def test_json_body_refuses_nan_and_huge_floats_before_the_rules() -> None:
    for raw in (b'{"points": NaN}', b'{"points": 1e999}', b'{"points": 30.0}'):
        with pytest.raises(InvalidRequest):
            parse_json(raw)


def test_too_many_or_not_a_list() -> None:
    with pytest.raises(InvalidRequest, match="评分因素不能超过 100 项"):
        parse_criteria([{"name": "x", "points": 1}] * 101, "comprehensive", "goods")
    with pytest.raises(InvalidRequest, match="评分因素 criteria 须为列表"):
        parse_criteria({"name": "x"}, "comprehensive", "goods")


def test_tenders_stored_before_kinds_still_load() -> None:
    old = spec(criteria=[{"name": "价格分", "points": 30, "description": ""}, {"name": "技术", "points": 50}])
    loaded = spec_from_json(old)  # points do not add up: stored before the set rules, still loads
    assert [c.kind for c in loaded.criteria] == [Kind.PRICE, Kind.SUBJECTIVE] and loaded.deviation_threshold is None
    with pytest.raises(InvalidRequest, match="分值合计须为 100"):
        parse_spec(old)


def test_amending_the_criteria_checks_them_again() -> None:
    s = parse_spec(spec(criteria=GOOD))
    with pytest.raises(InvalidRequest, match="分值合计须为 100，现为 90"):
        amend_spec(s, {"criteria": GOOD[:1] + GOOD[2:]})
    new, diff = amend_spec(s, {"deviation_threshold": "20"})
    assert new.deviation_threshold == 20 and diff == {"deviation_threshold": "20"}
