"""Committee size rules (评标委员会 / 谈判小组 / 磋商小组 / 询价小组 组成) by procurement method and budget.

Pure rules, no I/O. The sources:

- Open and invited tender (公开招标, 邀请招标): MOF Order 87 (政府采购货物和服务招标投标管理办法) art. 47 —
  5 or more members and an odd number; 7 or more (odd) when the budget is 10,000,000 yuan or more
  (采购预算金额在1000万元以上), the project is technically complex or has a large social impact.
- Competitive negotiation and inquiry (竞争性谈判, 询价): MOF Order 74 (政府采购非招标采购方式管理办法)
  art. 7 — 3 or more and odd; 5 or more (odd) when the project reaches the open-tender threshold
  (达到公开招标数额标准), which is set by each budget level, so the caller passes it.
- Competitive consultation (竞争性磋商): 财库〔2014〕214号 art. 14 — 3 or more and odd.
- Single source (单一来源): MOF Order 74 art. 39 — there is no evaluation committee; the purchaser
  has experienced professionals negotiate a reasonable price with the one supplier. Nothing is
  drawn or scored, so ``validate_committee_plan`` refuses a committee plan for this method.

In every committee, experts (评审专家) are at least two thirds of the members; the purchaser's
representatives (采购人代表) are members, not experts. "以上" in these rules includes the number.
"""

from __future__ import annotations

from enum import Enum

from evaluation.errors import InvalidRequest, Text

LARGE_BUDGET_YUAN = 10_000_000
"""Budget from which an open or invited tender needs 7 or more members (MOF Order 87 art. 47)."""


class CommitteeError(InvalidRequest):
    """A committee plan breaks a size or composition rule."""


class ProcurementMethod(Enum):
    """Procurement methods of the Government Procurement Law (政府采购法 art. 26)."""

    OPEN_TENDER = "open_tender"
    INVITED_TENDER = "invited_tender"
    COMPETITIVE_NEGOTIATION = "competitive_negotiation"
    COMPETITIVE_CONSULTATION = "competitive_consultation"
    INQUIRY = "inquiry"
    SINGLE_SOURCE = "single_source"

    @property
    def label_zh(self) -> str:
        """The method's Chinese name."""
        return _LABELS_ZH[self]


_LABELS_ZH = {
    ProcurementMethod.OPEN_TENDER: "公开招标",
    ProcurementMethod.INVITED_TENDER: "邀请招标",
    ProcurementMethod.COMPETITIVE_NEGOTIATION: "竞争性谈判",
    ProcurementMethod.COMPETITIVE_CONSULTATION: "竞争性磋商",
    ProcurementMethod.INQUIRY: "询价",
    ProcurementMethod.SINGLE_SOURCE: "单一来源",
}

_TENDERS = {ProcurementMethod.OPEN_TENDER, ProcurementMethod.INVITED_TENDER}
_ORDER_74 = {ProcurementMethod.COMPETITIVE_NEGOTIATION, ProcurementMethod.INQUIRY}


def minimum_committee_size(
    method: ProcurementMethod,
    budget_yuan: int,
    *,
    complex_or_high_impact: bool = False,
    open_tender_threshold_yuan: int | None = None,
) -> int:
    """The smallest allowed committee for `method` (always odd; any larger odd size is allowed).

    Requires ``budget_yuan >= 0``. `complex_or_high_impact` (技术复杂、社会影响较大) raises a tender
    to 7; `open_tender_threshold_yuan` (公开招标数额标准), when given, raises negotiation and inquiry
    to 5 for budgets at or above it. Raises CommitteeError for single source (no committee).
    """
    if type(budget_yuan) is not int or budget_yuan < 0:
        raise CommitteeError("预算须为不小于零的整数（元），收到 {got}", got=repr(budget_yuan)[:40])
    if method is ProcurementMethod.SINGLE_SOURCE:
        raise CommitteeError("单一来源采购不组建评标委员会，不抽取专家（财政部令第74号第三十九条）")
    if method in _TENDERS:
        return 7 if budget_yuan >= LARGE_BUDGET_YUAN or complex_or_high_impact else 5
    if (
        method in _ORDER_74
        and open_tender_threshold_yuan is not None
        and budget_yuan >= open_tender_threshold_yuan
    ):
        return 5
    return 3


def minimum_experts(size: int) -> int:
    """The fewest experts a committee of `size` members may have: ceil(2 × size / 3). Requires size >= 0."""
    return -(-2 * size // 3)


def validate_committee_plan(
    method: ProcurementMethod,
    budget_yuan: int,
    size: int,
    purchaser_reps: int,
    *,
    complex_or_high_impact: bool = False,
    open_tender_threshold_yuan: int | None = None,
) -> None:
    """Raise CommitteeError (one line naming the rule) unless the plan is allowed.

    `size` counts every member, the purchaser's representatives included; the experts to draw are
    ``size - purchaser_reps``. Requires whole numbers; the keywords are as in
    ``minimum_committee_size``.
    """
    if type(size) is not int or type(purchaser_reps) is not int:
        raise CommitteeError("评标委员会人数和采购人代表人数须为整数")
    if purchaser_reps < 0:
        raise CommitteeError("采购人代表人数不能为负数，收到 {got}", got=purchaser_reps)
    least = minimum_committee_size(
        method,
        budget_yuan,
        complex_or_high_impact=complex_or_high_impact,
        open_tender_threshold_yuan=open_tender_threshold_yuan,
    )
    name = Text(method.label_zh)
    if size < least:
        raise CommitteeError("{method}评标委员会至少 {least} 人，方案为 {size} 人", method=name, least=least, size=size)
    if size % 2 == 0:
        raise CommitteeError("{method}评标委员会须为单数，方案为 {size} 人", method=name, size=size)
    experts = size - purchaser_reps
    if experts < minimum_experts(size):
        raise CommitteeError("评审专家不得少于成员总数的三分之二：{size} 人中专家 {experts} 人（采购人代表至多 {reps} 人）",
                             size=size, experts=experts, reps=size - minimum_experts(size))
