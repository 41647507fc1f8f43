"""Demo accounts and a demo tender for `pingbiao demo`, made through the same domain functions the
API uses: real accounts (argon2 passwords), a real published tender on the beacon, and three real
sealed bids (sealed as a bidder's own tools would, to the tender's round) — nothing is faked.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from crypto import tlock
from evaluation.accounts.account import Account, Role, create_account, find_by_username
from evaluation.tenders import bids as bid_domain
from evaluation.tenders import tender as tenders
from evaluation.tenders.bid_container import build_container
from evaluation.tenders.tender import Tender, TenderContext

DEMO_PASSWORD = "pingbiao-demo"
"""The password of every demo account. Demo data directories are for trying pingbiao only."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    display_name: str
    organization: str


ACCOUNTS = (
    DemoAccount("agency", Role.agency, "王采购 Wang (agency)", "某市政府采购中心 City Procurement Centre"),
    DemoAccount("bidder1", Role.bidder, "华东建设 East China Construction", "华东建设工程有限公司"),
    DemoAccount("bidder2", Role.bidder, "杭州智联 Hangzhou Zhilian", "杭州智联科技有限公司"),
    DemoAccount("bidder3", Role.bidder, "宁波海工 Ningbo Marine", "宁波海工装备有限公司"),
    DemoAccount("expert1", Role.expert, "李专家 Expert Li", "浙江大学"),
    DemoAccount("supervisor", Role.supervisor, "赵监管 Supervisor Zhao", "市财政局 Finance Bureau"),
    DemoAccount("admin", Role.admin, "平台管理员 Admin", "pingbiao"),
)

SAMPLE_BIDS = {
    "bidder1": ({"total_price": "1268000.00", "delivery_days": 60}, "技术方案 Technical proposal — 华东建设"),
    "bidder2": ({"total_price": "1192500.00", "delivery_days": 45}, "技术方案 Technical proposal — 杭州智联"),
    "bidder3": ({"total_price": "1305000.00", "delivery_days": 50}, "技术方案 Technical proposal — 宁波海工"),
}


async def ensure_accounts(app: web.Application) -> dict[str, Account]:
    """The demo accounts, created once per data directory."""
    from web.keys import AUDIT_LOG, ENGINE

    out = {}
    for a in ACCOUNTS:
        existing = await find_by_username(app[ENGINE], a.username)
        out[a.username] = existing or await create_account(
            app[AUDIT_LOG], username=a.username, password=DEMO_PASSWORD, display_name=a.display_name,
            role=a.role, organization=a.organization,
        )
    return out


def sealed_bid(ctx: TenderContext, tender: Tender, record: dict[str, object], document: str) -> bytes:
    """A bid as a bidder's browser or `pingbiao seal` makes it: the container, sealed to the round."""
    assert tender.opening_round is not None
    plain = build_container(record, [("proposal.txt", document.encode())])
    out = io.BytesIO()
    tlock.seal(io.BytesIO(plain), out, ctx.chain, tender.opening_round)
    return out.getvalue()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_tender(ctx: TenderContext, accounts: dict[str, Account], opening_in: float) -> Tender:
    """Publish a demo tender opening `opening_in` seconds from now, with three sealed bids."""
    agency = accounts["agency"]
    spec = {
        "title": f"办公设备采购项目 Office equipment procurement ({time.strftime('%H:%M')})",
        "description": "演示项目：投标在开标时间自动开启。Demo tender: bids open by themselves at the opening time.",
        "method": "open",
        "budget_fen": 150_000_000,
        "lots": [{"name": "第一包 Lot 1: 计算机 Computers", "budget_fen": 150_000_000}],
        "opening_time": int(time.time() + opening_in),
        "objection_window_s": 600,
    }
    tender = await tenders.create(ctx, agency.actor, agency.organization, spec)
    tender = await tenders.publish(ctx, agency.actor, tender.id)
    for username, (record, document) in SAMPLE_BIDS.items():
        bidder = accounts[username]
        blob = sealed_bid(ctx, tender, record, document)
        meta = bid_domain.UploadMeta("127.0.0.1", "pingbiao-demo", "", bidder.display_name)
        await bid_domain.submit(ctx, bidder.actor, tender.id, _once(blob), meta, len(blob))
    return tender
