"""Re-deriving a tender's eligible pool from an audit bundle and an expert-database export
(`pingbiao experts export` / `pingbiao experts rederive-pool`).

The export (EXPORT_VERSION) holds what the database gives the draw request and the log does not:
every expert's rows the 回避 and eligibility rules read (no name, ID number or account), the
tender's bidder organisations and its agency's organisation. The bundle gives the rest: the
criteria and the frozen pool (``experts.draw_requested``'s request), the 回避 day and purchaser
(its plan), the experts who declined the tender before the request (``experts.declined``), and
the logged exclusions, each a rule and a commitment. The pool is recomputed with the draw's own
derivation (evaluation/experts/exclusions.py) and compared expert by expert, in id order; the
first expert that differs is named: in the logged pool but excluded (or missing) by the export,
excluded in the log but eligible, a different rule, or a commitment whose fact differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from evaluation.audit.bundle import verify_bundle
from evaluation.errors import DomainError, InvalidRequest, Text
from evaluation.experts import avoidance, draw
from evaluation.experts.exclusions import committed, derive
from evaluation.experts.pool_csv import ExpertRecord
from evaluation.experts.verify import DrawMismatch, tender_entries

EXPORT_VERSION = "pingbiao-experts-export-v1"
PERSONAL = ("name", "id_number", "account_id")  # not needed by the rules: left out of the export


class ExportError(InvalidRequest):
    """The expert-database export is malformed."""


def export_json(tender: str, records: list[ExpertRecord], bidders: list[str], agency: str) -> dict[str, Any]:
    """The export object: ``{"v", "tender", "agency", "bidders", "experts"}``, experts sorted by id."""
    rows = [{k: v for k, v in r.to_json().items() if k not in PERSONAL} for r in sorted(records, key=lambda r: r.id)]
    return {"v": EXPORT_VERSION, "tender": tender, "agency": agency, "bidders": sorted(bidders), "experts": rows}


def _no_float(text: str) -> float:
    raise ExportError("导出文件中有小数，不应出现（{number}）", number=text[:40])


def parse_export(text: str) -> tuple[str, list[ExpertRecord], list[str], str]:
    """(tender, records, bidders, agency) of an export. Raises ExportError, one line, when malformed."""
    try:
        obj = json.loads(text, parse_float=_no_float, parse_constant=_no_float)
    except RecursionError:
        raise ExportError("导出文件嵌套过深") from None
    except ValueError as exc:
        raise ExportError("导出文件不是有效的 JSON：{problem}", problem=str(exc)[:200]) from None
    if not isinstance(obj, dict) or obj.get("v") != EXPORT_VERSION:
        raise ExportError("导出文件的版本或格式不对（应为 {version} 对象）", version=EXPORT_VERSION)
    tender, agency, bidders, rows = obj.get("tender"), obj.get("agency"), obj.get("bidders"), obj.get("experts")
    if not isinstance(tender, str) or not isinstance(agency, str) or not isinstance(bidders, list) \
            or not all(isinstance(b, str) for b in bidders) or not isinstance(rows, list):
        raise ExportError("导出文件须包含项目、代理机构、投标人列表和专家列表")
    records = []
    for n, row in enumerate(rows):
        try:
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise TypeError("not an expert object with an id")
            records.append(ExpertRecord.from_json({**row, "name": ""}))
        except (DomainError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExportError("导出文件第 {n} 位专家的格式不对：{problem}", n=n + 1,
                              problem=exc.text if isinstance(exc, DomainError) else str(exc)[:200]) from None
    try:
        json.dumps(obj, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ExportError("导出文件中有无效字符") from None
    return tender, records, bidders, agency


@dataclass(frozen=True)
class PoolCheck:
    tender: str
    pool: int
    excluded: int

    def summary(self) -> str:
        return (f"ok: the pool of {self.pool} experts and {self.excluded} committed exclusions of tender "
                f"{self.tender} re-derive from the export")


def _state(pool: dict[str, Any], exclusions: list[dict[str, Any]]) -> dict[str, Any]:
    """Per expert: ("pool", specialties, region) or ("excluded", {rule: commitment})."""
    out: dict[str, Any] = {i: ("pool", tuple(sorted(e["specialties"])), e["region"]) for i, e in pool.items()}
    for x in exclusions:
        i = str(x.get("expert"))
        if isinstance(out.get(i), tuple):
            continue  # in the pool and excluded: verify-draw's own check names it
        out.setdefault(i, {})[str(x.get("rule"))] = str(x.get("commitment"))
    return out


def _rules(state: Any) -> str:
    return ", ".join(sorted(state))


def _difference(i: str, logged: Any, mine: Any) -> Text | None:
    if logged == mine:
        return None
    if logged is None:
        if isinstance(mine, tuple):
            return Text("专家 {expert} 按导出文件在专家库中，但既不在记录的专家库中，也没有回避记录（记录中被删除）", expert=i)
        return Text("专家 {expert} 按导出文件被回避（{rules}），但既不在记录的专家库中，也没有回避记录（记录中被删除）",
                    expert=i, rules=_rules(mine))
    if mine is None:
        if isinstance(logged, tuple):
            return Text("专家 {expert} 在记录的专家库中，但不在导出文件中（导出文件中被删除）", expert=i)
        return Text("专家 {expert} 在记录中被回避（{rules}），但不在导出文件中（导出文件中被删除）", expert=i, rules=_rules(logged))
    if isinstance(logged, tuple) and isinstance(mine, tuple):
        return Text("专家 {expert} 在记录的专家库中的专业和地区为 {logged}，导出文件为 {export}", expert=i,
                    logged=logged[1:], export=mine[1:])
    if isinstance(logged, tuple):
        return Text("专家 {expert} 在记录的专家库中，但按导出文件被回避（{rules}）", expert=i, rules=_rules(mine))
    if isinstance(mine, tuple):
        return Text("专家 {expert} 在记录中被回避（{rules}），但按导出文件符合条件", expert=i, rules=_rules(logged))
    if set(logged) != set(mine):
        return Text("专家 {expert} 在记录中按规则 {logged} 回避，按导出文件为 {export}（规则不符）", expert=i,
                    logged=_rules(logged), export=_rules(mine))
    rule = next(r for r in sorted(logged) if logged[r] != mine[r])
    return Text("专家 {expert} 的 {rule} 回避承诺与导出文件的事实不符（承诺不符）", expert=i, rule=rule)


def rederive_pool(directory: Path, tender: str, export_text: str) -> PoolCheck:
    """Verify the bundle, then re-derive the pool of `tender`'s last draw request from the export
    and compare. Raises DrawMismatch naming the first expert that differs, ExportError, BundleError."""
    verify_bundle(directory)
    exported_tender, records, bidders, agency_org = parse_export(export_text)
    if exported_tender != tender:
        raise ExportError("导出文件属于其他项目（{exported}，而非 {tender}）", exported=exported_tender, tender=tender)
    entries = tender_entries(directory, tender)
    requests = [n for n, e in enumerate(entries) if e["kind"] == "experts.draw_requested"]
    if not requests:
        raise DrawMismatch("审计包中没有该项目的抽取申请（项目 {tender}）", tender=tender)
    entry = entries[requests[-1]]
    p, where = entry["payload"], entry["index"]
    try:
        request = draw.DrawRequest.from_json(p["request"])
        plan = p["plan"]
        on_date = date.fromisoformat(plan["evaluation_date"])
        agency = avoidance.Agency(agency_org, plan.get("purchaser"))
        logged = p["exclusions"]
        if not isinstance(logged, list) or not all(isinstance(x, dict) for x in logged):
            raise TypeError("exclusions is not a list of objects")
    except (DomainError, KeyError, TypeError, ValueError) as exc:
        raise DrawMismatch("抽取申请缺少重算专家库所需的内容（第 {entry} 条记录）：{problem}", entry=where,
                           problem=exc.text if isinstance(exc, DomainError) else str(exc)[:200]) from None
    declined = [str(e["payload"].get("expert")) for e in entries[:requests[-1]] if e["kind"] == "experts.declined"]
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ExportError("导出文件中有重复的专家")
    elig, _, facts = derive(tender, request.criteria, records, bidders, agency, on_date, declined)
    pool_of = {e["id"]: e for e in draw.DrawRequest(tender, request.criteria, elig.pool).to_json()["pool"]}
    mine = _state(pool_of, committed(tender, facts))
    theirs = _state({e["id"]: e for e in p["request"]["pool"]}, logged)
    for i in sorted(set(mine) | set(theirs)):
        problem = _difference(i, theirs.get(i), mine.get(i))
        if problem:
            raise DrawMismatch("由导出文件重算的专家库与抽取申请不符（第 {entry} 条记录）：{problem}", entry=where, problem=problem)
    return PoolCheck(tender, len(elig.pool), len(logged))
