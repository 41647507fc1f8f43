"""A running app with one account per role, for the tender API tests over real HTTP."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation.accounts import Account, Role
from tests.web.signin import make_account, session_headers
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, CHAIN

NAMES = ["agency", "agency2", "bidder0", "bidder1", "bidder2", "bidder3", "supervisor", "expert"]


@dataclass
class Hall:
    client: TestClient
    accounts: dict[str, Account]
    headers: dict[str, dict[str, str]]

    async def call(self, who: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {**self.headers[who], **kw.pop("headers", {})}
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body

    async def kinds_since(self, size: int) -> list[str]:
        log = self.client.app[AUDIT_LOG]
        return [e.kind for e in await log.entries(size, log.size)]

    @property
    def chain(self) -> Any:
        return self.client.app[CHAIN]


async def start(aiohttp_client: Any, tmp_path: Path) -> Hall:
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1, log_origin="test.example/audit"))
    client: TestClient = await aiohttp_client(app)
    accounts, headers = {}, {}
    for name in NAMES:
        role = Role(name.rstrip("0123456789").removesuffix("2") if not name.startswith("agency") else "agency")
        accounts[name] = await make_account(app, role, username=name)
        headers[name] = await session_headers(app, accounts[name])
    headers["anonymous"] = await session_headers(app, None)
    return Hall(client, accounts, headers)


def tender_body(opening_in: float = 4.0, **over: Any) -> dict[str, Any]:
    return {"title": "办公设备采购", "method": "open", "budget_fen": 100_000_000,
            "opening_time": int(time.time() + opening_in), "min_bids": 2, "objection_window_s": 60, **over}
