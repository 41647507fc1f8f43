"""Who may call each expert route, by route name (format: web/access/permissions/__init__.py).

The committee is sealed until the evaluation session starts: the draw status shows the list only
to supervisors (always) and to the tender's agency after the session started (evaluation/
experts/views.py); bidders have no expert route at all; each expert sees its own invitations.
"""

from __future__ import annotations

from evaluation.accounts.account import Role
from web.access.permissions import Rule, roles

EXPERT = roles(Role.expert)
POOL_READERS = roles(Role.admin, Role.agency, Role.supervisor)
POOL_KEEPERS = roles(Role.admin, Role.agency)

RULES: dict[str, Rule] = {
    "experts.list": Rule(POOL_READERS, "专家库 the expert pool (administrators, agencies, supervisors)"),
    "experts.page": Rule(POOL_READERS, "专家库 the pool page (import and edits for its keepers)"),
    "experts.csv_import": Rule(POOL_KEEPERS, "导入专家 import experts from CSV"),
    "experts.template": Rule(POOL_KEEPERS, "导入模板 the CSV template of the pool"),
    "experts.add": Rule(POOL_KEEPERS, "新增专家 add an expert to the pool"),
    "experts.edit": Rule(POOL_KEEPERS, "编辑专家 edit an expert of the pool"),
    "experts.deactivate": Rule(POOL_KEEPERS, "暂停专家 take an expert out of later draws"),
    "experts.reactivate": Rule(POOL_KEEPERS, "恢复专家 put a paused expert back into the draw"),
    "experts.new.page": Rule(POOL_KEEPERS, "新增专家 the form adding an expert"),
    "experts.edit.page": Rule(POOL_KEEPERS, "编辑专家 the form editing an expert"),
    "experts.draw.request": Rule(roles(Role.agency), "申请抽取 request the expert draw of one's own opened tender"),
    "experts.draw.preview": Rule(roles(Role.agency), "可抽取人数 how many experts the criteria leave, before requesting (one's own tender)"),
    "experts.draw.status": Rule(roles(Role.agency, Role.supervisor), "抽取状态 the draw; the list only for supervisors until the session starts"),
    "experts.draw.page": Rule(roles(Role.agency, Role.supervisor), "抽取 the draw page of a tender"),
    "experts.draw.decline": Rule(roles(Role.agency), "record that a drawn expert declined (one's own tender)"),
    "experts.invitations": Rule(EXPERT, "我的邀请 one's own invitations"),
    "experts.me.page": Rule(EXPERT, "我的邀请 the invitations page"),
    "experts.accept": Rule(EXPERT, "接受 accept one's own invitation"),
    "experts.decline": Rule(EXPERT, "拒绝 decline one's own invitation (a replacement is drawn)"),
}
