"""The production stack: `pingbiao stack up` on this machine (Debian's nginx, coturn, Janus, a Redis
of its own, the real PostgreSQL) on free ports; sign-in through nginx over HTTPS, the hall's
WebSocket through nginx, /readyz through nginx, requests reaching both app processes; `stack down`
stops every process. And docker-compose.yml describes the same stack (web/ops/stack.py)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar, TCPConnector

from tests.conftest import need, need_executable
from tests.pg import scratch_databases
from web.cli.stack import _alive
from web.ops import stack

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PINGBIAO_DATA_DIR": "", **(env or {})}, cwd=ROOT)


def test_compose_describes_the_same_stack() -> None:
    yaml = pytest.importorskip("yaml")  # PyYAML, with the test extras (schemathesis needs it)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == set(stack.SERVICES)
    assert (ROOT / "deploy" / "nginx.conf").read_text() == stack.nginx_conf(stack.COMPOSE_NGINX)
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert {u.split(":")[0] for u in stack.COMPOSE_NGINX.upstreams} == set(stack.APP_SERVICES)
    native = set(stack.app_environment(database_url="", bus_url="", turn_host="", turn_port=0, turn_secret="",
                                       janus_url="", public_url=""))
    native |= {"PINGBIAO_BEACON_URL", "PINGBIAO_BEACON_CHAIN"}  # the other beacon choice
    for name in stack.APP_SERVICES:
        assert set(services[name]["environment"]) == native, name
    turn = stack.turnserver_args(stack.Turn(port=3478, secret="${TURN_SECRET:-change-me-turn-secret}"))
    assert services["coturn"]["command"] == turn


@pytest.fixture
async def database() -> Any:
    async with scratch_databases("t_stack") as scratch:
        yield scratch.url(await scratch.make())


@pytest.mark.postgres
@pytest.mark.timeout(400)
async def test_stack_up_serves_through_nginx_and_stops(tmp_path: Path, database: str) -> None:
    for exe in ("nginx", "janus", "redis-server"):
        need_executable(exe)
    need(Path("/usr/bin/turnserver").exists() or bool(need_executable("turnserver")), "coturn is not installed")
    root = tmp_path / "stack"
    done = _cli("stack", "up", str(root), "--database-url", database, "--https-port", "0")
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        state = json.loads((root / "stack.json").read_text())
        assert set(state["services"]) == set(stack.SERVICES) - {"db"}  # PostgreSQL is the operator's
        base = state["url"]
        assert base.startswith("https://localhost:")
        await _through_nginx(root, state, database)
    finally:
        if (root / "stack.json").exists():
            pids = [s["pid"] for s in json.loads((root / "stack.json").read_text())["services"].values()]
            stopped = _cli("stack", "down", str(root))
            assert stopped.returncode == 0, stopped.stderr
            assert "stack down: stopped" in stopped.stdout
            assert not any(_alive(pid) for pid in pids)
    assert not (root / "stack.json").exists()
    again = _cli("stack", "status", str(root))
    assert again.returncode == 1 and "no stack" in again.stderr and again.stderr.count("\n") == 1


async def _through_nginx(root: Path, state: dict[str, Any], database: str) -> None:
    base = state["url"]
    password = root / "pw"
    password.write_text("correct horse battery\n")
    made = _cli("accounts", "create", "--data-dir", state["data_dir"], "--username", "agency-stack", "--role", "agency",
                "--name", "栈测试代理机构", "--password-file", str(password),
                env={"PINGBIAO_DATABASE_URL": database, "PINGBIAO_ALLOW_LOCAL_BEACON": "true"})
    assert made.returncode == 0, made.stderr
    context = ssl.create_default_context(cafile=state["certificate"])  # verified TLS, not switched off
    async with ClientSession(connector=TCPConnector(ssl=context), cookie_jar=CookieJar()) as http:
        ready = await http.get(f"{base}/readyz")
        body = await ready.json()
        assert ready.status == 200 and body["checks"]["bus"] == {"ok": True}, body
        assert ready.headers["Server"] == "nginx" and ready.headers["X-Request-Id"]
        assert (await http.get(f"{base}/metrics")).status == 404  # not through the proxy
        janus = await (await http.get(f"{state['janus_url']}/info")).json(content_type=None)
        assert janus["janus"] == "server_info"  # the media server the apps are given
        turn_port = int(state["turn"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", turn_port), timeout=5):
            pass  # coturn listens

        me = await (await http.get(f"{base}/api/me")).json()
        signed = await http.post(f"{base}/login", json={"username": "agency-stack", "password": "correct horse battery"},
                                 headers={"X-CSRF-Token": me["csrf_token"]})
        assert signed.status == 200, await signed.text()
        cookie = signed.headers.get("Set-Cookie", "")
        assert "Secure" in cookie and "HttpOnly" in cookie  # HTTPS seen through the trusted proxy
        csrf = (await signed.json())["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        created = await http.post(f"{base}/api/tenders", headers=headers, json={
            "title": "生产栈测试项目", "budget_fen": 1_000_000, "opening_time": int(time.time()) + 3600, "min_bids": 3})
        assert created.status == 201, await created.text()
        tender = (await created.json())["id"]
        assert (await http.post(f"{base}/api/tenders/{tender}/publish", headers=headers)).status == 200

        async with http.ws_connect(f"{base.replace('https', 'wss')}/api/tenders/{tender}/hall/ws",
                                   origin=base) as ws:  # the WebSocket crosses nginx
            snapshot = await ws.receive_json(timeout=20)
        assert tender in json.dumps(snapshot, ensure_ascii=False)
        for _ in range(6):
            assert (await http.get(f"{base}/api/tenders/{tender}")).status == 200

    served = {}
    for name in stack.APP_SERVICES:  # both processes answered requests that came through nginx
        lines = [json.loads(x) for x in (root / "logs" / f"{name}.log").read_text().splitlines() if x.startswith("{")]
        served[name] = [x for x in lines if x.get("logger") == "pingbiao.access" and x.get("path", "").startswith("/api/")]
    assert all(served.values()), {k: len(v) for k, v in served.items()}
    nginx_log = [json.loads(x) for x in (root / "nginx" / "access.log").read_text().splitlines()]
    ids = {x["request_id"] for x in nginx_log}
    assert any(x["request_id"] in ids for lines in served.values() for x in lines)  # one id in both logs
