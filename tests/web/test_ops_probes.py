"""Liveness and readiness over real HTTP, on SQLite and PostgreSQL: /readyz names the dependency
that failed when the database is gone, the audit log's writer has stopped, or an external beacon
stops answering; every failure is logged with the request id the answer carries."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from crypto.beacon import LocalBeacon, beacon_app
from signaling.janus.launcher import JanusProcess, JanusUnavailable, free_port
from tests.conftest import need, need_executable
from tests.pg import reachable_admin, scratch_databases
from tests.web import logcapture
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG
from web.ops.health import MEDIA_URL

stderr_json = logcapture.stderr_json  # the fixture: the JSON log lines, read back



async def _fresh_database() -> AsyncIterator[tuple[str, str]]:
    """A fresh PostgreSQL database (its URL and name), dropped afterwards."""
    async with scratch_databases("t_ops") as scratch:
        name = await scratch.make()
        yield scratch.url(name), name


@pytest.fixture
async def pg_database() -> AsyncIterator[tuple[str, str]]:
    async for found in _fresh_database():
        yield found


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    async for url, _ in _fresh_database():
        yield url


async def client_for(aiohttp_client: Any, tmp_path: Path, **settings: Any) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data", beacon_period=1, **settings)))
    return client


async def test_ready_on_both_databases(aiohttp_client: Any, tmp_path: Path, database_url: str) -> None:
    client = await client_for(aiohttp_client, tmp_path, database_url=database_url)
    live = await client.get("/healthz")
    assert live.status == 200 and await live.json() == {"ok": True}
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert await ready.json() == {"ok": True, "checks": {"database": {"ok": True}, "audit_log": {"ok": True},
                                                        "beacon": {"ok": True}}}


@pytest.mark.postgres
async def test_database_gone_fails_readiness_not_liveness(aiohttp_client: Any, tmp_path: Path,
                                                          pg_database: tuple[str, str], stderr_json: Any) -> None:
    url, name = pg_database
    client = await client_for(aiohttp_client, tmp_path, database_url=url)
    assert (await client.get("/readyz")).status == 200
    admin = await reachable_admin(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:  # the database goes away under the running server
        await conn.execute(sa.text(f"drop database {name} with (force)"))
    await admin.dispose()
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and body["failed"] == ["database"], body
    assert body["checks"]["database"] == {"ok": False, "error": "数据库无法查询 the database did not answer a query"}
    assert body["checks"]["beacon"] == {"ok": True}
    assert (await client.get("/healthz")).status == 200  # the process itself is fine: do not restart it
    logged = [line for line in stderr_json() if line["event"] == "readiness check failed"]
    assert [(line["check"], line["request_id"]) for line in logged] == [("database", ready.headers["X-Request-Id"])]
    assert "Error" in logged[0]["error"]  # the exception, for the operator: in the log, not in the public answer


async def test_stopped_audit_writer_fails_readiness(aiohttp_client: Any, tmp_path: Path, database_url: str) -> None:
    client = await client_for(aiohttp_client, tmp_path, database_url=database_url)
    await client.app[AUDIT_LOG].stop()
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and body["failed"] == ["audit_log"], body
    assert body["checks"]["database"] == {"ok": True}


async def test_unreachable_beacon_fails_readiness(aiohttp_client: Any, tmp_path: Path) -> None:
    beacon = LocalBeacon.create(period=1)
    server = TestServer(beacon_app(beacon))
    await server.start_server()
    try:
        client = await client_for(aiohttp_client, tmp_path, beacon_url=str(server.make_url("")).rstrip("/"),
                                  beacon_chain=beacon.chain.hash)
        assert (await client.get("/readyz")).status == 200
    finally:
        await server.close()  # the beacon stops answering; nothing listens on its port any more
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and body["failed"] == ["beacon"], body
    assert body["checks"]["beacon"]["error"].startswith("信标不可达")


REDIS_URL = os.environ.get("PINGBIAO_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def _redis_answers(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_bus_checked_only_when_configured(aiohttp_client: Any, tmp_path: Path) -> None:
    need(await _redis_answers(REDIS_URL), f"Redis unreachable at {REDIS_URL}")
    client = await client_for(aiohttp_client, tmp_path, signaling_bus_url=REDIS_URL)
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200 and body["checks"]["bus"] == {"ok": True}, body
    alone = await client_for(aiohttp_client, tmp_path / "alone")
    assert "bus" not in (await (await alone.get("/readyz")).json())["checks"]  # one process: no bus to check


@pytest.mark.redis
async def test_stopped_redis_fails_readiness(aiohttp_client: Any, tmp_path: Path, stderr_json: Any) -> None:
    exe = need_executable("redis-server")
    port = free_port()
    redis = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = asyncio.get_running_loop().time() + 10
        while not await _redis_answers(url):  # until it accepts connections
            assert asyncio.get_running_loop().time() < deadline, "redis-server did not start"
            await asyncio.sleep(0.05)  # between connection attempts, not a wait for an event
        client = await client_for(aiohttp_client, tmp_path, signaling_bus_url=url)
        assert (await client.get("/readyz")).status == 200
    finally:
        redis.terminate()
        redis.wait(10)
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and body["failed"] == ["bus"], body
    assert body["checks"]["bus"]["error"].startswith("信令总线不可达")
    assert body["checks"]["database"] == {"ok": True}
    logged = [line for line in stderr_json() if line["event"] == "readiness check failed"]
    assert [line["check"] for line in logged] == ["bus"]


async def test_media_server_checked_when_known(aiohttp_client: Any, tmp_path: Path) -> None:
    need_executable("janus")
    janus = JanusProcess.in_directory(tmp_path / "janus", "admin-secret-for-tests")
    try:
        await janus.start()
    except JanusUnavailable as exc:
        need(False, str(exc))
    try:
        app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1))
        app[MEDIA_URL] = janus.url
        client = await aiohttp_client(app)
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 200 and body["checks"]["media"] == {"ok": True}, body
    finally:
        await janus.stop()
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and body["failed"] == ["media"], body
    assert body["checks"]["media"]["error"].startswith("媒体服务器不可达")
