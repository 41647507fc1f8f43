"""Pure rules of the evaluation session (评标): its states, the check-in texts, the criteria and
configuration an agency gives, the leader vote, prices from the opening record, signed documents.

No database, no clock. docs/evaluation.md describes the session; the scoring and tally rules are
in evaluation/session/scoring.py and evaluation/session/tally.py and are used as they are.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from evaluation.audit.entry import canonical_json
from evaluation.errors import InvalidRequest, InvalidStateError, Text
from evaluation.session.scoring import (
    Category,
    Criteria,
    Criterion,
    Kind,
    LowBidRule,
    Method,
    ScoringError,
    check_price_weight,
    evaluated_price,
    points,
)
from evaluation.session.tally import Bid, TieRule
from evaluation.tenders.criteria import DEFAULT_DEVIATION_PERCENT
from evaluation.tenders.lots import lot_price
from evaluation.tenders.rules import MAX_FEN, money_fen


class SessionState(str, enum.Enum):
    """The evaluation session's states, in order (docs/evaluation.md)."""

    CHECKIN = "checkin"  # 签到
    ELECTION = "election"  # 推选评标组长
    SCORING = "scoring"  # 独立评分
    REVIEW = "review"  # 偏差与修改
    TALLY = "tally"  # 汇总 (waiting for a drawn tie order's beacon round)
    SIGNING = "signing"  # 评标报告签字
    DONE = "done"
    FAILED = "failed"  # 废标: too few valid bids after the committee's review


STATE_NAMES = {"checkin": "签到中", "election": "推选评标组长", "scoring": "独立评分", "review": "复核与修改",
               "tally": "汇总中", "signing": "评标报告签署", "done": "评标结束", "failed": "废标"}
"""A session's state as a message names it (the pages' labels are web/labels.py "session_state")."""


TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.CHECKIN: frozenset({SessionState.ELECTION}),
    SessionState.ELECTION: frozenset({SessionState.SCORING}),
    SessionState.SCORING: frozenset({SessionState.REVIEW, SessionState.FAILED}),
    SessionState.REVIEW: frozenset({SessionState.TALLY, SessionState.FAILED}),
    SessionState.TALLY: frozenset({SessionState.SIGNING}),
    SessionState.SIGNING: frozenset({SessionState.DONE}),
    SessionState.DONE: frozenset(),
    SessionState.FAILED: frozenset(),
}
ORDER = [s for s in SessionState if s is not SessionState.FAILED]


def check_transition(title: str, old: SessionState, new: SessionState) -> None:
    """Raise InvalidStateError unless ``old -> new`` is allowed; `title` names the evaluation
    (Session.title)."""
    if new not in TRANSITIONS[old]:
        raise InvalidStateError("{title}的评标当前为「{old}」，不能转为「{new}」", title=title,
                                old=Text(STATE_NAMES[old.value]), new=Text(STATE_NAMES[new.value]))


def require(title: str, state: SessionState, *allowed: SessionState, doing: Text) -> None:
    """Raise InvalidStateError naming the current state in words unless it is one of `allowed`.

    `title` names the evaluation (Session.title); `doing` is what is refused, a catalogue Text
    that ends the line: ``Text("不能提交评分表")``."""
    if state not in allowed:
        raise InvalidStateError("{title}的评标当前为「{state}」，{refused}", title=title,
                                state=Text(STATE_NAMES[state.value]), refused=doing)


def at_least(state: SessionState, floor: SessionState) -> bool:
    """True when `state` is `floor` or later; a failed session (废标) counts as past the review."""
    if state is SessionState.FAILED:
        return ORDER.index(floor) <= ORDER.index(SessionState.REVIEW)
    return ORDER.index(state) >= ORDER.index(floor)


# -- check-in texts (versioned; the page shows them, the log keeps their SHA-256) -----------------

DECLARATION_VERSION = "avoidance-v1"
DECLARATION_TEXT = (
    "回避声明 Avoidance declaration\n"
    "本人与本项目的供应商不存在下列关系：近三年内的劳动关系、担任董事或监事、控股或实际控制，"
    "夫妻、直系血亲、三代以内旁系血亲或近姻亲关系，以及其他可能影响公正评审的利害关系。"
    "如有，本人将立即申请回避。\n"
    "I have none of these ties to any bidder of this tender: employment, directorship, supervisory "
    "office, control or ownership within the past three years; spouse, lineal or collateral relative "
    "within three generations, or close in-law; any other interest that could affect a fair "
    "evaluation. Should one appear, I will withdraw at once."
)
COMMITMENT_VERSION = "commitment-v1"
COMMITMENT_TEXT = (
    "承诺书 Commitment\n"
    "本人承诺：依法独立、客观、公正评审；不私下接触供应商，不收受财物；对评审情况保密；"
    "按评审标准评分并对评审意见承担责任。\n"
    "I will evaluate independently, objectively and fairly as the law requires; I will not meet "
    "bidders privately or accept anything of value; I will keep the evaluation confidential; I will "
    "score by the published criteria and answer for my opinions."
)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


DECLARATION_SHA256 = text_sha256(DECLARATION_TEXT)
COMMITMENT_SHA256 = text_sha256(COMMITMENT_TEXT)


# -- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionConfig:
    """What the agency decides when starting the session (all optional, defaults below)."""

    method: Method
    category: Category = Category.GOODS
    deviation_threshold: Fraction = Fraction(3, 10)
    tie_rule: TieRule = TieRule.SHARED
    recommend: int = 3
    separated: bool = False  # 评定分离: candidates handed over unranked
    low_bid_fraction: Fraction | None = Fraction(4, 5)
    min_bids: int = 1  # the tender's min_bids: fewer valid bids after the review → 废标
    lot: int | None = None  # a multi-lot tender (分包): the lot this session evaluates

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "category": self.category.value,
            "deviation_threshold": str(self.deviation_threshold),
            "tie_rule": self.tie_rule.value,
            "recommend": self.recommend,
            "separated": self.separated,
            "low_bid_fraction": None if self.low_bid_fraction is None else str(self.low_bid_fraction),
            "min_bids": self.min_bids,
            **({} if self.lot is None else {"lot": self.lot}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionConfig:
        low = data.get("low_bid_fraction", "4/5")
        return cls(
            method=_enum(Method, data.get("method", "comprehensive"), "method"),
            category=_enum(Category, data.get("category", "goods"), "category"),
            deviation_threshold=points(data.get("deviation_threshold", "3/10")),
            tie_rule=_enum(TieRule, data.get("tie_rule", "shared"), "tie_rule"),
            recommend=_int(data.get("recommend", 3), "recommend", 1, 20),
            separated=_bool(data.get("separated", False), "separated"),
            low_bid_fraction=None if low is None else points(low),
            min_bids=_int(data.get("min_bids", 1), "min_bids", 1, 1000),
            lot=None if data.get("lot") is None else _int(data.get("lot"), "lot", 1, 100),
        )

    def __post_init__(self) -> None:
        if not 0 < self.deviation_threshold <= 1:
            raise InvalidRequest("畸高畸低偏差阈值须大于 0、不超过 100%，现为 {value}",
                                 value=str(self.deviation_threshold))

    @property
    def low_bid_rule(self) -> LowBidRule:
        return LowBidRule(others_fraction=self.low_bid_fraction)


def tender_threshold(percent: Fraction | None) -> str:
    """The session's deviation threshold (a share of an item's points) from the tender's 畸高畸低
    percent (None: the default 30 %), as the exact text SessionConfig reads: 30 → "3/10"."""
    return str((DEFAULT_DEVIATION_PERCENT if percent is None else percent) / 100)


def _enum(cls: type[enum.Enum], value: Any, name: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise InvalidRequest("取值无效：{name} 须为 {allowed} 之一（收到 {got}）", name=name, allowed=allowed,
                             got=repr(str(value)[:40])) from None


def _int(value: Any, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequest("{name} 的取值须为 {low} 至 {high} 的整数（收到 {got}）", name=name, low=low, high=high,
                             got=repr(str(value)[:40]))
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest("{name} 的取值须为是或否（收到 {got}）", name=name, got=repr(str(value)[:40]))
    return value


# -- criteria --------------------------------------------------------------------------------------

_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")
_PRICE_WORDS = ("价格", "报价", "price")


def criterion_json(c: Criterion) -> dict[str, Any]:
    return {
        "code": c.code,
        "kind": c.kind.value,
        "max_points": str(c.max_points),
        "allowed": [str(a) for a in c.allowed],
        "minimum": str(c.minimum),
        "title": c.title,
    }


def criteria_json(criteria: Criteria) -> list[dict[str, Any]]:
    return [criterion_json(c) for c in criteria.items]


def criteria_from_json(items: Any) -> Criteria:
    """Criteria as an agency sends them (and as logged): ``[{code, kind, max_points, allowed?,
    minimum?, title?}]``; points as integers or exact strings. Raises ScoringError."""
    if not isinstance(items, list) or not items:
        raise ScoringError("请至少列出一项评分因素")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ScoringError("第 {n} 项评分因素无效", n=i + 1)
        code = item.get("code")
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise ScoringError("第 {n} 项评分因素的编号无效（字母开头，最多 32 个字母、数字或 _.-）", n=i + 1)
        allowed = item.get("allowed", [])
        if not isinstance(allowed, list):
            raise ScoringError("第 {n} 项评分因素的可选分值须为列表", n=i + 1)
        title = item.get("title", "")
        if not isinstance(title, str) or len(title) > 200:
            raise ScoringError("第 {n} 项评分因素的名称不超过 200 字", n=i + 1)
        out.append(
            Criterion(
                code,
                _enum(Kind, item.get("kind"), f"criteria[{i}].kind"),
                points(item.get("max_points", 0)),
                tuple(sorted(points(a) for a in allowed)),
                points(item.get("minimum", 0)),
                title,
            )
        )
    return Criteria(tuple(out))


def criteria_from_tender(items: Sequence[Mapping[str, Any]]) -> Criteria:
    """Criteria from a tender's ``[{name, points, description, kind, allowed}]`` (evaluation/tenders/
    criteria.py): ``price`` (价格分) is the computed price item; ``objective`` (客观分) is scored
    with one of its allowed values (default 0 or the full points); ``subjective`` (主观分) anywhere in
    ``0..points``. An item stored before kinds existed is the price item when its name says price
    (价格, 报价, price), else subjective. Raises ScoringError when the tender has no criteria."""
    if not items:
        raise ScoringError("招标项目没有评分因素：请先在招标文件中设置评分因素")
    out = []
    for i, item in enumerate(items, start=1):
        name = str(item.get("name", ""))
        most = Fraction(int(item["points"]))
        kind = item.get("kind") or ("price" if any(w in name.lower() for w in _PRICE_WORDS) else "subjective")
        if kind == "price":
            out.append(Criterion(f"c{i}", Kind.PRICE, most, title=name))
        elif kind == "objective":
            allowed = tuple(sorted({points(str(a)) for a in item.get("allowed") or ()} or {Fraction(0), most}))
            out.append(Criterion(f"c{i}", Kind.TECHNICAL, most, allowed, title=name))
        else:
            out.append(Criterion(f"c{i}", Kind.TECHNICAL, most, title=name))
    return Criteria(tuple(out))


def check_criteria(criteria: Criteria, config: SessionConfig) -> None:
    """Raise ScoringError unless the criteria fit the method (综合评分法: price weight, art. 55;
    最低评标价法: no technical tie order, as there are no scores to order by)."""
    if config.method is Method.COMPREHENSIVE:
        check_price_weight(criteria, config.category)
    elif config.tie_rule is TieRule.TECHNICAL:
        raise ScoringError("最低评标价法只按价格排序：并列处理（tie_rule）须为 shared 或 draw")


# -- bids from the opening record --------------------------------------------------------------------


def yuan_to_fen(text: Any) -> int:
    """A record's money value (decimal yuan, ≤ 2 decimals, commas allowed) in fen. Raises InvalidRequest."""
    fen = money_fen(text)
    if fen is None:
        raise InvalidRequest("金额须为元，最多两位小数（收到 {got}）", got=repr(str(text)[:40]))
    if fen <= 0:
        raise InvalidRequest("金额须大于零（收到 {got}）", got=repr(str(text)[:40]))
    return fen


def bids_from_record(rows: Sequence[Mapping[str, Any]], deduction_of: Any = None, lot: int | None = None) -> list[dict[str, Any]]:
    """The opened bids of an opening record by bid id: ``[{bid, bidder, bidder_name, price_fen,
    deduction, evaluated_fen, invalid}]``. `deduction_of(fields, documents)` gives the SME
    deduction share a bid qualifies for (tenders.rules.sme_deduction_of); none by default.
    ``invalid`` is None until the committee finds the bid invalid (a logged decision).

    `lot` (a multi-lot tender, 分包): only the bids taking part in that lot, at their price for it;
    lots are never added up. A record with lot prices and no `lot` is refused."""
    bids = []
    for row in rows:
        if row["status"] != "opened":
            continue
        if lot is None and row.get("lots"):
            raise InvalidRequest("多包项目按分包评审：请指定评审的分包")
        if lot is not None:
            price = lot_price(dict(row), lot)
            if price is None:
                continue  # this bidder does not take part in the lot
        else:
            price = row["fields"].get("total_price")
        if price is None:
            raise InvalidRequest("开标记录中{bidder}的投标没有投标总价", bidder=row["bidder_name"])
        fen = yuan_to_fen(price)
        rate = Fraction(0) if deduction_of is None else deduction_of(row["fields"], list(row.get("documents", [])))
        bids.append({"bid": row["bid_id"], "bidder": row["bidder"], "bidder_name": row["bidder_name"],
                     "price_fen": fen, "deduction": str(rate), "evaluated_fen": str(evaluated_price(fen, rate)),
                     "invalid": None})
    if not bids:
        if lot is None:
            raise InvalidRequest("开标记录中没有可评审的投标")
        raise InvalidRequest("开标记录中第{lot}包没有可评审的投标", lot=lot)
    return sorted(bids, key=lambda b: str(b["bid"]))


AVOIDANCE_REASON_MAX = 500


def bidders_of(bids: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The distinct bidders of the session's bids, in bid order: ``[{bidder, bidder_name}]``."""
    seen: dict[str, dict[str, str]] = {}
    for b in bids:
        seen.setdefault(str(b["bidder"]), {"bidder": str(b["bidder"]), "bidder_name": str(b["bidder_name"])})
    return list(seen.values())


def avoidance_answers(bids: Sequence[Mapping[str, Any]], answers: Any) -> list[dict[str, Any]]:
    """回避声明, bidder by bidder: the member answers for each bidder of the session whether it has a
    tie that requires it to withdraw (政府采购法实施条例 art. 9), with the tie in a few words when it
    has. `answers` is ``[{bidder, conflict (bool), reason}]``, one per bidder, none unknown.

    Returns ``[{bidder, bidder_name, conflict, reason}]`` in bid order (reason "" without a
    conflict). Raises InvalidRequest naming the first problem."""
    bidders = bidders_of(bids)
    if not isinstance(answers, list) or len(answers) > len(bidders):
        raise InvalidRequest("请对每一家投标人回答一次回避问题")
    names = {b["bidder"]: b["bidder_name"] for b in bidders}
    given: dict[str, dict[str, Any]] = {}
    for item in answers:
        if not isinstance(item, dict) or not isinstance(item.get("bidder"), str) or item["bidder"] not in names:
            raise InvalidRequest("回避声明中有一项不是本次评标的投标人")
        bidder = item["bidder"]
        if bidder in given:
            raise InvalidRequest("对{bidder}的回避问题回答了两次", bidder=names[bidder])
        conflict = item.get("conflict")
        if not isinstance(conflict, bool):
            raise InvalidRequest("请就{bidder}回答“是”或“否”", bidder=names[bidder])
        reason = item.get("reason", "")
        if not isinstance(reason, str) or len(reason) > AVOIDANCE_REASON_MAX:
            raise InvalidRequest("与{bidder}的关系说明不超过 {max} 字", bidder=names[bidder], max=AVOIDANCE_REASON_MAX)
        reason = " ".join(reason.split())
        if conflict and not reason:
            raise InvalidRequest("请说明您与{bidder}存在何种关系", bidder=names[bidder])
        given[bidder] = {"bidder": bidder, "bidder_name": names[bidder], "conflict": conflict,
                         "reason": reason if conflict else ""}
    missing = [b["bidder_name"] for b in bidders if b["bidder"] not in given]
    if missing:
        raise InvalidRequest("请也就{bidder}回答回避问题", bidder=missing[0])
    return [given[b["bidder"]] for b in bidders]


def tally_bids(bids: Sequence[Mapping[str, Any]]) -> list[Bid]:
    """The session's bids as the tally takes them (older sessions have no deduction or invalid)."""
    return [Bid(str(b["bid"]), int(b["price_fen"]), Fraction(b.get("deduction", "0")), b.get("invalid"))
            for b in bids]


def waiting_on(bids: Sequence[Mapping[str, Any]]) -> Text | None:
    """Why the tally must wait: a correction the bidder has not answered (算术修正, art. 59), or a
    price justification the committee has not decided on (异常低价, art. 60). None: nothing."""
    for b in bids:
        if b.get("invalid"):
            continue
        if (b.get("correction") or {}).get("status") == "pending":
            return Text("{bidder}尚未答复算术修正", bidder=b["bidder_name"])
        if (b.get("low_price") or {}).get("status") in ("open", "justified"):
            return Text("评标委员会尚未就{bidder}的异常低价说明作出决定", bidder=b["bidder_name"])
    return None


def valid_prices(bids: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Bid prices (报价, before any deduction) of the bids not found invalid: what 异常低价 compares."""
    return {b.id: b.price_fen for b in tally_bids(bids) if b.invalid is None}


# -- the leader vote -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteOutcome:
    """A round's result so far: the elected leader, or a revote, or neither yet."""

    leader: str | None
    revote: bool


def count_votes(members: int, votes: Mapping[str, str]) -> VoteOutcome:
    """Votes of one round (voter → candidate): a candidate with more than half of all `members` is
    elected; when everyone voted and nobody has that majority (a tie or a split), a revote."""
    tally = Counter(votes.values())
    for candidate, n in sorted(tally.items()):
        if 2 * n > members:
            return VoteOutcome(candidate, False)
    return VoteOutcome(None, len(votes) >= members)


# -- signed documents ------------------------------------------------------------------------------------

SHEETS_DOC = "pingbiao-sheets/1"
CHANGE_DOC = "pingbiao-change/1"
REPORT_DOC = "pingbiao-report/1"


def parse_document(text: Any, kind: str, tender_id: str, signer: str) -> dict[str, Any]:
    """A signed document as the browser sent it: canonical JSON (docs/evaluation.md) of an object
    with ``kind``, ``tender`` and ``signer`` matching. Raises InvalidRequest naming what is wrong."""
    if not isinstance(text, str) or len(text) > 1 << 20:
        raise InvalidRequest("签署的文件须为不超过 1 MiB 的 JSON 文本")
    try:
        doc = json.loads(text, parse_float=_no_float)
    except _Float as exc:
        raise InvalidRequest("签署的文件中有小数 {number}：分值请写成字符串", number=str(exc)[:40]) from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest("签署的文件不是有效的 JSON（第 {line} 行第 {column} 列）",
                             line=exc.lineno, column=exc.colno) from None
    except ValueError:
        raise InvalidRequest("签署的文件不是有效的 JSON") from None
    if not isinstance(doc, dict):
        raise InvalidRequest("签署的文件须为 JSON 对象")
    if canonical_json(doc) != text.encode():
        raise InvalidRequest("签署的文件不是规范格式（键名排序、无空格、UTF-8）")
    for key, want in (("kind", kind), ("tender", tender_id), ("signer", signer)):
        if doc.get(key) != want:
            raise InvalidRequest("签署的文件与本次评标或签署人不符，请刷新页面后重新签署")
    return doc


class _Float(ValueError):
    """A number with a fraction or an exponent in a signed document (points are exact strings)."""


def _no_float(text: str) -> Any:
    raise _Float(text)


# -- 算术修正 arithmetic correction of a bid's price (87号令 art. 59) ----------------------------------


class CorrectionRule(str, enum.Enum):
    """The corrections of art. 59, in the order it applies them."""

    SCHEDULE = "schedule"  # (一) 开标一览表与投标文件不一致：以开标一览表为准 (the total stands)
    WORDS = "words"  # (二) 大写金额和小写金额不一致：以大写金额为准
    UNIT_DECIMAL = "unit_decimal"  # (三) 单价小数点/百分比明显错位：以总价为准并修改单价 (the total stands)
    UNIT_SUM = "unit_sum"  # (四) 总价与单价汇总不一致：以单价计算结果为准


_DIGITS = {c: n for n, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_SMALL_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_BIG_UNITS = {"万": 10**4, "亿": 10**8}


def capital_yuan_to_fen(text: Any) -> int:
    """An amount in Chinese capital numerals (大写金额), e.g. ``壹拾万零捌仟元整`` or ``叁佰元伍角陆分``,
    in fen. Raises InvalidRequest for anything else."""
    if not isinstance(text, str) or not text.strip() or len(text) > 60:
        raise InvalidRequest("请填写大写金额，例如 壹拾万零捌仟元整")
    s = text.strip().replace("圆", "元").removeprefix("人民币").rstrip("整正")
    if "元" in s:
        yuan_part, _, rest = s.partition("元")
    elif s.endswith(("角", "分")):
        yuan_part, rest = "", s
    else:
        raise InvalidRequest("不是有效的大写金额：{got}（须有“元”）", got=repr(text[:40]))
    fen = _capital_integer(yuan_part, text) * 100 if yuan_part else 0
    for unit, value in (("角", 10), ("分", 1)):
        if unit in rest:
            head, _, rest = rest.partition(unit)
            head = head.lstrip("零")
            if len(head) != 1 or head not in _DIGITS:
                raise InvalidRequest("不是有效的大写金额：{got}（“{unit}”前须为一个数字）", got=repr(text[:40]), unit=unit)
            fen += _DIGITS[head] * value
    if rest.strip("零"):
        raise InvalidRequest("不是有效的大写金额：{got}（多出 {rest}）", got=repr(text[:40]), rest=repr(rest[:10]))
    if fen <= 0:
        raise InvalidRequest("不是有效的大写金额：{got}（须大于零）", got=repr(text[:40]))
    return fen


def _capital_integer(s: str, text: str) -> int:
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _SMALL_UNITS:
            section += (1 if digit is None else digit) * _SMALL_UNITS[ch]
            digit = None
        elif ch == "亿":
            total = (total + section + (digit or 0)) * _BIG_UNITS[ch]
            section, digit = 0, None
        elif ch == "万":
            total += (section + (digit or 0)) * _BIG_UNITS[ch]
            section, digit = 0, None
        else:
            raise InvalidRequest("不是有效的大写金额：{got}（{char} 不是大写数字）", got=repr(text[:40]), char=repr(ch))
    return total + section + (digit or 0)


def corrected_total(rule: CorrectionRule, data: Mapping[str, Any], price_fen: int) -> int:
    """The bid's total price after the `rule` correction, computed from what the committee read in
    the bid: ``words`` (the 大写 amount), ``items`` ``[{unit_price, quantity}]`` (yuan strings and whole
    quantities); ``schedule`` and ``unit_decimal`` keep the total. Raises InvalidRequest."""
    if rule is CorrectionRule.WORDS:
        return capital_yuan_to_fen(data.get("words"))
    if rule is CorrectionRule.UNIT_SUM:
        items = data.get("items")
        if not isinstance(items, list) or not items or len(items) > 500:
            raise InvalidRequest("请列出分项单价与数量（最多 500 项）")
        total = 0
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidRequest("第 {n} 项无效", n=n + 1)
            q = item.get("quantity")
            if type(q) is not int or not 0 < q <= MAX_FEN:
                raise InvalidRequest("第 {n} 项的数量须为正整数", n=n + 1)
            total += yuan_to_fen(item.get("unit_price")) * q
            if total > MAX_FEN:
                raise InvalidRequest("修正后总价超出上限")
        return total
    return price_fen
