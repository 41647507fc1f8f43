"""Who may open each tender page (招标项目页面), by route name (format: web/access/permissions/__init__.py).

The pages only read; every action on them calls the JSON API, whose rules are in tenders.py.
Ownership (a draft is its agency's; the hall is for the tender's agency, its bidders and
supervisors) is checked by the page handlers as by the API.
"""

from __future__ import annotations

from evaluation.accounts.account import Role
from web.access.permissions import SIGNED_IN, Rule, roles

RULES: dict[str, Rule] = {
    "pages.tenders": Rule(SIGNED_IN, "招标项目 the tender list (drafts only for their agency and supervisors)"),
    "pages.tender_new": Rule(roles(Role.agency), "新建项目 the new-tender form"),
    "pages.tender_edit": Rule(roles(Role.agency), "edit one's own draft tender"),
    "pages.tender": Rule(SIGNED_IN, "a tender's page; record, objections and leads after the opening"),
    "pages.bid": Rule(roles(Role.bidder), "投标 the bid page: seal in the browser, upload, receipt"),
    "notifications.page": Rule(SIGNED_IN, "通知 one's own notifications (reading them marks them read)"),
    "notifications.email": Rule(SIGNED_IN, "the email address one's own notifications are also sent to"),
    "pages.hall": Rule(roles(Role.agency, Role.bidder, Role.supervisor), "开标大厅 the opening hall (its agency, its bidders, supervisors)"),
}
