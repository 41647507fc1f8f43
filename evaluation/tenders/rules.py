"""Pure rules of a tender (招标项目): its procurement method, record fields, state machine, and the
validation of what an agency sends. No database, no clock: callers pass `now`.

Amounts are integer fen (分, 1/100 yuan) in the tender (``budget_fen``); a bidder's money fields in
the opening record are decimal yuan strings with at most two decimals (``"1268000.00"``), because
floats are not canonical in the audit log.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

from crypto.beacon import BEACON_ID
from crypto.chain import ChainInfo
from evaluation.errors import InvalidRequest, InvalidStateError, Text
from evaluation.tenders.criteria import Criterion, parse_criteria, parse_deviation_threshold, percent_text

__all__ = ["Criterion"]  # re-exported: the criteria rules live in evaluation/tenders/criteria.py

LOCAL_BEACON_NOTE = "本地信标：运营方可预知随机数，仅供演示/测试 (local beacon: its operator can compute future rounds; demo and tests only)"


def is_local_beacon(chain: ChainInfo) -> bool:
    """True for a chain of the embedded local beacon (crypto/beacon.py): its beacon id, or its group
    hash, which the local beacon derives from its key and genesis alone (so a renamed one shows too)."""
    derived = hashlib.sha256(b"pingbiao local beacon\n" + chain.public_key + chain.genesis_time.to_bytes(8, "big")).digest()
    return chain.beacon_id == BEACON_ID or chain.group_hash == derived


class Method(str, enum.Enum):
    """Procurement method (采购方式)."""

    OPEN = "open"  # 公开招标
    INVITED = "invited"  # 邀请招标
    NEGOTIATION = "negotiation"  # 竞争性谈判
    CONSULTATION = "consultation"  # 竞争性磋商
    INQUIRY = "inquiry"  # 询价
    SINGLE_SOURCE = "single_source"  # 单一来源


DEFAULT_MIN_BIDS = {m: 3 for m in Method} | {Method.SINGLE_SOURCE: 1}
"""The fewest bids each method allows (87号令 arts. 41, 43–44 and 政府采购法 art. 36 for 公开招标;
the negotiation, consultation and inquiry measures likewise ask for three): also the least ``min_bids``."""


class Category(str, enum.Enum):
    """What is bought (采购标的): sets the SME deduction range."""

    GOODS = "goods"  # 货物
    SERVICES = "services"  # 服务
    WORKS = "works"  # 工程


CATEGORY_NAMES = {Category.GOODS: Text("货物"), Category.SERVICES: Text("服务"), Category.WORKS: Text("工程")}
"""What is bought, as a message names it."""


SME_DEDUCTION_RANGE = {
    Category.GOODS: (Fraction(10), Fraction(20)),
    Category.SERVICES: (Fraction(10), Fraction(20)),
    Category.WORKS: (Fraction(3), Fraction(5)),
}
"""Percent range of the 小微企业 price deduction (财库〔2020〕46号 art. 9 as raised by 财库〔2022〕19号)."""

CHINA = timezone(timedelta(hours=8))
EVALUATION_WINDOW_DAYS = 30
"""The evaluation (and the 回避 date of the draw) is on the opening day or at most this many days
after it (China time): the platform's window, stated in docs/experts.md."""

SME_FIELD = "sme"
SME_DECLARING = frozenset({"小微企业", "小型企业", "微型企业", "small", "micro"})
SME_LETTER = "声明函"


class EvaluationMethod(str, enum.Enum):
    COMPREHENSIVE = "comprehensive"  # 综合评分法
    LOWEST_PRICE = "lowest_price"  # 最低评标价法


class FieldType(str, enum.Enum):
    MONEY = "money"  # decimal yuan, at most 2 decimals, as a string
    INTEGER = "integer"
    DAYS = "days"  # whole days, >= 0
    TEXT = "text"  # at most 500 characters


class TenderState(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    OPENING = "opening"
    OPENED = "opened"
    FAILED = "failed"  # 流标 at the opening, 废标 in the evaluation (failed_reason says which)
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    EVALUATING = "evaluating"
    AWARDED = "awarded"  # 结果公告: the result (中标/成交结果) is published


TRANSITIONS: dict[TenderState, frozenset[TenderState]] = {
    TenderState.DRAFT: frozenset({TenderState.PUBLISHED}),
    TenderState.PUBLISHED: frozenset({TenderState.OPENING}),
    TenderState.OPENING: frozenset({TenderState.OPENED}),
    TenderState.OPENED: frozenset({TenderState.FAILED, TenderState.CONFIRMING}),
    TenderState.CONFIRMING: frozenset({TenderState.CONFIRMED}),
    TenderState.CONFIRMED: frozenset({TenderState.EVALUATING}),
    TenderState.FAILED: frozenset(),
    TenderState.EVALUATING: frozenset({TenderState.FAILED, TenderState.AWARDED}),
    TenderState.AWARDED: frozenset(),
}


def check_transition(tender_id: str, old: TenderState, new: TenderState) -> None:
    """Raise InvalidStateError unless ``old -> new`` is an allowed transition."""
    if new not in TRANSITIONS[old]:
        raise InvalidStateError("项目当前为「{state}」，不能变为「{new}」", state=state_name(old), new=state_name(new))


STATE_NAMES = {"draft": "草稿", "published": "已发布", "opening": "开标中", "opened": "已开标", "failed": "流标",
               "confirming": "确认中", "confirmed": "已确认", "evaluating": "评标中", "awarded": "结果已公告"}
"""A tender's state as a message names it (the pages' labels are web/labels.py "state")."""


def state_name(state: TenderState) -> Text:
    """The state in words, as a message quotes it (translated with the message)."""
    return Text(STATE_NAMES.get(state.value, state.value))


FIELD_NAMES = {"title": Text("「项目名称」"), "description": Text("「项目说明」"), "method": Text("「采购方式」"),
               "budget_fen": Text("「预算金额」"), "opening_time": Text("「开标时间」"), "lots": Text("「分包」"),
               "record_fields": Text("「开标记录表」"), "evaluation_method": Text("「评标方法」"),
               "criteria": Text("「评审因素」"), "min_bids": Text("「最少投标人数」"),
               "max_bid_bytes": Text("「投标文件大小上限」"), "objection_window_s": Text("「异议期」"),
               "invited": Text("「受邀投标人」"), "category": Text("「采购类别」"),
               "sme_reserved": Text("「专门面向中小企业」"), "sme_deduction": Text("「小微企业价格扣除」"),
               "evaluation_date": Text("「评标日期」"), "deviation_threshold": Text("「偏离阈值」"),
               "name": Text("「名称」"), "label_zh": Text("「中文名称」"), "label_en": Text("「英文名称」"),
               "type": Text("「类型」")}
"""A field of a tender as a message names it: to the agency's clerk in words, in corner brackets;
in English by its key, as the API spells it."""


def field_name(name: str) -> Text:
    """「项目名称」 (English ``title``) for ``title``: the field as a message names it (its key when unnamed)."""
    return FIELD_NAMES.get(name.partition("[")[0]) or Text("「{name}」", name=name)


def require_state(tender_id: str, state: TenderState, *allowed: TenderState, doing: str, doing_zh: Text | None = None) -> None:
    """Raise InvalidStateError naming the current state in words unless it is one of `allowed`;
    `doing_zh` says what cannot be done (`doing` is the same for logs and callers' reading)."""
    if state not in allowed:
        if doing_zh is not None:
            raise InvalidStateError("项目当前为「{state}」，不能{doing}", state=state_name(state), doing=doing_zh)
        raise InvalidStateError("项目当前为「{state}」，不能办理此事", state=state_name(state))


@dataclass(frozen=True)
class RecordField:
    """One field of the opening record (开标记录表) that every bidder fills in its sealed bid."""

    key: str
    label_zh: str
    label_en: str
    type: FieldType
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "type": self.type.value}


DEFAULT_FIELDS = (
    RecordField("total_price", "总报价", "Total price", FieldType.MONEY),
    RecordField("delivery_days", "交货期", "Delivery period", FieldType.DAYS),
)
SME_RECORD_FIELD = RecordField(SME_FIELD, "企业规模声明（小微企业）", "Enterprise size declared (small/micro)",
                               FieldType.TEXT, required=False)
"""Added to the record of a tender with an SME deduction: a bid declaring 小微企业 here and
carrying a document whose name contains 声明函 (中小企业声明函) is deducted."""


@dataclass(frozen=True)
class Lot:
    """A lot (分包) of a tender."""

    name: str
    budget_fen: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


MIB = 1 << 20
DEFAULT_MAX_BID_BYTES = 100 * MIB
MAX_MAX_BID_BYTES = 2048 * MIB
DEFAULT_OBJECTION_WINDOW = 900
MAX_OBJECTION_WINDOW = 7 * 86400


@dataclass(frozen=True)
class TenderSpec:
    """Everything an agency decides about a tender. Validated by `parse_spec`."""

    title: str
    method: Method
    budget_fen: int
    opening_time: int  # unix seconds; the bid deadline is the same instant
    description: str = ""
    lots: tuple[Lot, ...] = ()
    record_fields: tuple[RecordField, ...] = DEFAULT_FIELDS
    evaluation_method: EvaluationMethod = EvaluationMethod.COMPREHENSIVE
    criteria: tuple[Criterion, ...] = ()
    min_bids: int = 3
    max_bid_bytes: int = DEFAULT_MAX_BID_BYTES
    objection_window_s: int = DEFAULT_OBJECTION_WINDOW
    invited: tuple[str, ...] = field(default=())
    category: Category = Category.GOODS
    sme_reserved: bool = False  # 专门面向中小企业采购: no deduction
    sme_deduction: Fraction | None = None  # percent deducted from a 小微企业's price (art. 9)
    evaluation_date: date | None = None  # the session's scheduled day; None: the opening day
    deviation_threshold: Fraction | None = None  # 畸高畸低: percent of a criterion's points; None: 30

    def scheduled_evaluation_date(self) -> date:
        """The evaluation day: the one stated, else the opening day (China time). Avoidance (回避)
        looks back three years from it; it cannot be chosen at the draw."""
        return self.evaluation_date or opening_day(self.opening_time)

    def sme_rate(self) -> Fraction:
        """The deduction as a share of the price (0 without one)."""
        return Fraction(0) if self.sme_deduction is None else self.sme_deduction / 100

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-safe plain values (the shape `parse_spec` reads back)."""
        return {
            "title": self.title,
            "description": self.description,
            "method": self.method.value,
            "budget_fen": self.budget_fen,
            "opening_time": format_time(self.opening_time),
            "lots": [lot.to_json() for lot in self.lots],
            "record_fields": [f.to_json() for f in self.record_fields],
            "evaluation_method": self.evaluation_method.value,
            "criteria": [c.to_json() for c in self.criteria],
            "min_bids": self.min_bids,
            "max_bid_bytes": self.max_bid_bytes,
            "objection_window_s": self.objection_window_s,
            "invited": list(self.invited),
            "category": self.category.value,
            "sme_reserved": self.sme_reserved,
            "sme_deduction": None if self.sme_deduction is None else _percent_text(self.sme_deduction),
            "evaluation_date": None if self.evaluation_date is None else self.evaluation_date.isoformat(),
            "deviation_threshold": None if self.deviation_threshold is None else percent_text(self.deviation_threshold),
        }


def opening_day(opening_time: int) -> date:
    return datetime.fromtimestamp(opening_time, CHINA).date()


def check_evaluation_date(opening_time: int, day: date | None) -> None:
    """Raise InvalidRequest unless `day` is within the window after the opening day."""
    if day is None:
        return
    first = opening_day(opening_time)
    if not first <= day <= first + timedelta(days=EVALUATION_WINDOW_DAYS):
        raise InvalidRequest(
            "评标日期须在开标当天至开标后 {n} 天之内（开标日为 {first}，收到 {day}）",
            n=EVALUATION_WINDOW_DAYS, first=first.isoformat(), day=day.isoformat(),
        )


def parse_date(value: Any, name: str) -> date | None:
    """An ISO calendar day (YYYY-MM-DD) or None. Raises InvalidRequest."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidRequest("{field}不是有效日期（格式为 年-月-日），收到 {got}", field=field_name(name), got=repr(str(value)[:20]))


def _percent_text(value: Fraction) -> str:
    """A percentage as a short decimal string ("10", "12.5"); fractions stay exact ("25/3")."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{Decimal(value.numerator) / Decimal(value.denominator):f}"
    return text if Fraction(text) == value else str(value)


def parse_sme_deduction(value: Any, category: Category, reserved: bool) -> Fraction | None:
    """The SME deduction percent a tender states (财库〔2020〕46号 art. 9): None without one; a
    reserved tender has none; otherwise within the category's range. Raises InvalidRequest."""
    if value is None:
        return None
    if reserved:
        raise InvalidRequest("专门面向中小企业的项目不设小微企业价格扣除")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidRequest("小微企业价格扣除须为百分比数字，如 10 或 12.5")
    try:
        rate = Fraction(value.strip()) if isinstance(value, str) else Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise InvalidRequest("小微企业价格扣除不是有效的百分比，收到 {got}", got=repr(str(value)[:20])) from None
    low, high = SME_DEDUCTION_RANGE[category]
    if not low <= rate <= high:
        raise InvalidRequest(
            "{category}项目的小微企业价格扣除须为 {low}%–{high}%（财库〔2020〕46号第九条），现为 {got}%",
            category=CATEGORY_NAMES[category], low=low, high=high, got=_percent_text(rate),
        )
    return rate


SPEC_KEYS = frozenset(TenderSpec.__dataclass_fields__)
AMENDABLE = SPEC_KEYS - {"opening_time", "record_fields", "method", "invited"}
"""What a 变更公告 may change: not the time (postpone), not what bidders sealed against."""

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MONEY = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$")
MAX_FEN = 10**17 - 1  # the largest amount _MONEY admits (15 digits of yuan, 2 of fen)


def money_fen(text: Any) -> int | None:
    """A yuan amount as people write it (commas allowed, at most 2 decimals, at most 15 digits of
    yuan) in fen; None when `text` is not one. Checked by pattern before any arithmetic."""
    if not isinstance(text, str):
        return None
    plain = text.strip().replace(",", "")
    if not _MONEY.match(plain):
        return None
    whole, _, cents = plain.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


MAX_TIME = 253402214400  # 9999-12-31T00:00:00Z: every time pingbiao writes has a four-digit year


def format_time(unix: int) -> str:
    """RFC 3339 UTC with a Z, whole seconds."""
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, name: str = "opening_time") -> int:
    """Unix seconds from an integer or an RFC 3339 string carrying a timezone."""
    if isinstance(value, bool):
        raise InvalidRequest("{field}须为带时区的时间", field=field_name(name))
    if isinstance(value, int):
        unix = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest("{field}不是有效的时间，收到 {got}", field=field_name(name), got=repr(value[:40])) from None
        if moment.tzinfo is None:
            raise InvalidRequest("{field}缺少时区（请加上 +08:00 或 Z），收到 {got}", field=field_name(name), got=repr(value[:40]))
        unix = int(moment.timestamp())
    else:
        raise InvalidRequest("{field}须为带时区的时间", field=field_name(name))
    if not 0 <= unix <= MAX_TIME:
        raise InvalidRequest("{field}超出范围（须在 1970 至 9999 年之间），收到 {got}", field=field_name(name), got=repr(str(value)[:40]))
    return unix


def _text(data: dict[str, Any], name: str, *, maximum: int, required: bool = True, default: str = "") -> str:
    value = data.get(name, None if required else default)
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidRequest("{field}不能为空" if required else "{field}须为文字", field=field_name(name))
    if len(value) > maximum:
        raise InvalidRequest("{field}不能超过 {n} 个字", field=field_name(name), n=maximum)
    return value.strip()


def _int(data: dict[str, Any], name: str, *, default: int | None, low: int, high: int) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest("{field}须为整数", field=field_name(name))
    if not low <= value <= high:
        raise InvalidRequest("{field}须在 {low} 到 {high} 之间，现为 {got}", field=field_name(name), low=low, high=high, got=value)
    return value


def _enum(cls: type[enum.Enum], data: dict[str, Any], name: str, default: Any = None) -> Any:
    value = data.get(name, default)
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
        raise InvalidRequest("{field}的取值无效（可选 {allowed}），收到 {got}", field=field_name(name), allowed=allowed,
                             got=repr(str(value)[:40])) from None


def _list(data: dict[str, Any], name: str, maximum: int) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise InvalidRequest("{field}须为列表", field=field_name(name))
    if len(value) > maximum:
        raise InvalidRequest("{field}最多 {n} 项", field=field_name(name), n=maximum)
    for n, item in enumerate(value):
        if not isinstance(item, (dict, str)):
            raise InvalidRequest("{field}第 {n} 项格式不对", field=field_name(name), n=n + 1)
    return value


def parse_record_fields(items: list[Any]) -> tuple[RecordField, ...]:
    fields: list[RecordField] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRequest("开标记录表第 {n} 栏格式不对", n=n + 1)
        key = item.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidRequest("开标记录表第 {n} 栏的代号须以小写字母开头，只含小写字母、数字和下划线，最多 32 个", n=n + 1)
        if key in {f.key for f in fields}:
            raise InvalidRequest("开标记录表第 {n} 栏的代号「{key}」重复", n=n + 1, key=key)
        if key == "lots":
            raise InvalidRequest("开标记录表的栏目代号「lots」留给分包报价使用")
        required = item.get("required", True)
        if not isinstance(required, bool):
            raise InvalidRequest("开标记录表第 {n} 栏的「必填」须为是或否", n=n + 1)
        fields.append(
            RecordField(
                key,
                _text(item, "label_zh", maximum=60),
                _text(item, "label_en", maximum=80),
                _enum(FieldType, item, "type"),
                required,
            )
        )
    if not fields:
        raise InvalidRequest("开标记录表至少要有一个栏目")
    return tuple(fields)


def parse_spec(data: Any, *, stored: bool = False) -> TenderSpec:
    """Validate a tender as the API receives it. Raises InvalidRequest naming the first bad field
    (for the criteria: every mistake in them). `stored`: read back from the database, where a tender
    saved before the criteria rules of evaluation/tenders/criteria.py still loads."""
    if not isinstance(data, dict):
        raise InvalidRequest("项目内容格式不对")
    unknown = set(data) - SPEC_KEYS
    if unknown:
        raise InvalidRequest("项目中有无法识别的内容：{fields}", fields=", ".join(sorted(unknown)))
    method = _enum(Method, data, "method", Method.OPEN.value)
    lots = tuple(
        Lot(_text(item, "name", maximum=200), _int(item, "budget_fen", default=0, low=0, high=10**15))
        for item in _list(data, "lots", 100)
    )
    evaluation = _enum(EvaluationMethod, data, "evaluation_method", EvaluationMethod.COMPREHENSIVE.value)
    category = _enum(Category, data, "category", Category.GOODS.value)
    criteria = parse_criteria(data.get("criteria"), evaluation.value, category.value, whole=not stored)
    invited = data.get("invited", [])
    if not isinstance(invited, list) or not all(isinstance(x, str) and x for x in invited) or len(invited) > 500:
        raise InvalidRequest("受邀投标人须为投标人账号名称的列表")
    if method in (Method.INVITED, Method.SINGLE_SOURCE) and not invited:
        raise InvalidRequest("此采购方式须列出受邀投标人")
    raw_fields = data.get("record_fields")
    fields = DEFAULT_FIELDS if raw_fields is None else parse_record_fields(_list(data, "record_fields", 50))
    reserved = data.get("sme_reserved", False)
    if not isinstance(reserved, bool):
        raise InvalidRequest("「专门面向中小企业」须为是或否")
    deduction = parse_sme_deduction(data.get("sme_deduction"), category, reserved)
    if deduction is not None and SME_FIELD not in {f.key for f in fields}:
        fields = (*fields, SME_RECORD_FIELD)
    spec = TenderSpec(
        title=_text(data, "title", maximum=200),
        description=_text(data, "description", maximum=20000, required=False),
        method=method,
        budget_fen=_int(data, "budget_fen", default=None, low=0, high=10**15),
        opening_time=parse_time(data.get("opening_time")),
        lots=lots,
        record_fields=fields,
        evaluation_method=evaluation,
        criteria=criteria,
        min_bids=_int(data, "min_bids", default=DEFAULT_MIN_BIDS[method], low=1, high=1000),
        max_bid_bytes=_int(data, "max_bid_bytes", default=DEFAULT_MAX_BID_BYTES, low=1024, high=MAX_MAX_BID_BYTES),
        objection_window_s=_int(
            data, "objection_window_s", default=DEFAULT_OBJECTION_WINDOW, low=0, high=MAX_OBJECTION_WINDOW
        ),
        invited=tuple(dict.fromkeys(invited)),
        category=category,
        sme_reserved=reserved,
        sme_deduction=deduction,
        evaluation_date=parse_date(data.get("evaluation_date"), "evaluation_date"),
        deviation_threshold=parse_deviation_threshold(data.get("deviation_threshold")),
    )
    least = DEFAULT_MIN_BIDS[method]
    if spec.min_bids < least:
        raise InvalidRequest(
            "此采购方式的最少投标人数不能少于 {least} 家（87号令第四十一、四十三、四十四条，政府采购法第三十六条），现为 {got} 家",
            least=least, got=spec.min_bids,
        )
    check_evaluation_date(spec.opening_time, spec.evaluation_date)
    return spec


def sme_deduction_of(spec: TenderSpec, fields: dict[str, Any], documents: list[dict[str, Any]]) -> Fraction:
    """The deduction rate (a share) a bid of the opening record qualifies for: the tender has one,
    the bid declares 小微企业 in its ``sme`` field and carries a 声明函 document. 0 otherwise."""
    if spec.sme_deduction is None:
        return Fraction(0)
    declared = str(fields.get(SME_FIELD) or "").strip().lower() in SME_DECLARING
    letter = any(SME_LETTER in str(d.get("name", "")) for d in documents)
    return spec.sme_rate() if declared and letter else Fraction(0)


def amend_spec(spec: TenderSpec, changes: Any) -> tuple[TenderSpec, dict[str, Any]]:
    """Apply a 变更公告 to `spec`: the new spec and the changed fields as JSON. Pure.

    Raises InvalidRequest for fields that cannot be amended or an empty change.
    """
    if not isinstance(changes, dict) or not changes:
        raise InvalidRequest("请填写要变更的内容")
    fixed = set(changes) - AMENDABLE
    if fixed:
        raise InvalidRequest(
            "这些内容发布后不能变更：{fields}（开标时间请办理延期）" if "opening_time" in fixed else "这些内容发布后不能变更：{fields}",
            fields=", ".join(sorted(fixed)),
        )
    merged = {**spec.to_json(), **changes}
    new = parse_spec(merged)
    new = replace(new, opening_time=spec.opening_time)
    before, after = spec.to_json(), new.to_json()
    diff = {k: after[k] for k in after if after[k] != before[k]}
    if "record_fields" in diff:
        raise InvalidRequest("小微企业价格扣除需要投标人密封的「是否小微企业」栏目，请在发布前设置")
    if "lots" in diff and [lot.name for lot in new.lots] != [lot.name for lot in spec.lots]:
        raise InvalidRequest("分包的数量和名称在发布后不能变更（投标人按包号密封报价），只能变更分包预算")
    if not diff:
        raise InvalidRequest("变更内容与原项目相同")
    return new, diff


def spec_from_json(data: dict[str, Any]) -> TenderSpec:
    """Read back a spec stored with `TenderSpec.to_json` (trusted; still validated; fields added
    later take their defaults, criteria saved before the set rules still load)."""
    return parse_spec(data, stored=True)


def check_value(f: RecordField, value: Any) -> Any:
    """The canonical form of a bidder's value for field `f`; raises InvalidRequest naming the field."""
    label = f.label_zh
    if value is None or value == "":
        if f.required:
            raise InvalidRequest("「{label}」未填写", label=label)
        return None
    if f.type is FieldType.MONEY:
        fen = money_fen(str(value) if isinstance(value, int) and not isinstance(value, bool) else value)
        if fen is None:
            raise InvalidRequest("「{label}」须为以元为单位、最多两位小数的金额，收到 {got}", label=label, got=repr(str(value)[:40]))
        return f"{fen // 100}.{fen % 100:02d}"
    if f.type in (FieldType.INTEGER, FieldType.DAYS):
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,15}", value.strip()):
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**53 - 1:
            raise InvalidRequest("「{label}」须为整数，收到 {got}", label=label, got=repr(str(value)[:40]))
        if f.type is FieldType.DAYS and value < 0:
            raise InvalidRequest("「{label}」不能为负数", label=label)
        return value
    if not isinstance(value, str):
        raise InvalidRequest("「{label}」须为文字", label=label)
    if len(value) > 500:
        raise InvalidRequest("「{label}」不能超过 500 个字", label=label)
    return value.strip()


def check_record(fields: tuple[RecordField, ...], values: Any) -> dict[str, Any]:
    """Validate a bidder's whole record against the tender's fields. Unknown keys are refused."""
    if not isinstance(values, dict):
        raise InvalidRequest("开标记录格式不对")
    unknown = set(values) - {f.key for f in fields}
    if unknown:
        raise InvalidRequest("开标记录中有无法识别的栏目：{fields}", fields=", ".join(sorted(unknown))[:200])
    return {f.key: check_value(f, values.get(f.key)) for f in fields}
