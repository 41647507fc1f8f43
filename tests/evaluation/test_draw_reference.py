"""The draw against a second implementation written here from docs/draw.md alone: the request's
canonical bytes, the seed, the ranking, the committee (the lexicographically least feasible set of
ranks, by brute force) and the sequence, and each replacement. It imports none of the draw's code
(the generated scenarios and the objects under test aside)."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.experts.draw import DrawCriteria, PoolExpert, TooFewExperts, draw, eligibility, make_request, refill
from tests.evaluation.test_draw import scenarios


def request_json(tender: str, criteria: DrawCriteria, experts: list[PoolExpert]) -> dict[str, Any]:
    """docs/draw.md "Request encoding", with the eligibility rule of "The criteria"."""
    codes = set(criteria.specialties)
    prefixes = [p for s in criteria.sites for p in s.regions]
    pool = []
    for e in sorted(experts, key=lambda e: e.id):
        if codes and not codes & set(e.specialties):
            continue
        if prefixes and not any(e.region.startswith(p) for p in prefixes):
            continue
        pool.append({"id": e.id, "region": e.region, "specialties": sorted(codes & set(e.specialties))})
    sites = [{"count": s.count, "regions": sorted(set(s.regions)), "role": s.role.value, "site": s.site}
             for s in sorted(criteria.sites, key=lambda s: s.site)]
    return {"criteria": {"seats": criteria.seats, "sites": sites, "specialties": dict(criteria.specialties)},
            "pool": pool, "tender": tender, "v": 1}


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def meets(req: dict[str, Any], members: list[dict[str, Any]]) -> bool:
    c = req["criteria"]
    if len(members) != c["seats"]:
        return False
    for site in c["sites"]:
        if sum(any(m["region"].startswith(p) for p in site["regions"]) for m in members) != site["count"]:
            return False
    slots = [code for code, n in c["specialties"].items() for _ in range(n)]
    return not slots or any(all(s in m["specialties"] for s, m in zip(p, members)) for p in set(itertools.permutations(slots)))


def least(req: dict[str, Any], ordered: list[dict[str, Any]], held: list[dict[str, Any]]) -> list[str] | None:
    need = req["criteria"]["seats"] - len(held)
    for combo in itertools.combinations(range(len(ordered)), need):
        if meets(req, held + [ordered[i] for i in combo]):
            return [ordered[i]["id"] for i in combo]
    return None


def reference_draw(req: dict[str, Any], randomness: bytes) -> tuple[bytes, list[str], list[str]] | None:
    seed = hashlib.sha256(b"pingbiao-draw-v1" + canonical(req) + randomness).digest()
    ranking = sorted(req["pool"], key=lambda e: (hashlib.sha256(seed + e["id"].encode()).digest(), e["id"]))
    committee = least(req, ranking, [])
    if committee is None:
        return None
    return seed, committee, committee + [e["id"] for e in ranking if e["id"] not in committee]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_draw_and_refill_agree_with_the_reference(scenario: tuple[DrawCriteria, list[PoolExpert], bytes],
                                                  data: st.DataObject) -> None:
    criteria, experts, randomness = scenario
    req = request_json("T-ref", criteria, experts)
    want = reference_draw(req, randomness)
    if want is None:
        with pytest.raises(TooFewExperts):
            make_request("T-ref", criteria, eligibility(criteria, experts).pool)
        return
    request = make_request("T-ref", criteria, eligibility(criteria, experts).pool)
    assert request.to_bytes() == canonical(req)
    result = draw(request, randomness)
    seed, committee, sequence = want
    assert (result.seed, list(result.committee), list(result.sequence)) == (seed, committee, sequence)

    declined = sorted(data.draw(st.sets(st.sampled_from(committee), min_size=1)))
    members = [m for m in committee if m not in declined]
    by_id = {e["id"]: e for e in req["pool"]}
    reserve = [by_id[i] for i in sequence if i not in committee]
    expected = least(req, reserve, [by_id[m] for m in members])
    if expected is None:
        with pytest.raises(TooFewExperts):
            refill(request, result, members, declined)
    else:
        assert list(refill(request, result, members, declined)) == expected
