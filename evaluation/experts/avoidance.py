"""Avoidance (回避): which experts may not evaluate a tender, each exclusion with a rule and a reason.

Pure predicates over plain values, no I/O. The rules and their sources:

- EMPLOYMENT, DIRECTORSHIP, CONTROL — 政府采购法实施条例 art. 9 (1)–(3): within the 3 years before the
  evaluation, a labour relation with a bidder (劳动关系), a post as its director or supervisor
  (董事、监事), or being its controlling shareholder or actual controller (控股股东、实际控制人).
  An affiliation counts when its date range meets ``[on_date − 3 years, on_date]``, ends included;
  an open end means "still so".
- RELATIVE — art. 9 (4)–(5): a declared close relative (spouse, lineal relative, collateral within
  three generations, close in-law) at a bidder. Art. 9 (4) names the bidder's legal representative
  or person in charge; the platform excludes for a close relative in any post there (art. 9 (5)).
- AGENCY_STAFF — MOF Order 87 art. 48: the agency's staff may not evaluate tenders it runs
  (employment at the agency on the evaluation day).
- PURCHASER_STAFF — MOF Order 87 art. 48: the purchaser's staff may not sit as experts on its own
  tender (they may only be purchaser's representatives).
- UNAVAILABLE — the expert is inactive (suspended, retired from the pool) or declared unavailable
  on the evaluation day.

Organisations are compared by an exact identifier (e.g. the unified social credit code
统一社会信用代码); the caller normalises them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

from evaluation.errors import InvalidRequest

LOOKBACK_YEARS = 3


class AvoidanceError(InvalidRequest):
    """An input to the avoidance rules is malformed."""


class Rule(Enum):
    """The avoidance rules, in the order they are checked and reported."""

    EMPLOYMENT = "employment"
    DIRECTORSHIP = "directorship"
    CONTROL = "control"
    RELATIVE = "relative"
    AGENCY_STAFF = "agency_staff"
    PURCHASER_STAFF = "purchaser_staff"
    UNAVAILABLE = "unavailable"


class Relation(Enum):
    """How an expert was tied to an organisation."""

    EMPLOYMENT = "employment"  # 劳动关系
    DIRECTORSHIP = "directorship"  # 董事、监事
    CONTROL = "control"  # 控股股东、实际控制人


class Kinship(Enum):
    """Close kinship of 政府采购法实施条例 art. 9 (4)."""

    SPOUSE = "spouse"  # 夫妻
    LINEAL = "lineal"  # 直系血亲
    COLLATERAL = "collateral"  # 三代以内旁系血亲
    IN_LAW = "in_law"  # 近姻亲


@dataclass(frozen=True)
class DateRange:
    """Days from `start` to `end`, both included; ``end=None`` means open-ended. Requires start <= end."""

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise AvoidanceError("日期范围的结束早于开始（{start} 至 {end}）", start=self.start.isoformat(), end=self.end.isoformat())

    def meets(self, first: date, last: date) -> bool:
        """True when this range shares at least one day with ``[first, last]``."""
        return self.start <= last and (self.end is None or self.end >= first)


@dataclass(frozen=True)
class Affiliation:
    """A period in which the expert was tied to organisation `org` by `relation`."""

    org: str
    relation: Relation
    period: DateRange


@dataclass(frozen=True)
class Relative:
    """A declared close relative who works at (or represents) organisation `org`."""

    org: str
    kinship: Kinship


@dataclass(frozen=True)
class Expert:
    """An expert of the pool (专家库) as the rules see it. `id` is unique in the pool."""

    id: str
    specialties: frozenset[str] = frozenset()
    region: str = ""
    affiliations: tuple[Affiliation, ...] = ()
    relatives: tuple[Relative, ...] = ()
    unavailable: tuple[DateRange, ...] = ()
    active: bool = True

    def __post_init__(self) -> None:
        if not self.id:
            raise AvoidanceError("专家编号不能为空")


@dataclass(frozen=True)
class Agency:
    """The procurement agency (采购代理机构) running the tender, and optionally the purchaser (采购人)."""

    org: str
    purchaser: str | None = None


COMMITMENT_DOMAIN = "pingbiao-exclusion-v1"


def commitment(tender: str, expert: str, rule: str, fact: str) -> str:
    """SHA-256 (hex) committing to why `expert` was excluded from `tender`'s draw: the canonical
    JSON ``{"expert", "fact", "rule", "tender", "v": "pingbiao-exclusion-v1"}`` (sorted keys, no
    spaces, UTF-8). `fact` is the one-line reason ``reasons`` gives (or the eligibility rule's);
    an auditor with the expert database recomputes it (docs/experts.md)."""
    obj = {"expert": expert, "fact": fact, "rule": rule, "tender": tender, "v": COMMITMENT_DOMAIN}
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def exclusion_counts(exclusions: dict[Rule, list[tuple[str, str]]]) -> dict[str, int]:
    """How many experts each rule excluded, keyed by the rule's value; rules without exclusions omitted."""
    return {rule.value: len(items) for rule, items in exclusions.items() if items}


def lookback_start(on_date: date, years: int = LOOKBACK_YEARS) -> date:
    """The same calendar day `years` before `on_date` (29 February falls back to 28 February)."""
    try:
        return on_date.replace(year=on_date.year - years)
    except ValueError:
        return on_date.replace(year=on_date.year - years, day=28)


def reasons(expert: Expert, bidders: Iterable[str], agency: Agency, on_date: date) -> list[tuple[Rule, str]]:
    """Every rule that excludes `expert` for a tender with bidder organisations `bidders`, with a reason.

    Requires organisation identifiers normalised the same way on both sides. Empty: not excluded.
    """
    bidder_orgs = set(bidders)
    since = lookback_start(on_date)
    found: list[tuple[Rule, str]] = []
    for aff in expert.affiliations:
        if aff.org in bidder_orgs and aff.period.meets(since, on_date):
            end = aff.period.end.isoformat() if aff.period.end else "now"
            found.append(
                (
                    Rule(aff.relation.value),
                    f"{aff.relation.value} at bidder {aff.org} {aff.period.start}..{end}",
                )
            )
    for rel in expert.relatives:
        if rel.org in bidder_orgs:
            found.append((Rule.RELATIVE, f"declared {rel.kinship.value} relative at bidder {rel.org}"))
    for org, rule, what in (
        (agency.org, Rule.AGENCY_STAFF, "agency"),
        (agency.purchaser, Rule.PURCHASER_STAFF, "purchaser"),
    ):
        if org is None:
            continue
        if any(
            aff.org == org and aff.relation is Relation.EMPLOYMENT and aff.period.meets(on_date, on_date)
            for aff in expert.affiliations
        ):
            found.append((rule, f"employed by the {what} {org} on {on_date}"))
    if not expert.active:
        found.append((Rule.UNAVAILABLE, "inactive in the pool"))
    for period in expert.unavailable:
        if period.meets(on_date, on_date):
            found.append(
                (Rule.UNAVAILABLE, f"declared unavailable {period.start}..{period.end or 'further notice'}")
            )
    found.sort(key=lambda item: list(Rule).index(item[0]))
    return found


def eligible(
    experts: Sequence[Expert], bidders: Iterable[str], agency: Agency, on_date: date
) -> tuple[list[Expert], dict[Rule, list[tuple[str, str]]]]:
    """Split `experts` into those who may evaluate and, per rule, those excluded with reasons.

    `bidders` are the bidders' organisation identifiers. The eligible list keeps the input order;
    each exclusion list is in input order, at most one entry per expert and rule (the first reason).
    Requires unique expert ids.
    """
    bidder_orgs = frozenset(bidders)
    seen: set[str] = set()
    keep: list[Expert] = []
    excluded: dict[Rule, list[tuple[str, str]]] = {}
    for expert in experts:
        if expert.id in seen:
            raise AvoidanceError("专家「{expert}」在专家库中出现了两次", expert=expert.id)
        seen.add(expert.id)
        found = reasons(expert, bidder_orgs, agency, on_date)
        if not found:
            keep.append(expert)
            continue
        for rule, reason in found:
            items = excluded.setdefault(rule, [])
            if not items or items[-1][0] != expert.id:
                items.append((expert.id, reason))
    return keep, {rule: excluded[rule] for rule in Rule if rule in excluded}
