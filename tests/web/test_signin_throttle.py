"""Sign-in throttling under attack, over real HTTP on SQLite and PostgreSQL: 30 parallel sign-ins
for one account check at most the free number of passwords and never answer 500; an attacker's
guesses lock the attacker's address, not the owner's; behind a trusted proxy the forwarded client
address is the one throttled (and nobody else can claim one)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from evaluation.accounts.account import Role
from evaluation.accounts.logins import USER_POLICY
from evaluation.accounts.tables import throttle_table
from evaluation.db import make_engine
from tests.conftest import need
from tests.web.signin import PASSWORD, make_account
from web.app import create_app
from web.config import Settings
from web.keys import ENGINE

PG_URL = os.environ.get("PINGBIAO_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """"" (SQLite in the data directory) or a fresh PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield ""
        return
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f"create database {name}"))
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        await admin.dispose()
        need(False, f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}")
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f"drop database if exists {name} with (force)"))
        await admin.dispose()


async def client_for(aiohttp_client: Any, tmp_path: Path, **settings: Any) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data", **settings)))
    return client


async def csrf(client: TestClient) -> str:
    token: str = (await (await client.get("/api/me")).json())["csrf_token"]
    return token


async def test_thirty_parallel_sign_ins_check_at_most_five_passwords(aiohttp_client: Any, tmp_path: Path, database_url: str) -> None:
    client = await client_for(aiohttp_client, tmp_path, database_url=database_url)
    await make_account(client.app, Role.bidder, "victim")
    token = await csrf(client)

    async def attempt(password: str) -> int:
        resp = await client.post("/login", json={"username": "victim", "password": password}, headers={"X-CSRF-Token": token})
        body = await resp.json()
        assert "\n" not in body.get("error", ""), body
        return resp.status

    guesses = [f"guess number {n}" for n in range(29)] + [PASSWORD]
    statuses = Counter(await asyncio.gather(*(attempt(p) for p in guesses)))
    assert set(statuses) <= {200, 401, 429}, statuses  # never a 500 'database is locked'
    assert statuses[401] + statuses[200] <= USER_POLICY.free, statuses  # the right one gets in only if among them
    async with client.app[ENGINE].connect() as conn:
        rows = {r.key: r.failures for r in await conn.execute(sa.select(throttle_table))}
    assert rows["pair:victim|127.0.0.1"] <= USER_POLICY.free, rows


async def sign_in(client: TestClient, token: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-CSRF-Token": token} | ({"X-Forwarded-For": forwarded} if forwarded else {})
    resp = await client.post("/login", json={"username": "victim", "password": password}, headers=headers)
    return resp.status


async def test_behind_a_trusted_proxy_the_attacker_is_throttled_not_the_owner(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path, trusted_proxies="127.0.0.1/32")
    await make_account(client.app, Role.bidder, "victim")
    token = await csrf(client)
    attacker = [await sign_in(client, token, "wrong password!", "198.51.100.66") for _ in range(7)]
    assert attacker == [401, 401, 401, 401, 429, 429, 429]
    assert await sign_in(client, token, PASSWORD, "203.0.113.5") == 200  # the owner, from its own address
    assert await sign_in(client, await csrf(client), PASSWORD, "198.51.100.66") == 429  # the attacker's address stays locked
    async with client.app[ENGINE].connect() as conn:
        keys = {r.key for r in await conn.execute(sa.select(throttle_table))}
    assert "ip:198.51.100.66" in keys and "ip:127.0.0.1" not in keys  # the real client, not the proxy


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path)  # trusted_proxies empty: the default
    await make_account(client.app, Role.bidder, "victim")
    token = await csrf(client)
    for n in range(5):  # a new claimed address each time buys nothing
        await sign_in(client, token, "wrong password!", f"192.0.2.{n}")
    assert await sign_in(client, token, PASSWORD, "192.0.2.200") == 429
    async with client.app[ENGINE].connect() as conn:
        keys = {r.key for r in await conn.execute(sa.select(throttle_table))}
    assert "ip:127.0.0.1" in keys and not any("192.0.2." in k for k in keys)


async def test_cookie_is_secure_when_the_trusted_proxy_says_https(aiohttp_client: Any, tmp_path: Path) -> None:
    trusted = await client_for(aiohttp_client, tmp_path / "a", trusted_proxies="127.0.0.1")
    page = await trusted.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert page.cookies["pingbiao_session"]["secure"] and "max-age" in page.headers["Strict-Transport-Security"]
    plain = await trusted.get("/login", headers={"X-Forwarded-Proto": "http"})
    assert not plain.cookies["pingbiao_session"]["secure"]
    untrusted = await client_for(aiohttp_client, tmp_path / "b")
    page = await untrusted.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert not page.cookies["pingbiao_session"]["secure"] and "Strict-Transport-Security" not in page.headers


async def test_uploads_record_the_forwarded_client(aiohttp_client: Any, tmp_path: Path) -> None:
    """Collusion leads compare upload addresses: behind a trusted proxy they are the clients'."""
    from evaluation.tenders.store import upload_table
    from tests.evaluation.tender_fixtures import sealed
    from tests.web.tender_client import Hall, tender_body
    from tests.web.tender_client import start as start_hall

    hall: Hall = await start_hall(aiohttp_client, tmp_path, trusted_proxies="127.0.0.1")
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    data = sealed(hall.chain, tender["opening_round"])
    status, _ = await hall.call("bidder0", "PUT", f"/api/tenders/{tender['id']}/bid", data=data,
                                headers={"Content-Type": "application/octet-stream", "X-Forwarded-For": "198.51.100.7, 127.0.0.1"})
    assert status == 201
    async with hall.client.app[ENGINE].connect() as conn:
        assert [r.ip for r in await conn.execute(sa.select(upload_table))] == ["198.51.100.7"]
