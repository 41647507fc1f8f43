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
    DemoAccount("agency", Role.agency, "王晓梅", "某市政府采购中心"),
    DemoAccount("bidder1", Role.bidder, "陈建国", "华东建设工程有限公司"),
    DemoAccount("bidder2", Role.bidder, "林悦", "杭州智联科技有限公司"),
    DemoAccount("bidder3", Role.bidder, "周海涛", "宁波海工装备有限公司"),
    DemoAccount("expert1", Role.expert, "李明", "浙江大学"),
    DemoAccount("supervisor", Role.supervisor, "赵敏", "市财政局"),
    DemoAccount("admin", Role.admin, "孙立", "评标舱平台"),
)
"""Each a person (display name) and the organisation they act for, written once: pages show the
English through the catalogue, never beside the Chinese, and a company is named the same way
everywhere (a bid carries its organisation, as web/api/tenders.display_name gives it)."""

SAMPLE_BIDS = {
    "bidder1": ({"total_price": "1268000.00", "delivery_days": 60}, "技术方案：施工组织与进度计划"),
    "bidder2": ({"total_price": "1192500.00", "delivery_days": 45}, "技术方案：设备选型与售后服务"),
    "bidder3": ({"total_price": "1305000.00", "delivery_days": 50}, "技术方案：供货清单与质量保证"),
}


def bidder_name(account: Account) -> str:
    """The name a bid carries: the organisation, else the person (web/api/tenders.display_name)."""
    return str(account.organization or account.display_name or account.username)


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
    plain = build_container(record, [("技术方案.txt", document.encode())])
    out = io.BytesIO()
    tlock.seal(io.BytesIO(plain), out, ctx.chain, tender.opening_round)
    return out.getvalue()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_tender(ctx: TenderContext, accounts: dict[str, Account], opening_in: float) -> Tender:
    """Publish a demo tender opening `opening_in` seconds from now, with three sealed bids."""
    agency = accounts["agency"]
    spec = {
        "title": f"办公设备采购项目（{time.strftime('%H:%M')}）",
        "description": "演示项目：投标在开标时间自动开启。",
        "method": "open",
        "budget_fen": 150_000_000,
        "lots": [{"name": "计算机", "budget_fen": 150_000_000}],  # the pages number it: 第1包 计算机
        "opening_time": int(time.time() + opening_in),
        "objection_window_s": 600,
    }
    tender = await tenders.create(ctx, agency.actor, agency.organization, spec)
    tender = await tenders.publish(ctx, agency.actor, tender.id)
    for username, (record, document) in SAMPLE_BIDS.items():
        bidder = accounts[username]
        blob = sealed_bid(ctx, tender, record, document)
        meta = bid_domain.UploadMeta("127.0.0.1", "pingbiao-demo", "", bidder_name(bidder))
        await bid_domain.submit(ctx, bidder.actor, tender.id, _once(blob), meta, len(blob))
    return tender
