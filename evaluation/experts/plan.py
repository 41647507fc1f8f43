"""Reading an agency's draw criteria and seating a drawn committee; pure, no I/O.

The body of ``POST /api/tenders/{id}/draw`` (docs/experts.md, "Requesting a draw") becomes a
committee plan checked by evaluation.committee and the evaluation.draw criteria.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from evaluation.errors import InvalidRequest
from evaluation.experts.committee import ProcurementMethod, validate_committee_plan
from evaluation.experts.draw import DrawCriteria, DrawError, PoolExpert, SiteQuota, SiteRole
from evaluation.tenders.rules import Method, TenderSpec

METHODS = {
    Method.OPEN: ProcurementMethod.OPEN_TENDER,
    Method.INVITED: ProcurementMethod.INVITED_TENDER,
    Method.NEGOTIATION: ProcurementMethod.COMPETITIVE_NEGOTIATION,
    Method.CONSULTATION: ProcurementMethod.COMPETITIVE_CONSULTATION,
    Method.INQUIRY: ProcurementMethod.INQUIRY,
    Method.SINGLE_SOURCE: ProcurementMethod.SINGLE_SOURCE,
}
_KEYS = {"size", "purchaser_reps", "complex", "open_tender_threshold_fen", "specialties", "sites", "evaluation_date", "purchaser"}
_SITE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Plan:
    """A checked draw plan: the committee size, purchaser's representatives, the criteria, the day."""

    size: int
    purchaser_reps: int
    criteria: DrawCriteria
    evaluation_date: date
    purchaser: str

    def to_json(self) -> dict[str, Any]:
        """The plan as logged (with the request): no personal data; the purchaser is an organisation."""
        return {
            "size": self.size,
            "purchaser_reps": self.purchaser_reps,
            "evaluation_date": self.evaluation_date.isoformat(),
            "purchaser": self.purchaser,
        }


def _int(body: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if type(value) is not int:
        raise InvalidRequest("抽取条件「{key}」须为整数", key=key)
    return value


def parse_plan(spec: TenderSpec, body: Any, now: float) -> Plan:
    """Check `body` against the tender's method and budget. Raises InvalidRequest (one line)."""
    if not isinstance(body, dict):
        raise InvalidRequest("抽取条件格式不对（应为 JSON 对象）")
    extra = sorted(set(body) - _KEYS)
    if extra:
        raise InvalidRequest("无法识别的抽取条件 {key}（可用：{known}）", key=repr(extra[0])[:40], known=", ".join(sorted(_KEYS)))
    size, reps = _int(body, "size"), _int(body, "purchaser_reps", 0)
    threshold = body.get("open_tender_threshold_fen")
    if threshold is not None and type(threshold) is not int:
        raise InvalidRequest("公开招标限额须为整数（分，open_tender_threshold_fen）")
    validate_committee_plan(
        METHODS[spec.method],
        spec.budget_fen // 100,
        size,
        reps,
        complex_or_high_impact=bool(body.get("complex", False)),
        open_tender_threshold_yuan=None if threshold is None else threshold // 100,
    )
    specialties = body.get("specialties") or {}
    if not isinstance(specialties, dict):
        raise InvalidRequest("专业名额须为「专业代码: 人数」")
    sites_in = body.get("sites") or []
    if not isinstance(sites_in, list) or not all(isinstance(s, dict) for s in sites_in):
        raise InvalidRequest("场地须为列表（场地、主副场、地区、人数）")
    try:
        sites = tuple(_site(s) for s in sites_in)
        criteria = DrawCriteria(size - reps, {str(k): v for k, v in specialties.items()}, sites)
    except DrawError as exc:
        raise InvalidRequest(exc.text) from None
    day = spec.scheduled_evaluation_date()
    asked = body.get("evaluation_date")
    if asked is not None and asked != day.isoformat():
        raise InvalidRequest("抽取只能按项目的评标日期（{day}）进行回避，请在项目中设置评标日期（收到 {got}）",
                             day=day.isoformat(), got=repr(str(asked)[:20]))
    purchaser = body.get("purchaser")
    if not isinstance(purchaser, str) or not purchaser.strip() or len(purchaser) > 100:
        raise InvalidRequest("请填写采购人的统一社会信用代码（用于回避）")
    return Plan(size, reps, criteria, day, purchaser.strip())


def _site(s: dict[str, Any]) -> SiteQuota:
    site = str(s.get("site", ""))
    if not _SITE_ID.fullmatch(site):
        raise InvalidRequest("场地编号须为 1–40 位小写字母、数字、下划线或连字符（收到 {got}）", got=repr(site[:40]))
    try:
        role = SiteRole(s.get("role"))
    except ValueError:
        raise InvalidRequest("场地「{site}」须为主场或副场（role 为 main 或 remote）", site=site) from None
    regions = s.get("regions")
    if not isinstance(regions, list) or not all(isinstance(r, str) and r.isdigit() for r in regions):
        raise InvalidRequest("场地「{site}」的地区须为地区代码前缀（数字）的列表", site=site)
    return SiteQuota(site, role, tuple(regions), s.get("count"))  # type: ignore[arg-type]


def site_role(criteria: DrawCriteria, region: str) -> tuple[str, str]:
    """(site id, "main"/"remote") of an expert from `region`; ("", "main") without site quotas."""
    for s in criteria.sites:
        if s.takes(region):
            return s.site, s.role.value
    return "", SiteRole.MAIN.value


def seat(criteria: DrawCriteria, members: Sequence[PoolExpert], own: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """A specialty for each member so that each quota code is given exactly its count.

    `own` are each expert's own specialty codes (used when there are no quotas: the first, sorted).
    Members are matched in order (augmenting paths), so the answer is deterministic.
    """
    if not criteria.specialties:
        return {m.id: (sorted(own.get(m.id, ())) or [""])[0] for m in members}
    slots = [code for code, n in sorted(criteria.specialties.items()) for _ in range(n)]
    holder: dict[int, str] = {}

    def place(expert: PoolExpert, seen: set[int]) -> bool:
        for i, code in enumerate(slots):
            if code in expert.specialties and i not in seen:
                seen.add(i)
                if i not in holder or place(by_id[holder[i]], seen):
                    holder[i] = expert.id
                    return True
        return False

    by_id = {m.id: m for m in members}
    for m in members:
        place(m, set())
    given = {e: slots[i] for i, e in holder.items()}
    return {m.id: given.get(m.id, "") for m in members}
