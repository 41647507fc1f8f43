"""The tally (汇总): means per criterion, totals, ranking, deviations and the allowed score changes.

Pure functions over plain values, no I/O; docs/scoring.md gives the rules. Exact fractions
throughout; the ranking compares totals and prices as the report shows them (2 decimals,
ROUND_HALF_UP), so equal displayed totals go to the tie rules. Sources: MOF Order 87 arts. 55, 64–65 (ranking and
ties), art. 64 and 财库〔2012〕69号 (the reasons a score may be changed after submission), 财库〔2020〕46号
art. 9 (SME price deduction), 87号令 arts. 43–44 and 政府采购法 art. 36 (too few valid bids: 废标).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from fractions import Fraction
from typing import Any

from evaluation.errors import ConflictError, Text
from evaluation.session.scoring import (
    Criteria,
    Kind,
    Method,
    Problem,
    ScoringError,
    Sheet,
    check_prices,
    check_sheet,
    check_sheets,
    evaluated_price,
    price_scores,
    rounded,
)

TIE_DOMAIN = b"pingbiao-tie-v1"


class ChangeRefused(ConflictError):
    """A score change without an allowed reason, or one the reason does not cover."""


class TieRule(Enum):
    """What orders bids equal in score and price (MOF Order 87 art. 65: they are tied, 并列)."""

    SHARED = "shared"  # 并列: equal rank
    TECHNICAL = "technical"  # the tender's rule: higher technical subtotal first, then 并列
    DRAW = "draw"  # a logged draw: SHA-256("pingbiao-tie-v1" ‖ randomness ‖ bid id) ascending


class ChangeReason(Enum):
    """The only reasons a submitted score may change (each change also states an explanation)."""

    SUM_ERROR = "sum_error"  # 计算错误
    OUT_OF_SCALE = "out_of_scale"  # 分值超出范围
    OBJECTIVE_INCONSISTENT = "objective_inconsistent"  # 客观分不一致
    ABNORMAL_HIGH_LOW = "abnormal_high_low"  # 畸高畸低


REASON_NAMES = {"sum_error": "计算错误", "out_of_scale": "分值超出范围", "objective_inconsistent": "客观分不一致",
                "abnormal_high_low": "畸高畸低"}
"""A change reason as a message names it (the pages' labels are web/labels.py "change_reason")."""


class NotEnoughBids(ScoringError):
    """Fewer valid bids than the tender's minimum: the procurement fails (废标), there is no ranking."""


@dataclass(frozen=True)
class Bid:
    """A bid of the opening record: its price in fen (after any confirmed 算术修正), the SME price
    deduction rate it qualifies for (0: none), and why it is invalid (None: valid, 通过审查)."""

    id: str
    price_fen: int
    deduction: Fraction = Fraction(0)
    invalid: str | None = None

    @property
    def evaluated_fen(self) -> Fraction:
        return evaluated_price(self.price_fen, self.deduction)


@dataclass(frozen=True)
class BidTally:
    """One bid's result: mean per scored criterion, price score, total; rank None when unranked
    (an invalid bid, with its reason)."""

    bid: str
    price_fen: int
    means: Mapping[str, Fraction]
    price_score: Fraction
    total: Fraction
    rank: int | None
    deduction: Fraction = Fraction(0)
    evaluated_fen: Fraction = Fraction(0)
    invalid: str | None = None

    def subtotal(self, criteria: Criteria, kind: Kind) -> Fraction:
        return sum((v for c, v in self.means.items() if criteria.get(c).kind is kind), Fraction(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "bid": self.bid,
            "price_fen": self.price_fen,
            "deduction": str(self.deduction),
            "evaluated_fen": str(self.evaluated_fen),
            "means": {k: str(v) for k, v in sorted(self.means.items())},
            "price_score": str(self.price_score),
            "total": str(self.total),
            "rank": self.rank,
            "invalid": self.invalid,
        }


@dataclass(frozen=True)
class Tally:
    """The valid bids in ranking order (ties by bid id), each with its rank; then the invalid bids."""

    method: Method
    bids: tuple[BidTally, ...]

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method.value, "bids": [b.to_json() for b in self.bids]}


def too_few_bids(valid: int, minimum: int) -> Text | None:
    """Why the procurement fails with `valid` bids passing the review, or None when there are enough
    (87号令 arts. 43–44, 政府采购法 art. 36: fewer than the minimum → 废标)."""
    if valid >= max(minimum, 1):
        return None
    return Text("废标：通过资格审查和符合性审查的投标只有 {valid} 家，少于 {least} 家", valid=valid, least=max(minimum, 1))


def enough_bids(valid: int, minimum: int) -> str | None:
    """`too_few_bids` as the Chinese line the log and the tender keep, or None when there are enough."""
    failure = too_few_bids(valid, minimum)
    return None if failure is None else str(failure)


def tally(
    criteria: Criteria,
    method: Method,
    bids: Iterable[Bid],
    sheets: Iterable[Sheet],
    *,
    tie_rule: TieRule = TieRule.SHARED,
    randomness: bytes | None = None,
    min_valid: int = 1,
) -> Tally:
    """Mean over experts per criterion, summed with the price score; then rank (docs/scoring.md).

    Only valid bids (``invalid`` None) take part: the base price is the lowest valid evaluated price
    and sheets of invalid bids are ignored. Fewer valid bids than `min_valid` (at least 1) raise
    NotEnoughBids (废标), never a ranking.

    综合评分法: total rounded to 2 decimals descending, then evaluated price (to the fen) ascending,
    then `tie_rule`; every expert must have one problem-free sheet for every valid bid. 最低评标价法:
    evaluated price (to the fen) ascending, then `tie_rule` (shared or draw); sheets play no part.
    TieRule.DRAW requires `randomness` (e.g. a beacon round's). Raises otherwise.
    """
    bids = sorted(bids, key=lambda b: b.id)
    if len({b.id for b in bids}) != len(bids):
        raise ScoringError("投标编号不能重复")
    check_prices({b.id: b.price_fen for b in bids})
    for b in bids:
        evaluated_price(b.price_fen, b.deduction)  # checks the rate
    valid = [b for b in bids if b.invalid is None]
    failure = too_few_bids(len(valid), min_valid)
    if failure:
        raise NotEnoughBids(failure)
    if tie_rule is TieRule.DRAW and (randomness is None or len(randomness) < 16):
        raise ScoringError("抽签决定并列名次须有已记录的随机数（至少 16 字节）")
    every = {b.id for b in bids}
    ids = {b.id for b in valid}
    sheets = list(sheets)
    if any(s.bid not in every for s in sheets):
        raise ScoringError("有评分表所评的投标不在开标记录中")
    if method is Method.LOWEST_PRICE:
        if tie_rule is TieRule.TECHNICAL:
            raise ScoringError("最低评标价法没有技术分，不能按技术分决定并列名次：请选择并列（shared）或抽签（draw）")
        sheets = []  # 最低评标价法: sheets play no part in the result (docs/scoring.md)
    sheets = [s for s in sheets if s.bid in ids]
    problems = check_sheets(criteria, sheets)
    if problems:
        raise ScoringError("评分表有 {n} 处问题，第一处：投标 {bid}，{problem}", n=len(problems), bid=problems[0].bid,
                           problem=problems[0].message)
    experts = sorted({s.expert for s in sheets})
    if len(sheets) != len(experts) * len(valid):
        raise ScoringError("每位专家须对每一份有效投标评分：现有评分表 {n} 张，应为 {experts} × {bids} 张", n=len(sheets),
                           experts=len(experts), bids=len(valid))
    if method is Method.COMPREHENSIVE and (criteria.price is None or not experts):
        raise ScoringError("综合评分法须有一项价格分，并至少有一位专家的评分表")

    price = criteria.price
    evaluated = {b.id: b.evaluated_fen for b in valid}
    p_scores = price_scores(evaluated, price.max_points) if method is Method.COMPREHENSIVE and price else {}
    rows = []
    for b in valid:
        mine = [s for s in sheets if s.bid == b.id]
        means = (
            {c.code: sum((s.scores[c.code] for s in mine), Fraction(0)) / len(mine) for c in criteria.scored}
            if mine
            else {}
        )
        ps = p_scores.get(b.id, Fraction(0))
        total = sum(means.values(), Fraction(0)) + ps
        rows.append(BidTally(b.id, b.price_fen, means, ps, total, None, b.deduction, b.evaluated_fen))
    invalid = [
        BidTally(b.id, b.price_fen, {}, Fraction(0), Fraction(0), None, b.deduction, b.evaluated_fen, b.invalid)
        for b in bids
        if b.invalid is not None
    ]
    return Tally(method, (*_ranked(criteria, method, rows, tie_rule, randomness), *invalid))


def _ranked(
    criteria: Criteria, method: Method, rows: list[BidTally], tie_rule: TieRule, randomness: bytes | None
) -> tuple[BidTally, ...]:
    def key(r: BidTally) -> tuple[Any, ...]:
        price = rounded(r.evaluated_fen / 100)  # yuan to the fen, as shown
        main: tuple[Any, ...] = (-rounded(r.total), price) if method is Method.COMPREHENSIVE else (price,)
        if tie_rule is TieRule.TECHNICAL:
            return (*main, -rounded(r.subtotal(criteria, Kind.TECHNICAL)))
        if tie_rule is TieRule.DRAW:
            assert randomness is not None
            return (*main, hashlib.sha256(TIE_DOMAIN + randomness + r.bid.encode()).digest())
        return main

    ordered = sorted(rows, key=lambda r: (key(r), r.bid))
    out: list[BidTally] = []
    for i, r in enumerate(ordered):
        rank = out[-1].rank if out and key(ordered[i - 1]) == key(r) else i + 1
        out.append(replace(r, rank=rank))
    return tuple(out)


@dataclass(frozen=True)
class Recommendation:
    """Candidates handed to the purchaser; `ranked` False in 评定分离 mode (then sorted by bid id)."""

    candidates: tuple[str, ...]
    ranked: bool


def recommend(result: Tally, count: int, *, separated: bool = False) -> Recommendation:
    """The best `count` bids; a tie across the cut brings in every tied bid. Requires count >= 1.

    `separated` (评定分离): the same candidates, unranked, in bid-id order.
    """
    if count < 1:
        raise ScoringError("至少推荐一名中标候选人")
    chosen = [b for b in result.bids if b.rank is not None and b.rank <= count]
    if separated:
        return Recommendation(tuple(sorted(b.bid for b in chosen)), ranked=False)
    return Recommendation(tuple(b.bid for b in chosen), ranked=True)


@dataclass(frozen=True)
class Deviation:
    """A subjective score far from the median of all experts' scores for the same bid and item
    (畸高畸低), with the median and the range of the other experts' scores (others_mean kept for
    the pages and logs that show it)."""

    expert: str
    bid: str
    criterion: str
    score: Fraction
    others_mean: Fraction
    high: bool
    median: Fraction = Fraction(0)
    others_low: Fraction = Fraction(0)
    others_high: Fraction = Fraction(0)


def median(values: Sequence[Fraction]) -> Fraction:
    """The median of at least one value (the mean of the two middle ones for an even count)."""
    if not values:
        raise ScoringError("没有评分，无法计算中位数")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def deviations(criteria: Criteria, sheets: Iterable[Sheet], threshold: Fraction) -> list[Deviation]:
    """Subjective scores with |score − median of every expert's score| > `threshold` × the item's
    maximum: only the outlying expert is flagged, not those it pulls the mean away from.

    Requires 0 < threshold <= 1 and at least two experts on a bid for it to be checked; with two
    experts both sit at the same distance from the median, so both are flagged or neither. Sorted
    by bid, criterion, expert.
    """
    if not 0 < threshold <= 1:
        raise ScoringError("畸高畸低偏差阈值须大于 0、不超过 100%（收到 {got}）", got=str(threshold)[:40])
    sheets = list(sheets)
    found = []
    for c in criteria.scored:
        if c.objective:
            continue
        for bid in sorted({s.bid for s in sheets}):
            given = {s.expert: s.scores[c.code] for s in sheets if s.bid == bid and c.code in s.scores}
            if len(given) < 2:
                continue
            mid = median(list(given.values()))
            total = sum(given.values(), Fraction(0))
            for expert, score in sorted(given.items()):
                if abs(score - mid) > threshold * c.max_points:
                    others = [v for e, v in given.items() if e != expert]
                    found.append(Deviation(expert, bid, c.code, score, (total - score) / len(others), score > mid,
                                           mid, min(others), max(others)))
    return sorted(found, key=lambda d: (d.bid, d.criterion, d.expert))


def unresolved(found: Iterable[Deviation], confirmed: Iterable[tuple[str, str, str, Fraction]]) -> list[Deviation]:
    """The deviations no confirmation covers; a confirmation is (expert, bid, criterion, score) and
    covers that score only, so a deviation that a later change brings back is open again."""
    done = set(confirmed)
    return [d for d in found if (d.expert, d.bid, d.criterion, d.score) not in done]


@dataclass(frozen=True)
class ScoreChange:
    """A change to one submitted score (`criterion`) or to the written total (`criterion` None)."""

    expert: str
    bid: str
    criterion: str | None
    new: Fraction
    reason: ChangeReason
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "expert": self.expert,
            "bid": self.bid,
            "criterion": self.criterion,
            "new": str(self.new),
            "reason": self.reason.value,
            "explanation": self.explanation,
        }


def apply_change(
    criteria: Criteria, sheets: Sequence[Sheet], change: ScoreChange, *, threshold: Fraction
) -> tuple[Sheet, ...]:
    """The sheets with `change` applied, or ChangeRefused when its reason does not allow it.

    SUM_ERROR fixes a written total to the items' sum; OUT_OF_SCALE fixes a score off its scale;
    OBJECTIVE_INCONSISTENT an objective score experts disagree on; ABNORMAL_HIGH_LOW a score that
    ``deviations(…, threshold)`` flags. The new score must be on the scale and differ from the old.
    When an item changes on a sheet whose written total was right, the total follows the item.
    """
    if not isinstance(change.reason, ChangeReason):
        names = [Text(REASON_NAMES[r.value]) for r in ChangeReason]
        raise ChangeRefused("修改评分须选择允许的理由（{names}），收到 {got}", names=Text.join(names, "、"),
                            got=str(change.reason)[:40])
    if not change.explanation.strip():
        raise ChangeRefused("修改评分须说明理由")
    index = next((i for i, s in enumerate(sheets) if s.expert == change.expert and s.bid == change.bid), None)
    if index is None:
        raise ChangeRefused("专家 {expert} 没有投标 {bid} 的评分表", expert=change.expert, bid=change.bid)
    sheet = sheets[index]
    reason = change.reason
    if change.criterion is None:
        if reason is not ChangeReason.SUM_ERROR:
            raise ChangeRefused("只有“计算错误”可以修改合计分")
        if sheet.total is None or sheet.total == sheet.items_sum() or change.new != sheet.items_sum():
            raise ChangeRefused("计算错误的修改只能把有误的合计改为各项之和（{sum} 分）", sum=str(sheet.items_sum()))
        return _put(sheets, index, replace(sheet, total=change.new))
    crit = criteria.get(change.criterion)
    if crit.kind is Kind.PRICE or change.criterion not in sheet.scores:
        raise ChangeRefused("这张评分表上没有“{criterion}”的评分", criterion=crit.title or change.criterion)
    old = sheet.scores[change.criterion]
    if change.new == old or not crit.in_scale(change.new):
        raise ChangeRefused("新的分值 {new} 须与原分值 {old} 不同且在评分范围内（{scale}）", new=str(change.new), old=str(old),
                            scale=crit.scale())
    if not _reason_holds(criteria, sheets, sheet, change, threshold):
        raise ChangeRefused("修改理由“{reason}”不适用于这项评分（“{criterion}” {old} 分）",
                            reason=Text(REASON_NAMES[reason.value]), criterion=crit.title or change.criterion, old=str(old))
    scores = dict(sheet.scores)
    scores[change.criterion] = change.new
    total = sheet.total
    if total is not None and total == sheet.items_sum():
        total = total - old + change.new
    return _put(sheets, index, replace(sheet, scores=scores, total=total))


def _reason_holds(
    criteria: Criteria, sheets: Sequence[Sheet], sheet: Sheet, change: ScoreChange, threshold: Fraction
) -> bool:
    code = change.criterion
    if change.reason is ChangeReason.OUT_OF_SCALE:
        return any(
            f.problem is Problem.OUT_OF_SCALE and f.criterion == code for f in check_sheet(criteria, sheet)
        )
    if change.reason is ChangeReason.OBJECTIVE_INCONSISTENT:
        return any(
            f.problem is Problem.OBJECTIVE_INCONSISTENT and f.criterion == code and f.bid == sheet.bid
            for f in check_sheets(criteria, sheets)
        )
    if change.reason is ChangeReason.ABNORMAL_HIGH_LOW:
        return any(
            d.expert == sheet.expert and d.bid == sheet.bid and d.criterion == code
            for d in deviations(criteria, sheets, threshold)
        )
    return False  # SUM_ERROR changes totals, not items


def _put(sheets: Sequence[Sheet], index: int, sheet: Sheet) -> tuple[Sheet, ...]:
    return (*sheets[:index], sheet, *sheets[index + 1 :])
