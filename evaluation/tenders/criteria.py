"""Pure rules of a tender's scoring criteria (评分因素) and its 畸高畸低 threshold, as the agency states
them in the tender: validated item by item, every mistake reported at once on one line.

A criterion is price (价格分, computed by the 低价优先法 formula of 87号令 art. 55), objective (客观分:
an expert picks one of the listed values, by default 0 or the full points) or subjective (主观分:
any score from 0 to the points). Under 综合评分法 the points add up to 100, exactly one item is the
price, and its weight is at least the least share of 87号令 art. 55 (货物 30, 服务 10).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from evaluation.errors import InvalidRequest, Text


class Kind(str, enum.Enum):
    """How a criterion is scored (评分因素类型)."""

    PRICE = "price"  # 价格分: 评标基准价/投标报价 × 价格权重 × 100 (87号令 art. 55)
    OBJECTIVE = "objective"  # 客观分: one of the listed values
    SUBJECTIVE = "subjective"  # 主观分: each expert scores 0..points


PRICE_WORDS = ("价格", "报价", "price")
"""How a criterion stored before kinds existed is recognised as the price item (by its name)."""

LEAST_PRICE_WEIGHT = {"goods": 30, "services": 10, "works": 0}
"""87号令 art. 55: the price points are at least this share (%) of all points under 综合评分法
(the same shares as evaluation/session/scoring.py MIN_PRICE_WEIGHT)."""

DEFAULT_DEVIATION_PERCENT = Fraction(30)
"""The 畸高畸低 threshold of a tender that states none: 30 % of the criterion's points."""

MAX_CRITERIA = 100
MAX_ALLOWED = 20
_SCORE_TEXT = re.compile(r"\s*(0|[1-9][0-9]{0,2})(\.[0-9]{1,2})?\s*")


@dataclass(frozen=True)
class Criterion:
    """One evaluation criterion (评分因素) of a tender."""

    name: str
    points: int
    description: str = ""  # 评分标准
    kind: Kind = Kind.SUBJECTIVE
    allowed: tuple[str, ...] = ()  # objective items: the values an expert may give ("0", "1.5", "3")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "points": self.points, "description": self.description, "kind": self.kind.value,
                "allowed": list(self.allowed)}

    def scale(self) -> tuple[str, ...]:
        """The values an objective item admits: those listed, else nothing or everything."""
        return self.allowed or ("0", str(self.points))


def percent_text(value: Fraction) -> str:
    """A number with at most 2 decimals as short text ("30", "12.5")."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator * 100 // value.denominator / 100:.2f}".rstrip("0").rstrip(".")


def _score(value: Any) -> Fraction | None:
    """A score: a whole number or a decimal string with at most 2 decimals, from 0 to below 1000."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value) if 0 <= value < 1000 else None
    if isinstance(value, str) and _SCORE_TEXT.fullmatch(value):
        return Fraction(value.strip())
    return None


def _short(value: Any) -> str:
    """At most 20 characters of a bad value, safe to print (no lone surrogates)."""
    text = value if isinstance(value, str) else repr(value)
    return text[:20].encode("utf-8", "replace").decode("utf-8")


def _kind(raw: Any, name: str, where: Text, errors: list[Text]) -> Kind:
    if raw is None:  # stored before kinds: the name tells the price item, as the session did
        return Kind.PRICE if any(w in name.lower() for w in PRICE_WORDS) else Kind.SUBJECTIVE
    try:
        return Kind(raw)
    except ValueError:
        errors.append(Text("{where}的类型须为 价格分、客观分 或 主观分", where=where))
        return Kind.SUBJECTIVE


def _allowed(raw: Any, kind: Kind, points: int | None, where: Text, errors: list[Text]) -> tuple[str, ...]:
    if raw is None or raw == []:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_ALLOWED:
        errors.append(Text("{where}的可选分值须为至多 {n} 个分值", where=where, n=MAX_ALLOWED))
        return ()
    if kind is not Kind.OBJECTIVE:
        errors.append(Text("{where}不是客观分，不能列出可选分值", where=where))
        return ()
    values: list[Fraction] = []
    before = len(errors)
    for value in raw:
        score = _score(value)
        if score is None or (points is not None and score > points):
            errors.append(Text("{where}的可选分值 {got} 须为 0 到该项分值之间、最多两位小数的数", where=where, got=_short(value)))
        elif score not in values:
            values.append(score)
    if len(errors) == before and len(values) < 2:
        errors.append(Text("{where}的可选分值至少要有两个不同的分值", where=where))
    return tuple(percent_text(v) for v in sorted(values))


def _one(n: int, item: Any, errors: list[Text]) -> Criterion | None:
    """Criterion `n` (from 1), or None with its mistakes appended to `errors`."""
    where = Text("第 {n} 项评分因素", n=n)
    if not isinstance(item, dict):
        errors.append(Text("{where}须为对象", where=where))
        return None
    before = len(errors)
    unknown = set(item) - {"name", "points", "description", "kind", "allowed"}
    if unknown:
        errors.append(Text("{where}有未知字段 {fields}", where=where, fields=_short(", ".join(sorted(map(str, unknown))))))
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(Text("{where}没有名称", where=where))
        name = ""
    elif len(name) > 200:
        errors.append(Text("{where}的名称超过 200 字", where=where))
    else:
        name = name.strip()
        where = Text("第 {n} 项评分因素（{name}）", n=n, name=name)
    description = item.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        errors.append(Text("{where}的评分标准须为不超过 2000 字的文字", where=where))
        description = ""
    points = item.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= 100:
        errors.append(Text("{where}的分值须为 1–100 的整数，现为 {got}", where=where, got=_short(points)))
        points = None
    kind = _kind(item.get("kind"), name, where, errors)
    allowed = _allowed(item.get("allowed"), kind, points, where, errors)
    if len(errors) > before or points is None:
        return None
    return Criterion(name, points, description.strip(), kind, allowed)


def parse_criteria(items: Any, evaluation_method: str, category: str, *, whole: bool = True) -> tuple[Criterion, ...]:
    """A tender's criteria, checked item by item and (`whole`) as a set; raises InvalidRequest listing
    every mistake (joined by "；"). A draft may have none; the evaluation cannot start without.
    Stored tenders are read back with ``whole=False``, so one saved before these rules still loads."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InvalidRequest("评分因素 criteria 须为列表")
    if len(items) > MAX_CRITERIA:
        raise InvalidRequest("评分因素不能超过 {n} 项", n=MAX_CRITERIA)
    errors: list[Text] = []
    parsed = [_one(n, item, errors) for n, item in enumerate(items, start=1)]
    good = [c for c in parsed if c is not None]
    names = [c.name for c in good]
    for name in sorted({x for x in names if names.count(x) > 1}):
        errors.append(Text("评分因素“{name}”重复", name=name))
    if whole and items and evaluation_method == "comprehensive" and len(good) == len(items):
        total = sum(c.points for c in good)
        if total != 100:
            errors.append(Text("综合评分法的分值合计须为 100，现为 {total}", total=total))
        prices = [c for c in good if c.kind is Kind.PRICE]
        if len(prices) != 1:
            errors.append(Text("综合评分法须有且只有一项价格分，现有 {n} 项", n=len(prices)))
        elif prices[0].points < LEAST_PRICE_WEIGHT.get(category, 0):
            errors.append(Text("价格分权重不得低于 {least}%（87号令第五十五条），现为 {got}%",
                               least=LEAST_PRICE_WEIGHT[category], got=prices[0].points))
    if whole and evaluation_method == "lowest_price" and sum(c.kind is Kind.PRICE for c in good) > 1:
        errors.append(Text("只能有一项价格分"))
    if errors:
        raise InvalidRequest(Text.join(errors))
    return tuple(good)


def parse_deviation_threshold(value: Any) -> Fraction | None:
    """The 畸高畸低 threshold in percent of a criterion's points (0 < x ≤ 100, at most 2 decimals),
    or None (the default applies). Raises InvalidRequest."""
    if value is None:
        return None
    score = _score(value)
    if score is None or not 0 < score <= 100:
        raise InvalidRequest("畸高畸低偏差阈值须为大于 0、不超过 100 的百分比（最多两位小数），现为 {got}", got=_short(value))
    return score
