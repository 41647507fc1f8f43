"""Avoidance (回避): each rule, its three-year window edges, reasons, and a property over random pools."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.experts.avoidance import (
    Affiliation,
    Agency,
    AvoidanceError,
    DateRange,
    Expert,
    Kinship,
    Relation,
    Relative,
    Rule,
    eligible,
    exclusion_counts,
    lookback_start,
    reasons,
)

DAY = date(2026, 5, 20)
AGENCY = Agency("agency-org", purchaser="purchaser-org")
BIDDERS = ["bidder-a", "bidder-b"]


def job(org: str, start: date, end: date | None, relation: Relation = Relation.EMPLOYMENT) -> Affiliation:
    return Affiliation(org, relation, DateRange(start, end))


CASES = [
    ("clean", Expert("e", affiliations=(job("other", date(2010, 1, 1), None),)), []),
    (
        "current employee",
        Expert("e", affiliations=(job("bidder-a", date(2020, 1, 1), None),)),
        [Rule.EMPLOYMENT],
    ),
    (
        "left exactly 3 years ago",
        Expert("e", affiliations=(job("bidder-a", date(2010, 1, 1), date(2023, 5, 20)),)),
        [Rule.EMPLOYMENT],
    ),
    (
        "left 3 years and a day ago",
        Expert("e", affiliations=(job("bidder-a", date(2010, 1, 1), date(2023, 5, 19)),)),
        [],
    ),
    ("joins tomorrow", Expert("e", affiliations=(job("bidder-a", date(2026, 5, 21), None),)), []),
    (
        "director",
        Expert(
            "e", affiliations=(job("bidder-b", date(2024, 1, 1), date(2025, 1, 1), Relation.DIRECTORSHIP),)
        ),
        [Rule.DIRECTORSHIP],
    ),
    (
        "controller",
        Expert("e", affiliations=(job("bidder-b", date(2024, 1, 1), None, Relation.CONTROL),)),
        [Rule.CONTROL],
    ),
    ("relative", Expert("e", relatives=(Relative("bidder-a", Kinship.SPOUSE),)), [Rule.RELATIVE]),
    ("relative elsewhere", Expert("e", relatives=(Relative("nobody", Kinship.LINEAL),)), []),
    (
        "agency staff",
        Expert("e", affiliations=(job("agency-org", date(2025, 1, 1), None),)),
        [Rule.AGENCY_STAFF],
    ),
    (
        "former agency staff",
        Expert("e", affiliations=(job("agency-org", date(2015, 1, 1), date(2026, 5, 19)),)),
        [],
    ),
    (
        "purchaser staff",
        Expert("e", affiliations=(job("purchaser-org", date(2025, 1, 1), None),)),
        [Rule.PURCHASER_STAFF],
    ),
    (
        "agency director, not staff",
        Expert("e", affiliations=(job("agency-org", date(2025, 1, 1), None, Relation.DIRECTORSHIP),)),
        [],
    ),
    ("inactive", Expert("e", active=False), [Rule.UNAVAILABLE]),
    (
        "away that day",
        Expert("e", unavailable=(DateRange(date(2026, 5, 20), date(2026, 5, 20)),)),
        [Rule.UNAVAILABLE],
    ),
    ("away the day before", Expert("e", unavailable=(DateRange(date(2026, 5, 1), date(2026, 5, 19)),)), []),
    (
        "several rules",
        Expert(
            "e",
            affiliations=(job("bidder-a", date(2020, 1, 1), None),),
            relatives=(Relative("bidder-b", Kinship.IN_LAW),),
            active=False,
        ),
        [Rule.EMPLOYMENT, Rule.RELATIVE, Rule.UNAVAILABLE],
    ),
]


@pytest.mark.parametrize(("name", "expert", "rules"), CASES, ids=[c[0] for c in CASES])
def test_rules(name: str, expert: Expert, rules: list[Rule]) -> None:
    assert [rule for rule, _ in reasons(expert, BIDDERS, AGENCY, DAY)] == rules


def test_reasons_are_one_line_and_name_the_org() -> None:
    expert = Expert("e", affiliations=(job("bidder-a", date(2020, 1, 1), date(2024, 6, 30)),))
    assert reasons(expert, BIDDERS, AGENCY, DAY) == [
        (Rule.EMPLOYMENT, "employment at bidder bidder-a 2020-01-01..2024-06-30")
    ]


def test_eligible_splits_and_counts() -> None:
    pool = [case[1] for case in CASES]
    pool = [
        Expert(
            f"e{i}",
            affiliations=e.affiliations,
            relatives=e.relatives,
            unavailable=e.unavailable,
            active=e.active,
        )
        for i, e in enumerate(pool)
    ]
    keep, excluded = eligible(pool, BIDDERS, AGENCY, DAY)
    assert [e.id for e in keep] == ["e0", "e3", "e4", "e8", "e10", "e12", "e15"]
    assert exclusion_counts(excluded) == {
        "employment": 3,
        "directorship": 1,
        "control": 1,
        "relative": 2,
        "agency_staff": 1,
        "purchaser_staff": 1,
        "unavailable": 3,
    }
    assert list(excluded) == [r for r in Rule if r in excluded]  # reported in rule order


def test_duplicate_ids_and_bad_ranges() -> None:
    with pytest.raises(AvoidanceError, match="专家「e」在专家库中出现了两次"):
        eligible([Expert("e"), Expert("e")], BIDDERS, AGENCY, DAY)
    with pytest.raises(AvoidanceError, match="日期范围的结束早于开始"):
        DateRange(date(2026, 1, 2), date(2026, 1, 1))


def test_leap_day_lookback() -> None:
    assert lookback_start(date(2028, 2, 29)) == date(2025, 2, 28)
    assert lookback_start(date(2026, 5, 20)) == date(2023, 5, 20)


orgs = st.sampled_from(["bidder-a", "bidder-b", "agency-org", "purchaser-org", "other-1", "other-2"])
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2028, 12, 31))


@st.composite
def experts(draw: st.DrawFn) -> Expert:
    affs = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(days)
        end = draw(st.one_of(st.none(), st.dates(min_value=start, max_value=date(2028, 12, 31))))
        affs.append(Affiliation(draw(orgs), draw(st.sampled_from(list(Relation))), DateRange(start, end)))
    rels = [
        Relative(draw(orgs), draw(st.sampled_from(list(Kinship)))) for _ in range(draw(st.integers(0, 2)))
    ]
    return Expert("x", affiliations=tuple(affs), relatives=tuple(rels), active=draw(st.booleans()))


@given(st.lists(experts(), max_size=12), days)
def test_partition(pool: list[Expert], on: date) -> None:
    pool = [
        Expert(f"e{i}", affiliations=e.affiliations, relatives=e.relatives, active=e.active)
        for i, e in enumerate(pool)
    ]
    keep, excluded = eligible(pool, BIDDERS, AGENCY, on)
    out = {i for items in excluded.values() for i, _ in items}
    assert {e.id for e in keep}.isdisjoint(out)
    assert {e.id for e in keep} | out == {e.id for e in pool}
    since = lookback_start(on)
    for e in keep:  # no kept expert had a tie to a bidder in the window
        assert not any(a.org in BIDDERS and a.period.meets(since, on) for a in e.affiliations)
        assert not any(r.org in BIDDERS for r in e.relatives)
