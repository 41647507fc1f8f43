"""Rules for the routes every installation has: pages, beacon, audit log, accounts."""

from __future__ import annotations

from evaluation.accounts.account import Role
from web.access.permissions import PUBLIC, SIGNED_IN, Rule, roles

READERS = roles(Role.supervisor)
"""Who reads audit entries: before the opening they show who has bid, so not the administrator."""

RULES: dict[str, Rule] = {
    "index": Rule(PUBLIC, "首页 the home page"),
    "language": Rule(PUBLIC, "界面语言 switch the pages between Chinese and English (a cookie)"),
    "static": Rule(PUBLIC, "stylesheets, scripts, images"),
    "favicon": Rule(PUBLIC, "网站图标 the site icon (redirects to /static/favicon.svg)"),
    "api.beacon": Rule(PUBLIC, "the beacon's chain and current round (public data)"),
    "/beacon/*": Rule(PUBLIC, "the local beacon's drand HTTP API (public randomness)"),
    "demo.timelock": Rule(PUBLIC, "the timelock demo page (sample bids, no real data)"),
    "api.demo.timelock": Rule(PUBLIC, "the timelock demo's state"),
    # The audit log: hashes are public (anyone may check the log grows append-only); entry
    # contents name accounts and bids (who has bid, before the opening), so only supervisors read them.
    "audit.checkpoint": Rule(PUBLIC, "the latest signed checkpoint (a size and a hash)"),
    "audit.vkey": Rule(PUBLIC, "the log's verifier key"),
    "audit.proof.inclusion": Rule(PUBLIC, "inclusion proof of an entry (hashes only)"),
    "audit.proof.consistency": Rule(PUBLIC, "consistency proof between two sizes (hashes only)"),
    "audit.entries": Rule(READERS, "audit entries with their contents"),
    "audit.receipt": Rule(READERS, "an entry's receipt: the entry itself (who did what), its proof, the checkpoint"),
    "audit.bundle": Rule(READERS, "the whole log as an offline bundle (.tar.gz) to verify elsewhere"),
    "audit.receipt_page": Rule(READERS, "回执 an entry's receipt as a page, checked against the signed checkpoint"),
    "audit.home": Rule(READERS, "审计日志 the log overview page"),
    "audit.tender": Rule(READERS, "监管回放 a tender's replay page"),
    "audit.recording": Rule(READERS, "监管回放录像 a tender's archived booth recording (seekable), for the replay's players"),
    # Accounts.
    "login": Rule(PUBLIC, "登录 the sign-in form"),
    "login.submit": Rule(PUBLIC, "sign in", self_service=True),
    "logout": Rule(PUBLIC, "退出 sign out (ends this session)", self_service=True),
    "api.me": Rule(PUBLIC, "who is signed in, and the CSRF token for fetch calls"),
    "account": Rule(SIGNED_IN, "我的账户 one's own account"),
    "account.password": Rule(SIGNED_IN, "change one's own password (ends every other session)", self_service=True),
    "admin.accounts": Rule(roles(Role.admin), "账户管理 list accounts"),
    "admin.accounts.create": Rule(roles(Role.admin), "create an account"),
    "admin.accounts.role": Rule(roles(Role.admin), "change an account's role"),
}
