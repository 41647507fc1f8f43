"""Parsing one expert of the pool (专家库) from a CSV row; pure, no I/O (docs/experts.md, "CSV").

Within a cell, items are separated by ``;`` and an item's fields by ``|``:
``employers`` = ``org|employee|2019-01-01|2022-06-30`` (role employee, director or controller; an
empty end means "still so"), ``relatives`` = ``org|spouse``, ``unavailable`` = ``2026-05-01|2026-05-10``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from evaluation.errors import InvalidRequest
from evaluation.experts.avoidance import Affiliation, DateRange, Expert, Kinship, Relation, Relative

COLUMNS = ("id", "name", "account", "region", "sites", "specialties", "employers", "relatives", "unavailable", "active")
REQUIRED = ("id", "name", "region", "specialties")
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
SPECIALTY_RE = re.compile(r"[A-Z][A-Z0-9]{1,11}")
REGION_RE = re.compile(r"\d{6}(?:\d{3}){0,2}")
SITE_CAPABILITIES = ("main", "remote")
ROLES = {"employee": Relation.EMPLOYMENT, "director": Relation.DIRECTORSHIP, "controller": Relation.CONTROL}
ROLE_NAMES = {v: k for k, v in ROLES.items()}
TRUE, FALSE = {"", "1", "true", "yes", "y", "是"}, {"0", "false", "no", "n", "否"}


class RowError(InvalidRequest):
    """One CSV row cannot be accepted; the message says why."""


@dataclass(frozen=True)
class ExpertRecord:
    """An expert of the pool as stored: who, where, what, and what the avoidance rules need."""

    id: str
    name: str
    region: str
    specialties: frozenset[str]
    sites: frozenset[str] = frozenset(SITE_CAPABILITIES)
    account_id: str | None = None
    affiliations: tuple[Affiliation, ...] = ()
    relatives: tuple[Relative, ...] = ()
    unavailable: tuple[DateRange, ...] = ()
    active: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def rules_view(self) -> Expert:
        """The expert as evaluation.avoidance sees it."""
        return Expert(self.id, self.specialties, self.region, self.affiliations, self.relatives, self.unavailable, self.active)

    def to_json(self) -> dict[str, Any]:
        """Everything, for administrators and supervisors (personal data: not for the audit log)."""
        return {
            "id": self.id,
            "name": self.name,
            "account_id": self.account_id,
            "region": self.region,
            "sites": sorted(self.sites),
            "specialties": sorted(self.specialties),
            "employers": [
                {"org": a.org, "role": ROLE_NAMES[a.relation], "from": a.period.start.isoformat(),
                 "to": a.period.end.isoformat() if a.period.end else None}
                for a in self.affiliations
            ],
            "relatives": [{"org": r.org, "kinship": r.kinship.value} for r in self.relatives],
            "unavailable": [
                {"from": p.start.isoformat(), "to": p.end.isoformat() if p.end else None} for p in self.unavailable
            ],
            "active": self.active,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ExpertRecord:
        """Read ``to_json`` output back (the stored form)."""
        return cls(
            id=obj["id"],
            name=obj["name"],
            account_id=obj.get("account_id"),
            region=obj["region"],
            sites=frozenset(obj["sites"]),
            specialties=frozenset(obj["specialties"]),
            affiliations=tuple(
                Affiliation(e["org"], ROLES[e["role"]], _range(e["from"], e["to"] or "", "employer"))
                for e in obj["employers"]
            ),
            relatives=tuple(Relative(r["org"], Kinship(r["kinship"])) for r in obj["relatives"]),
            unavailable=tuple(_range(p["from"], p["to"] or "", "unavailable") for p in obj["unavailable"]),
            active=bool(obj["active"]),
        )


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RowError(f"{what}: {text.strip()!r} is not a date (YYYY-MM-DD)") from None


def _range(start: str, end: str, what: str) -> DateRange:
    first = _date(start, what)
    last = _date(end, what) if end.strip() else None
    if last is not None and last < first:
        raise RowError(f"{what}: ends {last} before it starts {first}")
    return DateRange(first, last)


def _items(cell: str) -> list[list[str]]:
    return [[f.strip() for f in item.split("|")] for item in cell.split(";") if item.strip()]


def parse_row(row: dict[str, str]) -> ExpertRecord:
    """One CSV row (column name → cell) as an ExpertRecord. Raises RowError naming the bad cell."""
    cell = {k: (row.get(k) or "").strip() for k in COLUMNS}
    for name in REQUIRED:
        if not cell[name]:
            raise RowError(f"missing {name}")
    if not ID_RE.fullmatch(cell["id"]):
        raise RowError(f"id {cell['id']!r} must be 1-40 letters, digits, '_', '.', '-'")
    if len(cell["name"]) > 256:
        raise RowError("name is longer than 256 characters")
    if not REGION_RE.fullmatch(cell["region"]):
        raise RowError(f"region {cell['region']!r} is not a GB/T 2260 code of 6, 9 or 12 digits")
    codes = [c.strip() for c in cell["specialties"].split(";") if c.strip()]
    bad = [c for c in codes if not SPECIALTY_RE.fullmatch(c)]
    if bad or not codes:
        raise RowError(f"bad specialty code {bad[0] if bad else cell['specialties']!r} (A-Z then 1-11 of A-Z, 0-9)")
    sites = [s.strip().lower() for s in (cell["sites"] or "main;remote").split(";") if s.strip()]
    if not sites or any(s not in SITE_CAPABILITIES for s in sites):
        raise RowError(f"sites {cell['sites']!r} must be main, remote or main;remote")
    affiliations = []
    for item in _items(cell["employers"]):
        if len(item) not in (3, 4) or not item[0]:
            raise RowError(f"employer {'|'.join(item)!r} must be org|role|from|to")
        if item[1] not in ROLES:
            raise RowError(f"employer role {item[1]!r} must be employee, director or controller")
        affiliations.append(Affiliation(item[0], ROLES[item[1]], _range(item[2], item[3] if len(item) == 4 else "", "employer")))
    relatives = []
    for item in _items(cell["relatives"]):
        kinships = {k.value for k in Kinship}
        if len(item) != 2 or not item[0] or item[1] not in kinships:
            raise RowError(f"relative {'|'.join(item)!r} must be org|{'/'.join(sorted(kinships))}")
        relatives.append(Relative(item[0], Kinship(item[1])))
    unavailable = []
    for item in _items(cell["unavailable"]):
        if len(item) not in (1, 2):
            raise RowError(f"unavailable {'|'.join(item)!r} must be from|to")
        unavailable.append(_range(item[0], item[1] if len(item) == 2 else "", "unavailable"))
    active = cell["active"].lower()
    if active not in TRUE | FALSE:
        raise RowError(f"active {cell['active']!r} must be 1 or 0")
    return ExpertRecord(
        id=cell["id"],
        name=cell["name"],
        account_id=cell["account"] or None,
        region=cell["region"],
        sites=frozenset(sites),
        specialties=frozenset(codes),
        affiliations=tuple(affiliations),
        relatives=tuple(relatives),
        unavailable=tuple(unavailable),
        active=active in TRUE,
    )
