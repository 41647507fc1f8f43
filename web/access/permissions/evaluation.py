"""Who may use the evaluation-session routes (评标), by route name (format: web/access/permissions/__init__.py).

Roles are the first gate. The domain (evaluation/session/session.py, evaluation/session/sheets.py) then checks that
the account is a member of this tender's committee, the tender's own agency, or a supervisor;
a purchaser's representative may hold an agency or expert account. Supervisors read everything
and change nothing.
"""

from __future__ import annotations

from evaluation.accounts.account import Role
from web.access.permissions import Rule, roles

READERS = roles(Role.expert, Role.agency, Role.supervisor)
MEMBERS = roles(Role.expert, Role.agency)
AGENCY = roles(Role.agency)
BIDDERS = roles(Role.bidder)
MEMBERS_OR_BIDDERS = roles(Role.expert, Role.agency, Role.bidder)
READERS_OR_BIDDERS = roles(Role.expert, Role.agency, Role.supervisor, Role.bidder)

RULES: dict[str, Rule] = {
    "evaluation.page": Rule(READERS, "评标 the evaluation session page (members, its agency, supervisors)"),
    "evaluation.report_page": Rule(READERS, "评标报告 the printable evaluation report"),
    "evaluation.report_pdf": Rule(READERS, "评标报告 PDF of the evaluation report"),
    "evaluation.view": Rule(READERS, "the session: progress; a member's own sheets until all have submitted"),
    "evaluation.report": Rule(READERS, "the report's content, hash and signers"),
    "evaluation.sheets": Rule(READERS, "a member's signed sheets (others' only after all have submitted)"),
    "evaluation.start": Rule(AGENCY, "开始评标 start the evaluation of one's own confirmed tender"),
    "evaluation.add_member": Rule(AGENCY, "add a purchaser's representative (采购人代表) during check-in"),
    "evaluation.refill": Rule(AGENCY, "补抽 refill from the draw's reserve the seat of a member that withdrew (回避) at check-in"),
    "evaluation.release": Rule(AGENCY, "不再补足 leave a withdrawn member's seat unfilled when the committee without it is still lawful"),
    "evaluation.checkin": Rule(MEMBERS, "签到 check in: declaration, commitment, signing key (members)"),
    "evaluation.publish_result": Rule(AGENCY, "结果公告 publish the result of one's own tender after the signed report"),
    "evaluation.replace_key": Rule(MEMBERS, "重新登记签名密钥 register a new signing key after confirming one's password (members)"),
    "evaluation.vote": Rule(MEMBERS, "投票 vote for the group leader (members)"),
    "evaluation.submit": Rule(MEMBERS, "提交并签名 submit one's signed sheets (members)"),
    "evaluation.change": Rule(MEMBERS, "修改 change one's own score for an allowed reason, signed (members)"),
    "evaluation.confirm_deviation": Rule(MEMBERS, "确认畸高畸低评分 confirm one's own deviating score with a reason (members)"),
    "evaluation.invalid_bid": Rule(MEMBERS, "投标无效 record the committee's decision that a bid is invalid (the group leader)"),
    "evaluation.price_correction": Rule(MEMBERS, "算术修正 record an arithmetic correction of a bid's price (the group leader)"),
    "evaluation.price_correction_answer": Rule(BIDDERS, "确认算术修正 confirm or refuse the correction of one's own bid's price"),
    "evaluation.low_price_query": Rule(MEMBERS, "异常低价 ask a bidder to justify an abnormally low price (the group leader)"),
    "evaluation.low_price_justify": Rule(MEMBERS_OR_BIDDERS, "书面说明 justify one's own low price (or the leader records one given in the booth)"),
    "evaluation.low_price_decision": Rule(MEMBERS, "decide on a price justification (the group leader)"),
    "evaluation.my_bid": Rule(BIDDERS, "a bidder's own bid in the evaluation: its correction and price query"),
    "evaluation.tally": Rule(MEMBERS, "汇总 close the review and tally (the group leader)"),
    "evaluation.sign_report": Rule(MEMBERS, "sign the evaluation report's hash (members)"),
    "evaluation.decisions_page": Rule(READERS, "评审决定 the committee's decisions on bids: corrections, price queries, invalid bids"),
    "evaluation.my_bid_page": Rule(BIDDERS, "评审询问 a bidder's own bid in the evaluation: confirm a correction, justify a low price"),
    "evaluation.justification": Rule(READERS_OR_BIDDERS, "查阅 the supporting document of a price justification; each reading is logged"),
    "evaluation.documents": Rule(READERS, "投标文件 the opened bids' documents, listed (committee, its agency, supervisors)"),
    "evaluation.document": Rule(READERS, "查阅 one document of an opened bid; each opening is logged"),
}
