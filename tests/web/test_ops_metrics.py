"""/metrics and request ids over real HTTP: answers counted by route pattern (never the raw path)
and status, open WebSockets, the audit log's size; who may read the metrics; X-Request-Id on every
answer, kept when sane, and shown on error pages and in error JSON."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, CHAIN

TOKEN = "metrics-token-for-the-test-0123456789"


async def client_for(aiohttp_client: Any, tmp_path: Path, **settings: Any) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data", beacon_period=1, **settings)))
    return client


def samples(text: str, family: str) -> dict[str, float]:
    """`labels → value` of one family in the Prometheus text format."""
    found = {}
    for line in text.splitlines():
        if match := re.fullmatch(rf"{family}(\{{.*\}})? (\S+)", line):
            found[match.group(1) or ""] = float(match.group(2))
    return found


async def metrics(client: TestClient, **headers: str) -> str:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=")  # the Prometheus text format
    return await resp.text()


async def test_answers_counted_by_route_pattern_and_status(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path)
    chain = client.app[CHAIN].hash
    for _ in range(3):
        assert (await client.get(f"/beacon/{chain}/info")).status == 200
    assert (await client.get("/beacon/00ff/info")).status == 404
    assert (await client.get("/no/such/page/12345")).status == 404
    assert (await client.get("/api/tenders/T-secret-id")).status == 401
    text = await metrics(client)
    counts = samples(text, "pingbiao_http_requests_total")
    assert counts['{method="GET",route="/beacon/{chain}/info",status="200"}'] == 3
    assert counts['{method="GET",route="/beacon/{chain}/info",status="404"}'] == 1
    assert counts['{method="GET",route="unmatched",status="404"}'] == 1
    assert any('route="/api/tenders/{' in labels and 'status="401"' in labels for labels in counts)
    assert chain not in text and "T-secret-id" not in text and "12345" not in text  # patterns, not paths
    latency = samples(text, "pingbiao_http_request_duration_seconds_count")
    assert latency['{method="GET",route="/beacon/{chain}/info"}'] == 4
    assert samples(text, "pingbiao_audit_log_entries")[""] == client.app[AUDIT_LOG].size >= 1
    assert "process_resident_memory_bytes" in text


async def test_open_websockets_are_counted(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path)
    gauge = "pingbiao_websocket_connections"
    route = '{route="/signaling/rooms/{room}"}'
    sockets = [await client.ws_connect("/signaling/rooms/eval-ops-test") for _ in range(2)]
    assert samples(await metrics(client), gauge)[route] == 2
    for ws in sockets:
        await ws.close()

    async def closed() -> None:
        while samples(await metrics(client), gauge)[route] != 0:
            await asyncio.sleep(0.05)  # the server's handler ends after the close handshake

    await asyncio.wait_for(closed(), timeout=10)


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-For": "203.0.113.9"},  # through a local proxy: the loopback peer is the proxy
    {"Forwarded": "for=203.0.113.9"},
    {"Authorization": "Bearer wrong-token", "X-Forwarded-For": "203.0.113.9"},
    {"Authorization": TOKEN, "X-Forwarded-For": "203.0.113.9"},  # not as a bearer token
])
async def test_metrics_refused_through_a_proxy_without_the_token(aiohttp_client: Any, tmp_path: Path,
                                                                 headers: dict[str, str]) -> None:
    client = await client_for(aiohttp_client, tmp_path, metrics_token=TOKEN)
    resp = await client.get("/metrics", headers=headers)
    body = await resp.json()
    assert resp.status == 403 and body["error"].startswith("监控指标仅限本机或持令牌访问"), body
    assert "pingbiao_" not in await resp.text()


async def test_metrics_with_the_token_from_anywhere(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path, metrics_token=TOKEN)
    assert "pingbiao_http_requests" in await metrics(client, **{"X-Forwarded-For": "203.0.113.9",
                                                                "Authorization": f"Bearer {TOKEN}"})
    assert "pingbiao_http_requests" in await metrics(client)  # and from this machine without it


async def test_behind_a_trusted_proxy_a_remote_client_is_refused(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path, trusted_proxies="127.0.0.1")
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 403
    without_token = await client_for(aiohttp_client, tmp_path / "b", trusted_proxies="127.0.0.1")
    resp = await without_token.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert resp.status == 403  # forwarded at all: not a direct request from this machine


async def test_every_answer_carries_a_request_id(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path)
    ids = set()
    for path in ("/healthz", "/", "/static/site.css", "/no/such/page", "/lang?to=en", "/account"):
        resp = await client.get(path, allow_redirects=False, headers={"Accept": "text/html"})
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-Id"]), (path, resp.headers)
        ids.add(resp.headers["X-Request-Id"])
    assert len(ids) == 6
    ws = await client.ws_connect("/signaling/rooms/eval-ops-test", headers={"X-Request-Id": "nginx-0123456789abcdef"})
    assert ws._response.headers["X-Request-Id"] == "nginx-0123456789abcdef"
    await ws.close()


@pytest.mark.parametrize("incoming, kept", [
    ("0123456789abcdef0123456789abcdef", True),
    ("req-2026.12.03:node-1", True),
    ("short", False),
    ("x" * 65, False),
    ("<script>alert(1)</script>", False),
    ("has spaces in it", False),
    ("\u8bf7\u6c42\u7f16\u53f7-12345678", False),
    ("", False),
])
async def test_incoming_request_id_kept_only_when_sane(aiohttp_client: Any, tmp_path: Path, incoming: str, kept: bool) -> None:
    client = await client_for(aiohttp_client, tmp_path)
    resp = await client.get("/no/such/page", headers={"X-Request-Id": incoming.encode().decode("latin-1")})
    rid = resp.headers["X-Request-Id"]
    assert (rid == incoming) is kept and (kept or re.fullmatch(r"[0-9a-f]{32}", rid))
    assert (await resp.json())["request_id"] == rid


async def test_error_page_shows_the_request_id(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path)
    resp = await client.get("/no/such/page", headers={"Accept": "text/html", "X-Request-Id": "quote-me-0001"})
    html = await resp.text()
    assert resp.status == 404 and '<code id="request-id">quote-me-0001</code>' in html and "请求编号" in html
    client.session.cookie_jar.update_cookies({"lang": "en"})
    english = await (await client.get("/no/such/page", headers={"Accept": "text/html"})).text()
    assert "Request id" in english
