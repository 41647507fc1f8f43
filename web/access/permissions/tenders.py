"""Who may call each tender route, by route name (format: web/access/permissions/__init__.py).

Roles are the first gate; ownership (the agency that owns the tender, the bidder that owns the
bid) is checked by the domain functions. Supervisors read everything and change nothing (the
permission middleware refuses their state-changing calls whatever a rule says).
"""

from __future__ import annotations

from evaluation.accounts.account import Role
from web.access.permissions import SIGNED_IN, Rule, roles

AGENCY = roles(Role.agency)
BIDDER = roles(Role.bidder)
HALL = roles(Role.agency, Role.bidder, Role.supervisor)

RULES: dict[str, Rule] = {
    "tenders.list": Rule(SIGNED_IN, "招标项目列表 list tenders (drafts only for their agency and supervisors)"),
    "tenders.detail": Rule(SIGNED_IN, "a tender; who bid is shown only to supervisors before the opening"),
    "tenders.create": Rule(AGENCY, "create a draft tender"),
    "tenders.edit_draft": Rule(AGENCY, "edit one's own draft"),
    "tenders.publish": Rule(AGENCY, "发布 publish one's own draft"),
    "tenders.amend": Rule(AGENCY, "变更公告 amend one's own published tender before the deadline"),
    "tenders.postpone": Rule(AGENCY, "延期 postpone the opening of one's own tender"),
    "bids.upload": Rule(BIDDER, "投标 upload (or replace) one's own sealed bid"),
    "bids.upload_start": Rule(BIDDER, "投标 open an upload of one's own sealed bid in parts"),
    "bids.upload_part": Rule(BIDDER, "投标 send a part of one's own upload"),
    "bids.upload_cancel": Rule(BIDDER, "投标 cancel one's own upload (nothing is kept)"),
    "bids.withdraw": Rule(BIDDER, "撤回 withdraw one's own bid before the deadline"),
    "bids.mine": Rule(BIDDER, "one's own bid and its receipt"),
    "bids.list": Rule(roles(Role.agency, Role.supervisor), "bids of a tender: supervisors; its agency after the opening"),
    "hall.snapshot": Rule(HALL, "开标大厅 the hall's state (its agency, its bidders, supervisors)"),
    "hall.ws": Rule(HALL, "开标大厅 live events over WebSocket"),
    "hall.signin": Rule(roles(Role.agency, Role.bidder), "签到 sign in to the hall"),
    "hall.read_out": Rule(AGENCY, "唱标 read the opened bids of one's own tender out, one by one"),
    "hall.announce": Rule(AGENCY, "公告 post an announcement in the hall of one's own tender"),
    "opening.record": Rule(SIGNED_IN, "开标记录表 the opening record, after the opening"),
    "opening.record_csv": Rule(SIGNED_IN, "开标记录表 the opening record as a CSV file, after the opening"),
    "opening.record_document": Rule(SIGNED_IN, "开标记录表 the record as the signed document (JSON, its SHA-256, the signatures)"),
    "opening.record_pdf": Rule(SIGNED_IN, "开标记录表 the signed record as a PDF, after the opening"),
    "opening.sign": Rule(roles(Role.agency, Role.supervisor), "签署 sign the opening record: the tender's agency (the host) and supervisors (监督人)",
                          attests=True),
    "opening.confirm": Rule(BIDDER, "confirm the opening record (bidders in it)"),
    "opening.object": Rule(BIDDER, "异议 object to the opening record (bidders in it)"),
    "opening.answer": Rule(AGENCY, "answer an objection (the tender's agency)"),
    "opening.leads": Rule(roles(Role.agency, Role.supervisor), "collusion leads after the opening"),
}
