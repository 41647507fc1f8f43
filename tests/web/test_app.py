"""The application over real HTTP on loopback: pages, beacon mount, error shape, the demo."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from crypto.chain import ChainInfo
from web.app import create_app
from web.config import Settings
from web.demo.pages import install_demo


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", beacon_period=1)


async def test_home_page_and_beacon(aiohttp_client: Any, settings: Settings) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    resp = await client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert "评标舱" in html and "单一运营方信任级别" in html and "single-operator trust" not in html
    client.session.cookie_jar.update_cookies({"lang": "en"})
    english = re.sub(r"<script\b.*?</script>", "", await (await client.get("/")).text(), flags=re.S)
    assert "single-operator trust" in english and "单一运营方信任级别" not in english
    status = await (await client.get("/api/beacon")).json()
    info = ChainInfo.from_json(await (await client.get(f"/beacon/{status['chain']}/info")).text())
    info.check_hash()
    assert info.hash == status["chain"]
    assert (settings.data_dir / "beacon" / "beacon.key").exists()


async def test_errors_have_one_shape(aiohttp_client: Any, settings: Settings) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    resp = await client.get("/no/such/page")
    assert resp.status == 404
    body = await resp.json()
    assert body == {"ok": False, "status": 404, "error": "这个地址没有内容", "request_id": resp.headers["X-Request-Id"]}
    english = await client.get("/no/such/page", cookies={"lang": "en"})
    assert (await english.json())["error"] == "There is nothing at this address"
    wrong_method = await client.get("/logout")  # a form posts it; nothing answers a GET
    assert wrong_method.status == 405 and (await wrong_method.json())["error"] == "这个地址不接受这种请求"


async def test_demo_bids_open_by_themselves(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(settings)
    install_demo(app, delays=(0.5, 1.0, 1.5))
    client: TestClient = await aiohttp_client(app)
    first = await (await client.get("/api/demo/timelock")).json()
    assert all(b["opened"] is None for b in first["bids"])  # sealed: nobody has the round's signature yet
    page = await client.get("/demo/timelock")
    assert "密封中" in await page.text()

    async def all_open() -> list[dict[str, Any]]:
        while True:
            bids = (await (await client.get("/api/demo/timelock")).json())["bids"]
            if all(b["opened"] or b["error"] for b in bids):
                return bids
            await asyncio.sleep(0.2)  # polling the public API, as the page does

    bids = await asyncio.wait_for(all_open(), timeout=30)
    assert [b["error"] for b in bids] == [None, None, None]
    assert all("总报价" in b["opened"] for b in bids)


async def test_demo_seeds_accounts_and_a_tender(aiohttp_client: Any, settings: Settings) -> None:
    from evaluation.accounts.account import authenticate
    from web.demo.data import ACCOUNTS, DEMO_PASSWORD
    from web.keys import AUDIT_LOG, ENGINE

    app = create_app(settings)
    install_demo(app, delays=(60, 60, 60), tender_in=120)
    await aiohttp_client(app)
    for a in ACCOUNTS:
        account = await authenticate(app[ENGINE], a.username, DEMO_PASSWORD)
        assert account.role == a.role
    log = app[AUDIT_LOG]
    kinds = [e.kind for e in await log.entries(0, log.size)]
    assert kinds.count("tender.published") == 1
    assert kinds.count("bid.submitted") == 3


def test_fast_demo_plays_a_whole_tender() -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", "import sys; from web.cli.main import main; sys.exit(main(['demo', '--fast']))"],
        capture_output=True, timeout=120, text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "开标记录表 Opening record" in r.stdout
    assert r.stdout.count("total_price: ") == 3
    assert "valid bids 有效投标: 3" in r.stdout
    assert "nobody can open the bids before it" in r.stderr
