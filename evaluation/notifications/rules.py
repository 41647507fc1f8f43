"""Which audit entries need whom (pure): an entry and the facts looked up about its tender become
notices for accounts. Texts are catalogue keys (Chinese) with placeholders, translated where
they are shown, so a reader gets them in the language of the page.

| entry | who | why |
|---|---|---|
| `experts.drawn`, `experts.replaced` | each newly seated expert (with a linked account) | 评标邀请: answer the invitation |
| `opening.objection` | the tender's agency | 异议待答复: answer it in the hall |
| `opening.answer` | the bidder who objected | 异议已答复 |
| `opening.record` | the tender's bidders | 开标记录已公布: confirm or object in the hall |
| `evaluation.started` | each member | 评标已开始: check in |
| `evaluation.state` → scoring | each member | 请独立评分 |
| `evaluation.state` → signing | each member | 请签署评标报告 |
| `evaluation.price_correction` | the bidder of the bid | 算术修正待确认 (87号令 art. 59) |
| `evaluation.low_price_query` | the bidder of the bid | 请在期限内说明报价 (art. 60) |
| `evaluation.price_correction_answered`, `evaluation.low_price_justified` | each member | 投标人已答复 |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation.audit.entry import Entry
from evaluation.session.events import lot_of
from evaluation.session.ids import evaluation_id


@dataclass(frozen=True)
class Facts:
    """What the rules need to know beyond the entry, looked up by the job."""

    title: str = ""  # the tender's title
    agency: str = ""  # the tender's agency account
    bidders: Sequence[str] = ()  # accounts that bid in the tender
    members: Sequence[str] = ()  # accounts of the evaluation session's members
    expert_accounts: Mapping[str, str] = field(default_factory=dict)  # pool expert id → account
    objection_bidders: Mapping[str, str] = field(default_factory=dict)  # objection id → bidder account
    bid_bidders: Mapping[str, str] = field(default_factory=dict)  # bid id → bidder account


@dataclass(frozen=True)
class Notice:
    """One notice for one account: a catalogue text with its values, and where to act."""

    account: str
    text: str
    values: Mapping[str, Any]
    link: str


INVITED = "您被抽取为《{title}》的评审专家，请回复邀请。"
OBJECTION = "《{title}》有投标人提出异议，请在开标大厅答复。"
ANSWERED = "采购人已答复您对《{title}》开标记录的异议。"
RECORD = "《{title}》的开标记录已公布，请确认或提出异议。"
STARTED = "《{title}》评标已开始，请签到。"
SCORING = "《{title}》进入独立评分，请提交您的评分表。"
SIGNING = "《{title}》评标报告待您签署。"
CORRECTION = "评标委员会对您在《{title}》的报价作了算术修正，请确认或不确认。"
LOW_PRICE = "评标委员会要求您在期限内书面说明在《{title}》的报价。"
BIDDER_ANSWERED = "《{title}》有投标人答复了评标委员会的询问。"
TEXTS = (INVITED, OBJECTION, ANSWERED, RECORD, STARTED, SCORING, SIGNING, CORRECTION, LOW_PRICE, BIDDER_ANSWERED)
"""Every text a notice can carry: catalogue keys (web/i18n/en.json holds their English)."""


def _seated(payload: Mapping[str, Any]) -> list[str]:
    if "replacements" in payload:
        return [r["expert"] if isinstance(r, Mapping) else str(r) for r in payload.get("replacements", [])]
    return [str(e) for e in payload.get("committee", [])]


def notices_for(entry: Entry, facts: Facts) -> list[Notice]:
    """The notices `entry` gives rise to (none for most kinds)."""
    t, p, title = entry.tender_id or "", entry.payload, {"title": facts.title}
    session = evaluation_id(t, lot_of(p))  # a lot's session for an entry of a lot (分包)
    if entry.kind in ("experts.drawn", "experts.replaced"):
        accounts = [facts.expert_accounts[e] for e in _seated(p) if e in facts.expert_accounts]
        return [Notice(a, INVITED, title, "/experts/me") for a in accounts]
    if entry.kind == "opening.objection" and facts.agency:
        return [Notice(facts.agency, OBJECTION, title, f"/tenders/{t}/hall")]
    if entry.kind == "opening.answer":
        bidder = facts.objection_bidders.get(str(p.get("objection_id", "")))
        return [Notice(bidder, ANSWERED, title, f"/tenders/{t}/hall")] if bidder else []
    if entry.kind == "opening.record":
        return [Notice(b, RECORD, title, f"/tenders/{t}/hall") for b in facts.bidders]
    if entry.kind == "evaluation.started":
        members = [str(m["account"]) for m in p.get("members", []) if isinstance(m, Mapping) and m.get("account")]
        return [Notice(m, STARTED, title, f"/evaluation/{session}") for m in members]
    if entry.kind == "evaluation.member_added" and p.get("kind") == "expert" and p.get("account"):
        return [Notice(str(p["account"]), STARTED, title, f"/evaluation/{session}")]
    if entry.kind == "evaluation.state" and p.get("new") in ("scoring", "signing"):
        text = SCORING if p["new"] == "scoring" else SIGNING
        return [Notice(m, text, title, f"/evaluation/{session}") for m in facts.members]
    if entry.kind in ("evaluation.price_correction", "evaluation.low_price_query"):
        bidder = facts.bid_bidders.get(str(p.get("bid", "")))
        text = CORRECTION if entry.kind == "evaluation.price_correction" else LOW_PRICE
        return [Notice(bidder, text, title, f"/evaluation/{session}/my-bid")] if bidder else []
    if entry.kind in ("evaluation.price_correction_answered", "evaluation.low_price_justified"):
        return [Notice(m, BIDDER_ANSWERED, title, f"/evaluation/{session}/decisions") for m in facts.members
                if m != entry.actor.account]
    return []


KINDS = ("experts.drawn", "experts.replaced", "opening.objection", "opening.answer", "opening.record",
         "evaluation.started", "evaluation.state", "evaluation.member_added", "evaluation.price_correction",
         "evaluation.low_price_query", "evaluation.price_correction_answered", "evaluation.low_price_justified")
"""The kinds the rules look at; the job skips every other entry without a lookup."""
