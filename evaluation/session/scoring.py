"""Scoring rules (评分规则): the criteria model, the price score, abnormally low bids, sheet checks.

Pure functions over plain values, no I/O; docs/scoring.md gives the formulas. Money is integer fen
(分); points are exact ``fractions.Fraction`` and are rounded only for display (``display``,
ROUND_HALF_UP to 2 decimals). Sources: MOF Order 87 (政府采购货物和服务招标投标管理办法) arts. 53–55
(综合评分法, 最低评标价法, the price formula), art. 60 (abnormally low bids), art. 64 (the tally).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import Any

from evaluation.errors import InvalidRequest, Text
from evaluation.inputs import InputError, parse_exact


class ScoringError(InvalidRequest):
    """Criteria, prices or sheets are malformed."""


class Kind(Enum):
    """The three groups of criteria (评审因素)."""

    PRICE = "price"  # 价格
    TECHNICAL = "technical"  # 技术
    BUSINESS = "business"  # 商务


class Method(Enum):
    """Evaluation methods of MOF Order 87 art. 53."""

    COMPREHENSIVE = "comprehensive"  # 综合评分法
    LOWEST_PRICE = "lowest_price"  # 最低评标价法


class Category(Enum):
    """What is bought; sets the least price weight under 综合评分法 (MOF Order 87 art. 55)."""

    GOODS = "goods"  # 货物: price at least 30 % of the points
    SERVICES = "services"  # 服务: price at least 10 % of the points
    WORKS = "works"  # 工程: MOF Order 87 does not apply; no least price weight here


CATEGORY_NAMES = {"goods": "货物", "services": "服务", "works": "工程"}
"""A category as a message names it (the pages' labels are web/labels.py "category")."""

MIN_PRICE_WEIGHT = {Category.GOODS: Fraction(3, 10), Category.SERVICES: Fraction(1, 10), Category.WORKS: Fraction(0)}


def points(value: int | str | Fraction) -> Fraction:
    """Exact points from an int, a Fraction or a decimal/fraction string ("2.5", "7/2"). Floats refused."""
    if isinstance(value, (bool, float)):
        raise ScoringError("分值须为精确数值（整数或文字，如 2.5），收到 {got}", got=repr(value)[:40])
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, str):  # bounded digits, no exponent: checked before any arithmetic
        try:
            return parse_exact(value, Text("分值"))
        except InputError as exc:
            raise ScoringError(exc.text) from None
    raise ScoringError("分值须为精确数值（整数或文字，如 2.5），收到 {got}", got=type(value).__name__)


def display(value: Fraction, places: int = 2) -> str:
    """`value` with `places` decimals, ROUND_HALF_UP (halves away from zero): 1/8 → "0.13", -1/8 → "-0.13"."""
    scale = 10**places
    scaled = abs(value) * scale
    whole = int(scaled + Fraction(1, 2))  # floor, as scaled >= 0
    sign = "-" if value < 0 and whole else ""
    text = str(whole).rjust(places + 1, "0")
    return f"{sign}{text[:-places]}.{text[-places:]}" if places else f"{sign}{text}"


def rounded(value: Fraction, places: int = 2) -> Fraction:
    """`value` as `display` shows it, as an exact number: what the ranking compares (docs/scoring.md)."""
    return Fraction(display(value, places))


def evaluated_price(price_fen: int, deduction: Fraction) -> Fraction:
    """The price a bid is evaluated at (评审价格): ``price × (1 − deduction)``, exact, in fen.

    `deduction` is the SME price deduction rate (小微企业价格扣除, 财库〔2020〕46号 art. 9) the bid
    qualifies for, 0 when none. The contract price stays the bid price."""
    if not 0 <= deduction < 1:
        raise ScoringError("价格扣除比例须不小于 0 且小于 100%（收到 {got}）", got=str(deduction)[:40])
    return price_fen * (1 - deduction)


@dataclass(frozen=True)
class Criterion:
    """One scoring item. Objective (客观分) when `allowed` lists its values; else subjective (主观分)
    scored anywhere in ``[minimum, max_points]``. A PRICE item is computed, never scored by experts.
    """

    code: str
    kind: Kind
    max_points: Fraction
    allowed: tuple[Fraction, ...] = ()
    minimum: Fraction = Fraction(0)
    title: str = ""

    def __post_init__(self) -> None:
        if not self.code:
            raise ScoringError("评分因素须有编号")
        if self.max_points <= 0:
            raise ScoringError("评分因素“{criterion}”的满分须大于 0", criterion=self.title or self.code)
        if not 0 <= self.minimum <= self.max_points:
            raise ScoringError("评分因素“{criterion}”的最低分须在 0 至 {max} 之间", criterion=self.title or self.code,
                               max=str(self.max_points))
        if any(not 0 <= a <= self.max_points for a in self.allowed):
            raise ScoringError("评分因素“{criterion}”的可选分值须在 0 至 {max} 之间", criterion=self.title or self.code,
                               max=str(self.max_points))

    @property
    def objective(self) -> bool:
        return bool(self.allowed)

    def in_scale(self, score: Fraction) -> bool:
        """True when an expert may give `score` on this item."""
        if self.objective:
            return score in self.allowed
        return self.minimum <= score <= self.max_points

    def scale(self) -> Text:
        """The scale in words, for messages."""
        if self.objective:
            return Text("可选 {values}", values=", ".join(str(a) for a in self.allowed))
        return Text("{low} 至 {high}", low=str(self.minimum), high=str(self.max_points))


@dataclass(frozen=True)
class Criteria:
    """A tender's criteria: unique codes, at most one PRICE item (required for 综合评分法)."""

    items: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        codes = [c.code for c in self.items]
        if len(set(codes)) != len(codes):
            raise ScoringError("评分因素的编号不能重复")
        if sum(c.kind is Kind.PRICE for c in self.items) > 1:
            raise ScoringError("只能有一项价格分")

    @property
    def price(self) -> Criterion | None:
        return next((c for c in self.items if c.kind is Kind.PRICE), None)

    @property
    def scored(self) -> tuple[Criterion, ...]:
        """The items experts score (all but price)."""
        return tuple(c for c in self.items if c.kind is not Kind.PRICE)

    def get(self, code: str) -> Criterion:
        for c in self.items:
            if c.code == code:
                return c
        raise ScoringError("没有这个评分因素：{code}", code=code[:40])

    @property
    def total_points(self) -> Fraction:
        return sum((c.max_points for c in self.items), Fraction(0))


def check_price_weight(criteria: Criteria, category: Category) -> None:
    """Raise unless price points are at least the least share for `category` of all points."""
    price = criteria.price
    if price is None:
        raise ScoringError("综合评分法须有一项价格分")
    share = price.max_points / criteria.total_points
    if share < MIN_PRICE_WEIGHT[category]:
        raise ScoringError("价格分占总分的 {share}%，{category}项目不得低于 {least}%（87号令第五十五条）",
                           share=display(share * 100), category=Text(CATEGORY_NAMES[category.value]),
                           least=display(MIN_PRICE_WEIGHT[category] * 100))


def check_prices(prices: Mapping[str, int]) -> None:
    """Raise unless every price is a positive whole number of fen (a zero or negative bid is refused)."""
    for bid, fen in prices.items():
        if type(fen) is not int or fen <= 0:
            raise ScoringError("投标 {bid} 的报价须为正数（收到 {got}）", bid=bid, got=repr(fen)[:40])


def price_scores(prices: Mapping[str, int | Fraction], price_points: Fraction) -> dict[str, Fraction]:
    """综合评分法 price score of each valid bid: (base / price) × `price_points`, base = lowest price.

    `prices` holds only valid bids (通过符合性审查), in fen, after any policy deduction (价格扣除,
    exact fractions of a fen allowed). The highest and lowest prices are not dropped; the lowest bid
    gets exactly `price_points`. Raises for a zero or negative price.
    """
    for bid, fen in prices.items():
        if not isinstance(fen, Fraction):
            check_prices({bid: fen})  # type: ignore[dict-item]
        elif fen <= 0:
            raise ScoringError("投标 {bid} 的报价须为正数（收到 {got}）", bid=bid, got=str(fen)[:40])
    if not prices:
        return {}
    base = min(prices.values())
    return {bid: Fraction(base) / fen * price_points for bid, fen in prices.items()}


@dataclass(frozen=True)
class LowBidRule:
    """When a bid is flagged as abnormally low (明显低于其他报价, MOF Order 87 art. 60).

    Flagged when the price is below `others_fraction` × the mean of the other valid bids (default
    4/5; needs another bid), or below `reference_fraction` × `reference_fen` (e.g. the budget; off
    unless both are set). None switches a test off. A flag asks for a written explanation; it does
    not reject the bid.
    """

    others_fraction: Fraction | None = Fraction(4, 5)
    reference_fen: int | None = None
    reference_fraction: Fraction | None = None


def abnormally_low(prices: Mapping[str, int], rule: LowBidRule = LowBidRule()) -> dict[str, str]:
    """The flagged bids with the reason, in one line each. `prices` in fen, valid bids only."""
    check_prices(prices)
    flags: dict[str, str] = {}
    total, n = sum(prices.values()), len(prices)
    for bid, fen in sorted(prices.items()):
        why = []
        if rule.others_fraction is not None and n > 1:
            mean = Fraction(total - fen, n - 1)
            if fen < rule.others_fraction * mean:
                why.append(
                    f"below {display(rule.others_fraction * 100)} % of the other bids' mean {display(mean / 100)} yuan"
                )
        ref, share = rule.reference_fen, rule.reference_fraction
        if ref is not None and share is not None and fen < share * ref:
            why.append(f"below {display(share * 100)} % of the reference {display(Fraction(ref, 100))} yuan")
        if why:
            flags[bid] = f"price {display(Fraction(fen, 100))} yuan is " + " and ".join(why)
    return flags


@dataclass(frozen=True)
class Sheet:
    """One expert's scores for one bid, by criterion code, and the total the expert wrote (if any)."""

    expert: str
    bid: str
    scores: Mapping[str, Fraction] = field(default_factory=dict)
    total: Fraction | None = None

    def to_json(self) -> dict[str, Any]:
        """Audit-payload form: exact points as strings ("7/2")."""
        return {
            "expert": self.expert,
            "bid": self.bid,
            "scores": {k: str(v) for k, v in sorted(self.scores.items())},
            "total": None if self.total is None else str(self.total),
        }

    @classmethod
    def from_json(cls, obj: Any) -> Sheet:
        try:
            total = obj.get("total")
            return cls(
                str(obj["expert"]),
                str(obj["bid"]),
                {str(k): points(v) for k, v in obj["scores"].items()},
                None if total is None else points(total),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ScoringError("评分表格式无效（{problem}）", problem=repr(exc)[:80]) from None

    def items_sum(self) -> Fraction:
        return sum(self.scores.values(), Fraction(0))


class Problem(Enum):
    """What can be wrong with submitted sheets."""

    OUT_OF_SCALE = "out_of_scale"  # 分值超出范围
    SUM_ERROR = "sum_error"  # 计算错误
    OBJECTIVE_INCONSISTENT = "objective_inconsistent"  # 客观分不一致
    MISSING = "missing"  # 漏评
    UNKNOWN = "unknown"  # 不存在的评审因素


@dataclass(frozen=True)
class Finding:
    """One problem on a sheet (or, for OBJECTIVE_INCONSISTENT, on a bid's item across experts)."""

    problem: Problem
    expert: str | None
    bid: str
    criterion: str | None
    message: Text


def check_sheet(criteria: Criteria, sheet: Sheet) -> list[Finding]:
    """The problems of one sheet: unknown or missing items, scores off the scale, a wrong total."""
    found: list[Finding] = []
    scored = {c.code: c for c in criteria.scored}

    def add(problem: Problem, code: str | None, message: Text) -> None:
        found.append(Finding(problem, sheet.expert, sheet.bid, code, message))

    for code in sorted(sheet.scores):
        if code not in scored:
            add(Problem.UNKNOWN, code, Text("{code}不是需要评分的评分因素", code=code))
        elif not scored[code].in_scale(sheet.scores[code]):
            c = scored[code]
            add(Problem.OUT_OF_SCALE, code, Text("“{criterion}”的 {score} 分超出范围（{scale}）",
                                                 criterion=c.title or code, score=str(sheet.scores[code]), scale=c.scale()))
    for code, c in scored.items():
        if code not in sheet.scores:
            add(Problem.MISSING, code, Text("“{criterion}”没有评分", criterion=c.title or code))
    if sheet.total is not None and sheet.total != sheet.items_sum():
        add(Problem.SUM_ERROR, None, Text("合计 {total} 分与各项之和 {sum} 分不符", total=str(sheet.total),
                                          sum=str(sheet.items_sum())))
    return found


def check_sheets(criteria: Criteria, sheets: Iterable[Sheet]) -> list[Finding]:
    """All sheets' problems, plus objective items scored differently by experts for the same bid.

    Requires at most one sheet per expert and bid (raises otherwise). Sorted by bid, expert, criterion.
    """
    sheets = list(sheets)
    keys = [(s.expert, s.bid) for s in sheets]
    if len(set(keys)) != len(keys):
        raise ScoringError("同一位专家对同一份投标有两张评分表")
    found = [f for s in sheets for f in check_sheet(criteria, s)]
    for c in criteria.scored:
        if not c.objective:
            continue
        for bid in sorted({s.bid for s in sheets}):
            given = {s.expert: s.scores[c.code] for s in sheets if s.bid == bid and c.code in s.scores}
            if len(set(given.values())) > 1:
                spread = ", ".join(f"{e}={v}" for e, v in sorted(given.items()))
                found.append(
                    Finding(
                        Problem.OBJECTIVE_INCONSISTENT,
                        None,
                        bid,
                        c.code,
                        Text("各专家对客观分“{criterion}”的评分不一致（{spread}）", criterion=c.title or c.code,
                             spread=spread),
                    )
                )
    return sorted(found, key=lambda f: (f.bid, f.expert or "", f.criterion or "", f.problem.value))
