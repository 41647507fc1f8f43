"""The verifiable draw (随机抽取): the worked example of docs/draw.md, errors, and properties against a
brute-force oracle (the committee is the feasible one with the lexicographically smallest ranks)."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from evaluation.experts.avoidance import (
    Affiliation,
    Agency,
    DateRange,
    Expert,
    Relation,
    eligible,
    exclusion_counts,
)
from evaluation.experts.draw import (
    DrawCriteria,
    DrawError,
    DrawRequest,
    PoolExpert,
    SiteQuota,
    SiteRole,
    TooFewExperts,
    draw,
    eligibility,
    make_request,
    meets_quotas,
    refill,
    seed_of,
)
from web.i18n import localize

DOC = Path(__file__).resolve().parents[2] / "docs" / "draw.md"

EXAMPLE_CRITERIA = DrawCriteria(
    3,
    {"A01": 2, "B02": 1},
    (SiteQuota("hz", SiteRole.MAIN, ("3301",), 2), SiteQuota("cd", SiteRole.REMOTE, ("5101",), 1)),
)
EXAMPLE_POOL = [
    PoolExpert("E001", frozenset({"A01"}), "330102"),
    PoolExpert("E002", frozenset({"A01", "B02"}), "330106"),
    PoolExpert("E003", frozenset({"B02"}), "330108"),
    PoolExpert("E004", frozenset({"A01"}), "510104"),
    PoolExpert("E005", frozenset({"B02"}), "510107"),
    PoolExpert("E006", frozenset({"A01"}), "330110"),
]
EXAMPLE_RANDOMNESS = hashlib.sha256(b"pingbiao worked example").digest()


def test_worked_example_of_the_doc() -> None:
    request = make_request("T-2026-001", EXAMPLE_CRITERIA, reversed(EXAMPLE_POOL))
    result = draw(request, EXAMPLE_RANDOMNESS)
    doc = DOC.read_text(encoding="utf-8")
    assert request.to_bytes().decode() in doc
    assert (
        EXAMPLE_RANDOMNESS.hex() == "60573fa9d2cc4eff6cd1c66256408ef4fce92e61a8fcd614718df0d804f6f23c" in doc
    )
    assert result.seed.hex() == "ab8c33dc91a684782f0ee8be90e43150b3e2e3ae39c20c974895d66ad1fa5287" in doc
    assert result.ranking == ("E006", "E001", "E004", "E003", "E005", "E002")
    assert result.committee == ("E006", "E001", "E005")
    assert result.sequence == ("E006", "E001", "E005", "E004", "E003", "E002")
    for expert in result.ranking:
        assert hashlib.sha256(result.seed + expert.encode()).hexdigest() in doc
    assert refill(request, result, ["E001", "E005"], ["E006"]) == ("E002",)
    with pytest.raises(TooFewExperts, match="抽取序列中剩余的专家不足以补足各项名额，无法替换"):  # E005 was the only B02 expert at cd
        refill(request, result, ["E006", "E001"], ["E005"])


def test_verify_from_the_logged_json_alone() -> None:
    request = make_request("T-2026-001", EXAMPLE_CRITERIA, EXAMPLE_POOL)
    logged = json.loads(request.to_bytes())
    again = DrawRequest.from_json(logged)
    assert again.to_bytes() == request.to_bytes()
    assert draw(again, EXAMPLE_RANDOMNESS) == draw(request, EXAMPLE_RANDOMNESS)


def test_too_few_names_the_rules() -> None:
    bidders, agency, day = ["bidder"], Agency("agency"), date(2026, 5, 20)
    experts = [
        Expert(
            "x1",
            frozenset({"A01"}),
            "330101",
            (Affiliation("bidder", Relation.EMPLOYMENT, DateRange(date(2020, 1, 1))),),
        ),
        Expert(
            "x2",
            frozenset({"A01"}),
            "330101",
            (Affiliation("agency", Relation.EMPLOYMENT, DateRange(date(2020, 1, 1))),),
        ),
        Expert("x3", frozenset({"C09"}), "330101"),
        Expert("x4", frozenset({"A01"}), "440101"),
        Expert("x5", frozenset({"A01"}), "330101"),
        Expert("x6", frozenset({"B02"}), "510101"),
    ]
    kept, excluded = eligible(experts, bidders, agency, day)
    chosen = eligibility(EXAMPLE_CRITERIA, kept)
    assert chosen.counts() == {"specialty": 1, "region": 1}
    with pytest.raises(TooFewExperts) as err:
        make_request("T", EXAMPLE_CRITERIA, chosen.pool, exclusion_counts(excluded) | chosen.counts())
    assert err.value.message == (
        "符合条件的专家不足：2 人，席位 3 个；专业 A01 需 2 人，符合条件的 1 人；场地 hz 需 2 人，符合条件的 1 人；"
        "已回避：agency_staff 1, employment 1, region 1, specialty 1"
    )
    assert localize(err.value.text, "en") == (
        "Too few eligible experts: 2 for 3 seats; specialty A01 needs 2, 1 eligible; site hz needs 2, 1 eligible; "
        "excluded: agency_staff 1, employment 1, region 1, specialty 1"
    )
    assert err.value.status == 409


def test_quotas_that_only_fail_together() -> None:
    criteria = DrawCriteria(
        2,
        {"A": 1, "B": 1},
        (SiteQuota("m", SiteRole.MAIN, ("11",), 2), SiteQuota("r", SiteRole.REMOTE, ("22",), 0)),
    )
    pool = [
        PoolExpert("a", frozenset({"A"}), "1101"),
        PoolExpert("b", frozenset({"A"}), "1102"),
        PoolExpert("c", frozenset({"B"}), "2201"),
    ]
    with pytest.raises(
        TooFewExperts,
        match="3 人，席位 2 个；没有能同时满足专业名额和场地名额的组合；无回避的专家",
    ):
        make_request("T", criteria, pool)  # each quota alone could be met, not both
    make_request("T", criteria, [*pool, PoolExpert("d", frozenset({"A", "B"}), "1103")])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DrawCriteria(0), "席位数须为正整数，收到 0"),
        (lambda: DrawCriteria(3, {"A": 2}), "各专业名额之和（2）与席位数（3）不符"),
        (
            lambda: DrawCriteria(2, {}, (SiteQuota("m", SiteRole.MAIN, ("11",), 1),)),
            "各场地名额之和（1）与席位数（2）不符",
        ),
        (
            lambda: DrawCriteria(2, {}, (SiteQuota("m", SiteRole.REMOTE, ("11",), 2),)),
            "须有且只有一个主场",
        ),
        (
            lambda: DrawCriteria(
                2,
                {},
                (SiteQuota("m", SiteRole.MAIN, ("11",), 1), SiteQuota("r", SiteRole.REMOTE, ("1101",), 1)),
            ),
            "场地「m」和「r」的地区重叠",
        ),
        (
            lambda: DrawRequest("T", DrawCriteria(1), (PoolExpert("a", frozenset(), ""),) * 2),
            "专家库中的专家编号须非空且不重复",
        ),
        (
            lambda: seed_of(DrawRequest("T", DrawCriteria(1), ()), b"short"),
            "时间信标的随机数长度不对：应为 32 字节，收到 5 字节",
        ),
        (lambda: DrawRequest.from_json({"v": 2}), "不支持此版本的抽取申请（版本 2）"),
    ],
)
def test_malformed(build: object, message: str) -> None:
    with pytest.raises(DrawError) as err:
        build()  # type: ignore[operator]
    assert err.value.message == message


def test_different_randomness_gives_different_committees() -> None:
    criteria = DrawCriteria(3)
    pool = [PoolExpert(f"e{i:02}", frozenset(), "") for i in range(12)]
    request = make_request("T", criteria, pool)
    committees = Counter(
        frozenset(draw(request, hashlib.sha256(bytes([n])).digest()).committee) for n in range(200)
    )
    assert len(committees) > 100  # 220 possible committees, each equally likely
    firsts = Counter(draw(request, hashlib.sha256(bytes([n, 1])).digest()).ranking[0] for n in range(240))
    assert set(firsts) == {e.id for e in pool}


# -- properties against a brute-force oracle ---------------------------------------------------

CODES = ["A", "B", "C"]
REGIONS = ["330101", "330202", "510101", "440101"]  # 4401 is taken by no site


def oracle_meets(criteria: DrawCriteria, members: tuple[PoolExpert, ...]) -> bool:
    """Quota check by enumeration: site counts, then some permutation of specialty slots fits."""
    if len(members) != criteria.seats:
        return False
    if criteria.sites:
        for site in criteria.sites:
            if sum(site.takes(e.region) for e in members) != site.count:
                return False
    if not criteria.specialties:
        return True
    slots = [code for code, n in criteria.specialties.items() for _ in range(n)]
    return any(
        all(s in e.specialties for s, e in zip(perm, members)) for perm in set(itertools.permutations(slots))
    )


def oracle_committee(
    criteria: DrawCriteria, ordered: list[PoolExpert], forced: tuple[PoolExpert, ...] = ()
) -> tuple[str, ...] | None:
    """The feasible committee (holding `forced`) whose members' positions in `ordered` are lexicographically least."""
    need = criteria.seats - len(forced)
    for combo in itertools.combinations(
        range(len(ordered)), need
    ):  # combinations come in lexicographic order
        members = forced + tuple(ordered[i] for i in combo)
        if oracle_meets(criteria, members):
            return tuple(ordered[i].id for i in combo)
    return None


@st.composite
def scenarios(draw_: st.DrawFn) -> tuple[DrawCriteria, list[PoolExpert], bytes]:
    seats = draw_(st.integers(1, 4))
    specialties: dict[str, int] = {}
    if draw_(st.booleans()):
        cuts = sorted(draw_(st.lists(st.integers(0, seats), min_size=2, max_size=2)))
        specialties = {k: v for k, v in zip(CODES, [cuts[0], cuts[1] - cuts[0], seats - cuts[1]]) if v}
    sites: tuple[SiteQuota, ...] = ()
    if draw_(st.booleans()):
        main = draw_(st.integers(0, seats))
        sites = (
            SiteQuota("main", SiteRole.MAIN, ("3301", "3302"), main),
            SiteQuota("remote", SiteRole.REMOTE, ("5101",), seats - main),
        )
    n = draw_(st.integers(0, 8))
    experts = [
        PoolExpert(
            f"x{i}",
            frozenset(draw_(st.sets(st.sampled_from(CODES), min_size=1))),
            draw_(st.sampled_from(REGIONS)),
        )
        for i in range(n)
    ]
    return DrawCriteria(seats, specialties, sites), experts, draw_(st.binary(min_size=32, max_size=32))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_draw_matches_the_oracle(scenario: tuple[DrawCriteria, list[PoolExpert], bytes]) -> None:
    criteria, experts, randomness = scenario
    pool = eligibility(criteria, experts).pool
    feasible = oracle_committee(criteria, list(pool)) is not None
    event("feasible" if feasible else "infeasible")
    if not feasible:
        with pytest.raises(TooFewExperts):
            make_request("T", criteria, pool)
        return
    request = make_request("T", criteria, pool)
    result = draw(request, randomness)
    by_id = {e.id: e for e in pool}
    ordered = [by_id[i] for i in result.ranking]
    assert result.committee == oracle_committee(criteria, ordered)  # quotas met, earliest ranks
    assert meets_quotas(criteria, [by_id[i] for i in result.committee])
    assert sorted(result.sequence) == sorted(by_id)
    assert draw(DrawRequest.from_json(json.loads(request.to_bytes())), randomness) == result


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_replacements_come_from_the_sequence(
    scenario: tuple[DrawCriteria, list[PoolExpert], bytes], data: st.DataObject
) -> None:
    criteria, experts, randomness = scenario
    pool = eligibility(criteria, experts).pool
    assume(oracle_committee(criteria, list(pool)) is not None)
    request = make_request("T", criteria, pool)
    result = draw(request, randomness)
    declined = data.draw(st.sets(st.sampled_from(result.committee), min_size=1))
    members = [m for m in result.committee if m not in declined]
    by_id = {e.id: e for e in pool}
    reserve = [by_id[i] for i in result.reserve]
    expected = oracle_committee(criteria, reserve, tuple(by_id[m] for m in members))
    if expected is None:
        with pytest.raises(TooFewExperts):
            refill(request, result, members, declined)
        return
    added = refill(request, result, members, declined)
    assert added == expected
    assert set(added) <= set(result.reserve) and not set(added) & declined
    assert list(added) == [i for i in result.sequence if i in added]  # taken in sequence order
    assert meets_quotas(criteria, [by_id[i] for i in [*members, *added]])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sets(st.sampled_from(CODES), min_size=1), st.sampled_from(REGIONS[:3])),
        min_size=3,
        max_size=14,
    ),
    st.binary(min_size=32, max_size=32),
)
def test_never_picks_an_excluded_expert(rows: list[tuple[bool, set[str], str]], randomness: bytes) -> None:
    day, bidder = date(2026, 5, 20), "bidder"
    tie = (Affiliation(bidder, Relation.DIRECTORSHIP, DateRange(date(2025, 1, 1))),)
    experts = [
        Expert(f"x{i}", frozenset(codes), region, tie if bad else ())
        for i, (bad, codes, region) in enumerate(rows)
    ]
    kept, excluded = eligible(experts, [bidder], Agency("agency"), day)
    banned = {i for items in excluded.values() for i, _ in items}
    criteria = DrawCriteria(1)
    try:
        request = make_request("T", criteria, eligibility(criteria, kept).pool)
    except TooFewExperts:
        assert not kept
        return
    result = draw(request, randomness)
    assert not set(result.sequence) & banned
    assert set(result.sequence) == {e.id for e in kept}


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(0, 255))
def test_randomness_changes_the_ranking(a: bytes, flip: int) -> None:
    b = bytes([a[0] ^ (1 + flip % 255)]) + a[1:]  # differs from a in the first byte
    request = make_request("T", DrawCriteria(3), [PoolExpert(f"e{i:02}", frozenset(), "") for i in range(16)])
    assert draw(request, a).ranking != draw(request, b).ranking  # equal with probability 1/16!
    assert draw(request, a) == draw(request, a)
