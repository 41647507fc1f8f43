"""One expert of the pool (专家库) from a CSV row or a form; pure, no I/O (docs/experts.md, "CSV").

Columns are named in Chinese or English (``HEADERS``). Within a cell, items are separated by ``;``
and an item's fields by ``|``: ``employers`` = ``org|employee|2019-01-01|2022-06-30`` (role
employee, director or controller; an empty end means "still so"), ``relatives`` = ``org|spouse``,
``unavailable`` = ``2026-05-01|2026-05-10``. Every problem of a row is found, not only the first:
``parse_fields`` returns them all, each one line in Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from evaluation.errors import InvalidRequest, Text
from evaluation.experts.avoidance import Affiliation, DateRange, Expert, Kinship, Relation, Relative
from evaluation.inputs import is_text

HEADERS: dict[str, tuple[str, str]] = {
    "code": ("专家编号", "code"),
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "id number"),
    "username": ("平台账号", "username"),
    "region": ("地区代码", "region"),
    "sites": ("场地", "sites"),
    "specialties": ("专业", "specialties"),
    "employers": ("工作单位", "employers"),
    "relatives": ("亲属", "relatives"),
    "unavailable": ("不可参加日期", "unavailable"),
    "active": ("状态", "active"),
}
"""Each column: its key, its Chinese header (the template's) and its English header."""
COLUMNS = tuple(HEADERS)
REQUIRED = ("name", "region", "specialties")
ALIASES = {h.lower(): key for key, names in HEADERS.items() for h in (*names, key)} | {"id": "code", "地区": "region"}
LABEL = {key: names[0] for key, names in HEADERS.items()}
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
SPECIALTY_RE = re.compile(r"[A-Z][A-Z0-9]{1,11}")
REGION_RE = re.compile(r"\d{6}(?:\d{3}){0,2}")
ID_NUMBER_RE = re.compile(r"\d{17}[\dX]")
USERNAME_MAX = 64
SITE_CAPABILITIES = ("main", "remote")
SITE_WORDS = {"main": "main", "remote": "remote", "主场": "main", "副场": "remote"}
ROLES = {"employee": Relation.EMPLOYMENT, "director": Relation.DIRECTORSHIP, "controller": Relation.CONTROL,
         "任职": Relation.EMPLOYMENT, "董事": Relation.DIRECTORSHIP, "控制": Relation.CONTROL}
ROLE_NAMES = {Relation.EMPLOYMENT: "employee", Relation.DIRECTORSHIP: "director", Relation.CONTROL: "controller"}
TRUE, FALSE = {"", "1", "true", "yes", "y", "是", "在库"}, {"0", "false", "no", "n", "否", "暂停"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting so is refused: a spreadsheet opening the file again would run it (CSV injection)."""
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number_ok(text: str) -> bool:
    """An 18-character resident ID number (GB 11643) whose check character (ISO 7064 MOD 11-2) is right."""
    if not ID_NUMBER_RE.fullmatch(text):
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(text, _WEIGHTS, strict=False)) % 11] == text[17]


def mask_id_number(text: str | None) -> str:
    """``3301**********123X``: enough for an officer to tell two experts apart, not the number."""
    return "" if not text else text[:4] + "*" * (len(text) - 8) + text[-4:]


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
    id_number: str | None = None
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
            "id_number": self.id_number,
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
            id_number=obj.get("id_number"),
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
        raise RowError("{what}：{text} 不是日期（应为 YYYY-MM-DD）", what=Text(what), text=text.strip()[:40]) from None


def _range(start: str, end: str, what: str) -> DateRange:
    first = _date(start, what)
    last = _date(end, what) if end.strip() else None
    if last is not None and last < first:
        raise RowError("{what}：结束日期 {last} 早于开始日期 {first}", what=Text(what), last=last.isoformat(), first=first.isoformat())
    return DateRange(first, last)


def _items(cell: str) -> list[list[str]]:
    return [[f.strip() for f in item.split("|")] for item in cell.split(";") if item.strip()]


@dataclass(frozen=True)
class RowDraft:
    """One expert as a row or a form gives it: `code` (专家编号) and the linked account's
    `username` may be absent; the record's id is `code` or "" until the pool assigns one."""

    code: str | None
    username: str | None
    record: ExpertRecord


def _affiliations(cell: str) -> tuple[Affiliation, ...]:
    out = []
    for item in _items(cell):
        if len(item) not in (3, 4) or not item[0]:
            raise RowError("工作单位 {item} 的格式应为 单位代码|关系|起始日期|截止日期", item="|".join(item)[:80])
        if item[1] not in ROLES:
            raise RowError("工作单位关系 {relation} 应为 employee（任职）、director（董事）或 controller（控制）", relation=item[1][:20])
        out.append(Affiliation(item[0], ROLES[item[1]], _range(item[2], item[3] if len(item) == 4 else "", "工作单位")))
    return tuple(out)


def _relatives(cell: str) -> tuple[Relative, ...]:
    kinships = {k.value for k in Kinship}
    out = []
    for item in _items(cell):
        if len(item) != 2 or not item[0] or item[1] not in kinships:
            raise RowError("亲属 {item} 的格式应为 单位代码|{kinships}", item="|".join(item)[:80], kinships="/".join(sorted(kinships)))
        out.append(Relative(item[0], Kinship(item[1])))
    return tuple(out)


def _unavailable(cell: str) -> tuple[DateRange, ...]:
    out = []
    for item in _items(cell):
        if len(item) not in (1, 2):
            raise RowError("不可参加日期 {item} 的格式应为 起始日期|截止日期", item="|".join(item)[:80])
        out.append(_range(item[0], item[1] if len(item) == 2 else "", "不可参加日期"))
    return tuple(out)


def parse_fields(row: dict[str, Any]) -> tuple[RowDraft | None, dict[str, Text]]:
    """A row or a form (column key → cell text) as a RowDraft, or None with every problem found,
    keyed by column (each one line, a Text)."""
    errors: dict[str, Text] = {}
    cell: dict[str, str] = {}
    for key in COLUMNS:
        raw = row.get(key)
        text = "" if raw is None else str(raw)
        if not is_text(text):
            errors[key] = Text("{column} 含有无效字符", column=Text(LABEL[key]))
        elif text.lstrip(" ").startswith(FORMULA_START):
            errors[key] = Text("{column} 以 {start} 开头，疑似表格公式，不予导入", column=Text(LABEL[key]), start=repr(text.lstrip(" ")[0]))
        elif len(text) > 4000:
            errors[key] = Text("{column} 过长（超过 4000 字）", column=Text(LABEL[key]))
        cell[key] = text.strip() if key not in errors else ""
    for key in REQUIRED:
        if key not in errors and not cell[key]:
            errors[key] = Text("缺少{column}", column=Text(LABEL[key]))
    code = cell["code"] or None
    if code is not None and not ID_RE.fullmatch(code):
        errors["code"] = Text("专家编号应为 1–40 位字母、数字、“_”“.”“-”")
    if len(cell["name"]) > 256:
        errors["name"] = Text("姓名超过 256 字")
    id_number = cell["id_number"].upper() or None
    if id_number is not None and not id_number_ok(id_number):
        errors["id_number"] = Text("身份证号应为 18 位且校验位正确")
    username = cell["username"] or None
    if username is not None and len(username) > USERNAME_MAX:
        errors["username"] = Text("平台账号超过 {max} 个字符", max=USERNAME_MAX)
    if cell["region"] and not REGION_RE.fullmatch(cell["region"]):
        errors["region"] = Text("地区代码 {region} 应为 6、9 或 12 位数字（GB/T 2260，如 330102）", region=cell["region"][:20])
    codes = [c.strip() for c in cell["specialties"].replace("；", ";").split(";") if c.strip()]
    bad = [c for c in codes if not SPECIALTY_RE.fullmatch(c)]
    if bad:
        errors["specialties"] = Text("专业代码 {code} 应为大写字母开头、2–12 位大写字母或数字（如 A01）", code=bad[0][:20])
    sites = [SITE_WORDS.get(s.strip().lower(), "?") for s in (cell["sites"] or "main;remote").replace("；", ";").split(";") if s.strip()]
    if not sites or "?" in sites:
        errors["sites"] = Text("场地应为 主场、副场 或 主场;副场")
    parts: dict[str, Any] = {}
    for key, read in (("employers", _affiliations), ("relatives", _relatives), ("unavailable", _unavailable)):
        try:
            parts[key] = read(cell[key])
        except RowError as exc:
            errors[key] = exc.text
    active = cell["active"].lower()
    if active not in TRUE | FALSE:
        errors["active"] = Text("状态应为 在库 或 暂停（1 或 0）")
    if errors:
        return None, {k: errors[k] for k in COLUMNS if k in errors}
    record = ExpertRecord(
        id=code or "", name=cell["name"], region=cell["region"], specialties=frozenset(codes), sites=frozenset(sites),
        id_number=id_number, affiliations=parts["employers"], relatives=parts["relatives"],
        unavailable=parts["unavailable"], active=active in TRUE,
    )
    return RowDraft(code, username, record), {}


def parse_row(row: dict[str, Any]) -> RowDraft:
    """One row as a RowDraft; RowError with every problem, joined by "；"."""
    draft, errors = parse_fields(row)
    if draft is None:
        raise RowError(Text.join(errors.values()))
    return draft
