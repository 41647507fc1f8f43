"""`pingbiao demo --fast`: one whole tender played through the HTTP API in about ten seconds.

A fresh data directory, a local beacon with a 1-second period, the real server on a loopback
port; an agency publishes, three bidders seal (as `pingbiao seal` would) and upload, the opening
happens by itself at the round, and the opening record (开标记录表) is printed. Exit 0 on success.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from crypto import tlock
from crypto.chain import ChainInfo
from evaluation.tenders.bid_container import build_container
from web.app import create_app
from web.config import Settings
from web.demo.data import DEMO_PASSWORD, SAMPLE_BIDS, ensure_accounts
from web.logs import setup_logging

OPENING_IN = 6  # seconds from publication to the opening


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class ApiUser:
    """One person using the JSON API: their own cookie jar and CSRF token."""

    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.http = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def sign_in(self) -> None:
        me = await self.call("GET", "/api/me")
        self.csrf = me["csrf_token"]
        self.csrf = (await self.call("POST", "/login", json={"username": self.username, "password": DEMO_PASSWORD}))["csrf_token"]

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        async with self.http.request(method, path, headers=headers, **kw) as resp:
            body = await resp.json()
            if resp.status >= 400:
                raise RuntimeError(f"{self.username}: {method} {path} → {resp.status}: {body.get('error')}")
            return body

    async def close(self) -> None:
        await self.http.close()


async def _wait_for_record(bidder: ApiUser, tender_id: str) -> dict[str, Any]:
    """Follow the opening hall over its WebSocket until the record is final (or the tender fails)."""
    async with bidder.http.ws_connect(f"/api/tenders/{tender_id}/hall/ws", headers={"Origin": bidder.base}) as ws:
        async for msg in ws:
            event = msg.json()
            if event["type"] == "record.bid":
                row = event["row"]
                shown = ", ".join(f"{k}={v}" for k, v in row["fields"].items()) or row.get("reason")
                say(f"  唱标 read out: {row['bidder_name']}: {shown}")
            elif event["type"] in ("record.final", "failed"):
                return event
    raise RuntimeError("the hall closed before the record was final")


async def play(data_dir: Path) -> int:
    settings = Settings(data_dir=data_dir, beacon_period=1, log_origin="demo.pingbiao.local/audit", log_level="WARNING")
    setup_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    users: list[ApiUser] = []
    try:
        await ensure_accounts(app)
        agency = ApiUser(base, "agency")
        bidders = [ApiUser(base, name) for name in SAMPLE_BIDS]
        users = [agency, *bidders]
        for user in users:
            await user.sign_in()
        tender = await agency.call(
            "POST", "/api/tenders",
            json={"title": "快速演示项目", "budget_fen": 150_000_000, "opening_time": int(time.time()) + OPENING_IN},
        )
        tender = await agency.call("POST", f"/api/tenders/{tender['id']}/publish")
        say(f"published {tender['id']}: opens at round {tender['opening_round']} ({OPENING_IN} s)")
        info = await agency.call("GET", f"/beacon/{tender['chain']}/info")
        chain = ChainInfo.from_json(info)
        chain.check_hash()
        for bidder in bidders:
            record, document = SAMPLE_BIDS[bidder.username]
            out = io.BytesIO()
            tlock.seal(io.BytesIO(build_container(record, [("技术方案.txt", document.encode())])), out, chain, tender["opening_round"])
            receipt = await bidder.call(
                "PUT", f"/api/tenders/{tender['id']}/bid", data=out.getvalue(),
                headers={"Content-Type": "application/octet-stream"},
            )
            bid, entry = receipt["bid"], receipt["receipt"]["entry"]
            say(f"{bidder.username} sealed and submitted {bid['sha256'][:16]}… ({bid['size']} bytes), audit entry {entry['index']}")
        say(f"waiting for round {tender['opening_round']}; nobody can open the bids before it")
        final = await asyncio.wait_for(_wait_for_record(bidders[0], tender["id"]), timeout=60)
        if final["type"] == "failed":
            say(f"流标 failed: {final['reason']}")
            return 1
        record = await agency.call("GET", f"/api/tenders/{tender['id']}/record")
        print(f"开标记录表 Opening record — {tender['title']} ({tender['id']}, round {record['round']})")
        for row in record["rows"]:
            values = "  ".join(f"{k}: {v}" for k, v in row["fields"].items()) if row["status"] == "opened" else row["reason"]
            print(f"  {row['seq']}. {row['bidder_name']}  {values}")
        print(f"valid bids 有效投标: {record['valid']} (minimum {record['min_bids']}); audit log entries: {app_log_size(app)}")
        return 0
    finally:
        for user in users:
            await user.close()
        await runner.cleanup()


def app_log_size(app: web.Application) -> int:
    from web.keys import AUDIT_LOG

    return app[AUDIT_LOG].size


def run_fast_demo(data_dir: Path | None = None) -> int:
    """Play the demo in `data_dir` (a fresh temporary directory when None)."""
    if data_dir is not None:
        return asyncio.run(play(data_dir))
    with tempfile.TemporaryDirectory(prefix="pingbiao-fast-") as tmp:
        return asyncio.run(play(Path(tmp)))
