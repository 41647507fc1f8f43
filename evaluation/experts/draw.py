"""The verifiable expert draw (随机抽取): a deterministic function of a logged request and a beacon.

docs/draw.md specifies the algorithm so that a third party can re-implement it; in short:

1. ``seed = SHA-256("pingbiao-draw-v1" ‖ canonical request bytes ‖ randomness)``, where the request
   (tender, criteria and the frozen pool of eligible experts) was logged before the beacon round.
2. Every pool expert is ranked by ``SHA-256(seed ‖ UTF-8 id)`` ascending.
3. In rank order an expert joins the committee when the committee with it can still be completed,
   from the experts ranked after it, to one meeting every specialty and site quota exactly.
   Replacements for experts who decline are picked by the same rule from the rest of the sequence.

Pure functions over plain values; no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from evaluation.audit.entry import canonical_json
from evaluation.errors import ConflictError, InvalidRequest, Text

DOMAIN = b"pingbiao-draw-v1"
REQUEST_VERSION = 1
RANDOMNESS_BYTES = 32


class DrawError(InvalidRequest):
    """A draw request is malformed."""


class TooFewExperts(ConflictError):
    """The eligible experts cannot fill the committee with its quotas."""


class SiteRole(Enum):
    """Where a site sits in remote evaluation (远程异地评标)."""

    MAIN = "main"  # 主场
    REMOTE = "remote"  # 副场


@dataclass(frozen=True)
class SiteQuota:
    """`count` experts from regions whose code starts with one of `regions` (e.g. "3301") sit at `site`."""

    site: str
    role: SiteRole
    regions: tuple[str, ...]
    count: int

    def __post_init__(self) -> None:
        if not self.site or not self.regions or any(not r for r in self.regions):
            raise DrawError("场地须有编号和地区代码（场地 {site}）", site=repr(self.site)[:40])
        if type(self.count) is not int or self.count < 0:
            raise DrawError("场地「{site}」的名额须为不小于零的整数，收到 {got}", site=self.site, got=repr(self.count)[:40])

    def takes(self, region: str) -> bool:
        """True when an expert from `region` belongs to this site."""
        return any(region.startswith(prefix) for prefix in self.regions)


@dataclass(frozen=True)
class DrawCriteria:
    """What to draw: `seats` experts (committee size minus purchaser's representatives).

    `specialties` maps a specialty code to how many experts fill it; empty means any specialty. Its
    sum must be `seats`. `sites` splits the seats by region; empty means one site, any region.
    Each expert fills exactly one specialty quota and sits at exactly one site.
    """

    seats: int
    specialties: Mapping[str, int] = field(default_factory=dict)
    sites: tuple[SiteQuota, ...] = ()

    def __post_init__(self) -> None:
        if type(self.seats) is not int or self.seats < 1:
            raise DrawError("席位数须为正整数，收到 {got}", got=repr(self.seats)[:40])
        for code, n in self.specialties.items():
            if not code or type(n) is not int or n < 0:
                raise DrawError("专业名额「{code}」须为专业代码和不小于零的整数，收到 {got}", code=code, got=repr(n)[:40])
        if self.specialties and sum(self.specialties.values()) != self.seats:
            raise DrawError("各专业名额之和（{total}）与席位数（{seats}）不符", total=sum(self.specialties.values()),
                            seats=self.seats)
        if self.sites:
            if len({s.site for s in self.sites}) != len(self.sites):
                raise DrawError("场地编号不能重复")
            if [s.role for s in self.sites].count(SiteRole.MAIN) != 1:
                raise DrawError("须有且只有一个主场")
            if sum(s.count for s in self.sites) != self.seats:
                raise DrawError("各场地名额之和（{total}）与席位数（{seats}）不符", total=sum(s.count for s in self.sites),
                                seats=self.seats)
            for a in self.sites:
                for b in self.sites:
                    if a is not b and any(p.startswith(q) for p in a.regions for q in b.regions):
                        first, second = sorted((a.site, b.site))
                        raise DrawError("场地「{first}」和「{second}」的地区重叠", first=first, second=second)

    def site_of(self, region: str) -> str | None:
        """The site an expert from `region` sits at, or None when no site takes the region."""
        if not self.sites:
            return ""
        return next((s.site for s in self.sites if s.takes(region)), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "seats": self.seats,
            "specialties": dict(sorted(self.specialties.items())),
            "sites": [
                {"site": s.site, "role": s.role.value, "regions": sorted(set(s.regions)), "count": s.count}
                for s in sorted(self.sites, key=lambda s: s.site)
            ],
        }


@dataclass(frozen=True)
class PoolExpert:
    """An eligible expert as the draw sees it: id, the requested specialties it has, its region."""

    id: str
    specialties: frozenset[str]
    region: str


class ExpertLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def specialties(self) -> frozenset[str]: ...
    @property
    def region(self) -> str: ...


@dataclass(frozen=True)
class Eligibility:
    """The experts the criteria can draw, and per rule the ids they excluded (may overlap)."""

    pool: tuple[PoolExpert, ...]
    excluded: dict[str, tuple[str, ...]]

    def counts(self) -> dict[str, int]:
        return {rule: len(ids) for rule, ids in self.excluded.items() if ids}


def eligibility(criteria: DrawCriteria, experts: Iterable[ExpertLike]) -> Eligibility:
    """Keep the experts (already past avoidance) that have a requested specialty and a site's region.

    Rules: "specialty" (none of the quota codes), "region" (no site takes the region).
    The pool entries carry only the requested specialty codes.
    """
    codes = frozenset(criteria.specialties)
    pool: list[PoolExpert] = []
    excluded: dict[str, list[str]] = {"specialty": [], "region": []}
    for e in experts:
        mine = frozenset(e.specialties) & codes
        ok = True
        if codes and not mine:
            excluded["specialty"].append(e.id)
            ok = False
        if criteria.site_of(e.region) is None:
            excluded["region"].append(e.id)
            ok = False
        if ok:
            pool.append(PoolExpert(e.id, mine, e.region))
    return Eligibility(tuple(pool), {k: tuple(v) for k, v in excluded.items() if v})


@dataclass(frozen=True)
class DrawRequest:
    """What is logged before the beacon round: tender, criteria and the frozen pool (sorted by id)."""

    tender: str
    criteria: DrawCriteria
    pool: tuple[PoolExpert, ...]

    def __post_init__(self) -> None:
        if not self.tender:
            raise DrawError("抽取申请缺少项目")
        ids = [e.id for e in self.pool]
        if any(not i for i in ids) or len(set(ids)) != len(ids):
            raise DrawError("专家库中的专家编号须非空且不重复")
        codes = frozenset(self.criteria.specialties)
        for e in self.pool:
            if not e.specialties <= codes or (codes and not e.specialties):
                raise DrawError("专家「{expert}」没有所需的专业，或有未申请的专业", expert=e.id)
            if self.criteria.site_of(e.region) is None:
                raise DrawError("专家「{expert}」所在地区（{region}）不属于任何场地", expert=e.id, region=repr(e.region)[:40])

    def to_json(self) -> dict[str, Any]:
        """The request as a canonical-JSON-ready object (the audit payload of the draw request)."""
        return {
            "v": REQUEST_VERSION,
            "tender": self.tender,
            "criteria": self.criteria.to_json(),
            "pool": [
                {"id": e.id, "specialties": sorted(e.specialties), "region": e.region}
                for e in sorted(self.pool, key=lambda e: e.id)
            ],
        }

    def to_bytes(self) -> bytes:
        """Canonical bytes: UTF-8 JSON, keys sorted, no whitespace (docs/draw.md, "Request encoding")."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> DrawRequest:
        """Parse ``to_json`` output (e.g. from an audit export). Raises DrawError when malformed."""
        try:
            if obj["v"] != REQUEST_VERSION:
                raise DrawError("不支持此版本的抽取申请（版本 {version}）", version=repr(obj["v"])[:40])
            c = obj["criteria"]
            sites = tuple(
                SiteQuota(str(s["site"]), SiteRole(s["role"]), tuple(map(str, s["regions"])), s["count"])
                for s in c["sites"]
            )
            criteria = DrawCriteria(c["seats"], {str(k): v for k, v in c["specialties"].items()}, sites)
            pool = tuple(
                PoolExpert(str(e["id"]), frozenset(map(str, e["specialties"])), str(e["region"]))
                for e in obj["pool"]
            )
            return cls(str(obj["tender"]), criteria, pool)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DrawError("抽取申请格式不对（{problem}）", problem=repr(exc)[:80]) from None


@dataclass(frozen=True)
class DrawResult:
    """The draw's output: the seed, every pool id in rank order, and the committee (in rank order)."""

    seed: bytes
    ranking: tuple[str, ...]
    committee: tuple[str, ...]

    @property
    def reserve(self) -> tuple[str, ...]:
        """The pool outside the committee, in rank order: where replacements come from."""
        chosen = set(self.committee)
        return tuple(i for i in self.ranking if i not in chosen)

    @property
    def sequence(self) -> tuple[str, ...]:
        """The committee first, then the reserve."""
        return self.committee + self.reserve


def make_request(
    tender: str, criteria: DrawCriteria, pool: Iterable[PoolExpert], excluded: Mapping[str, int] | None = None
) -> DrawRequest:
    """A draw request over `pool` (sorted by id), refused with TooFewExperts when no committee fits.

    `excluded` are the exclusion counts per rule (avoidance and eligibility) named in that error.
    """
    request = DrawRequest(tender, criteria, tuple(sorted(pool, key=lambda e: e.id)))
    if not _Quotas(criteria).completes([], list(request.pool)):
        raise TooFewExperts(shortage(criteria, request.pool, excluded or {}))
    return request


def shortage(criteria: DrawCriteria, pool: Sequence[PoolExpert], excluded: Mapping[str, int]) -> Text:
    """One line saying why `pool` cannot fill `criteria`, with the exclusion counts per rule."""
    parts = [Text("符合条件的专家不足：{n} 人，席位 {seats} 个", n=len(pool), seats=criteria.seats)]
    for code, need in sorted(criteria.specialties.items()):
        have = sum(code in e.specialties for e in pool)
        if have < need:
            parts.append(Text("专业 {code} 需 {need} 人，符合条件的 {have} 人", code=code, need=need, have=have))
    for site in criteria.sites:
        have = sum(site.takes(e.region) for e in pool)
        if have < site.count:
            parts.append(Text("场地 {site} 需 {need} 人，符合条件的 {have} 人", site=site.site, need=site.count, have=have))
    if len(parts) == 1 and len(pool) >= criteria.seats:
        parts.append(Text("没有能同时满足专业名额和场地名额的组合"))
    ex = ", ".join(f"{rule} {n}" for rule, n in sorted(excluded.items()) if n)
    parts.append(Text("已回避：{counts}", counts=ex) if ex else Text("无回避的专家"))
    return Text.join(parts)


def seed_of(request: DrawRequest, randomness: bytes) -> bytes:
    """SHA-256(DOMAIN ‖ request bytes ‖ randomness). Requires 32 bytes of beacon randomness."""
    if len(randomness) != RANDOMNESS_BYTES:
        raise DrawError("时间信标的随机数长度不对：应为 {want} 字节，收到 {got} 字节", want=RANDOMNESS_BYTES, got=len(randomness))
    return hashlib.sha256(DOMAIN + request.to_bytes() + randomness).digest()


def rank(seed: bytes, ids: Iterable[str]) -> tuple[str, ...]:
    """`ids` sorted by SHA-256(seed ‖ UTF-8 id) as unsigned big-endian numbers, then by id."""
    return tuple(sorted(ids, key=lambda i: (hashlib.sha256(seed + i.encode()).digest(), i)))


def draw(request: DrawRequest, randomness: bytes) -> DrawResult:
    """Draw the committee of `request` with beacon `randomness` (Beacon.randomness of the round).

    Requires a request made by ``make_request`` (or checked the same way); raises TooFewExperts
    otherwise.
    """
    seed = seed_of(request, randomness)
    ranking = rank(seed, (e.id for e in request.pool))
    by_id = {e.id: e for e in request.pool}
    chosen = _Quotas(request.criteria).fill([], [by_id[i] for i in ranking])
    if chosen is None:
        raise TooFewExperts(shortage(request.criteria, request.pool, {}))
    return DrawResult(seed, ranking, tuple(e.id for e in chosen))


def refill(
    request: DrawRequest, result: DrawResult, members: Sequence[str], declined: Iterable[str]
) -> tuple[str, ...]:
    """The replacements, in pick order, that bring `members` back to a full committee.

    `members` are the committee's remaining experts (decliners removed); `declined` every expert
    who has declined so far. Candidates are ``result.sequence`` without members and decliners, in
    order; each is taken by the draw's own rule, so the quota a decliner filled is filled again.
    Raises TooFewExperts when the sequence runs out.
    """
    by_id = {e.id: e for e in request.pool}
    unknown = [i for i in members if i not in by_id]
    if unknown or len(set(members)) != len(members):
        raise DrawError("所列成员须为专家库中不同的专家（不在专家库中：{unknown}）" if unknown else "所列成员须为专家库中不同的专家",
                        unknown=", ".join(unknown))
    skip = set(members) | set(declined)
    candidates = [by_id[i] for i in result.sequence if i not in skip]
    kept = [by_id[i] for i in members]
    chosen = _Quotas(request.criteria).fill(kept, candidates)
    if chosen is None:
        raise TooFewExperts("抽取序列中剩余的专家不足以补足各项名额，无法替换（序列中剩余 {left} 人，在任成员 {members} 人）",
                            left=len(candidates), members=len(members))
    return tuple(e.id for e in chosen[len(kept) :])


def meets_quotas(criteria: DrawCriteria, committee: Sequence[PoolExpert]) -> bool:
    """True when `committee` fills every seat, specialty and site quota exactly (some assignment exists)."""
    return len(committee) == criteria.seats and _Quotas(criteria).completes(list(committee), [])


class _Quotas:
    """Feasibility as a flow: source → specialty (quota) → expert (1) → site (quota) → sink."""

    def __init__(self, criteria: DrawCriteria) -> None:
        self.criteria = criteria
        self.codes = dict(criteria.specialties) or {"": criteria.seats}
        self.sites = {s.site: s.count for s in criteria.sites} or {"": criteria.seats}

    def fill(self, members: list[PoolExpert], candidates: list[PoolExpert]) -> list[PoolExpert] | None:
        """Members plus candidates taken in order by the draw rule, or None when infeasible."""
        chosen = list(members)
        if not self.completes(chosen, candidates):
            return None
        for i, e in enumerate(candidates):
            if len(chosen) == self.criteria.seats:
                break
            if self.completes([*chosen, e], candidates[i + 1 :]):
                chosen.append(e)
        return chosen

    def completes(self, forced: list[PoolExpert], optional: list[PoolExpert]) -> bool:
        """Is there a committee holding all of `forced`, the rest from `optional`, meeting every quota?"""
        seats = self.criteria.seats
        if len(forced) > seats or len(forced) + len(optional) < seats:
            return False
        site_of = {e.id: self.criteria.site_of(e.region) for e in (*forced, *optional)}
        load: dict[str | None, int] = {}
        for e in forced:
            load[site_of[e.id]] = load.get(site_of[e.id], 0) + 1
        if any(n > self.sites.get(s, 0) for s, n in load.items() if s is not None):
            return False
        net = _Net()
        for code, q in self.codes.items():
            net.add(("S",), ("c", code), q)
        for site, q in self.sites.items():
            net.add(("t", site), ("T",), q)
        for group in (forced, optional):
            for e in group:
                for code in e.specialties or {""}:
                    if code in self.codes:
                        net.add(("c", code), ("e", e.id), 1)
                net.add(("e", e.id), ("t", site_of[e.id]), 1)
            if group is forced:
                if net.maxflow() < len(forced):
                    return False
                for e in forced:  # lower bound 1: a forced expert's flow may move, never vanish
                    net.cap[(("t", site_of[e.id]), ("e", e.id))] = 0
        return net.maxflow() == seats


class _Net:
    """A residual network with integer capacities; augmenting paths by depth-first search."""

    def __init__(self) -> None:
        self.cap: dict[tuple[Any, Any], int] = {}
        self.adj: dict[Any, list[Any]] = {}
        self.flow = 0

    def add(self, u: Any, v: Any, c: int) -> None:
        if (u, v) not in self.cap:
            self.adj.setdefault(u, []).append(v)
            self.adj.setdefault(v, []).append(u)
            self.cap.setdefault((v, u), 0)
        self.cap[(u, v)] = self.cap.get((u, v), 0) + c

    def maxflow(self) -> int:
        while self._augment():
            self.flow += 1
        return self.flow

    def _augment(self) -> bool:
        source, sink = ("S",), ("T",)
        parent: dict[Any, Any] = {source: None}
        stack = [source]
        while stack:
            u = stack.pop()
            if u == sink:
                break
            for v in self.adj.get(u, ()):
                if v not in parent and self.cap[(u, v)] > 0:
                    parent[v] = u
                    stack.append(v)
        if sink not in parent:
            return False
        v = sink
        while parent[v] is not None:
            u = parent[v]
            self.cap[(u, v)] -= 1
            self.cap[(v, u)] += 1
            v = u
        return True
