"""The OpenAPI description of the JSON API, and a schemathesis fuzz from it against the running app
over real HTTP with a signed-in session: no 5xx, no traceback, every error the one JSON shape
with one line of message (tests/web/openapi_checks.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar

from evaluation.accounts.account import Role
from tests.web.signin import make_account
from web.app import create_app
from web.config import Settings
from web.keys import CHAIN

HERE = Path(__file__).parent
ST = Path(sys.executable).with_name("st")


async def test_document_lists_every_api_route(aiohttp_client: Any, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1))
    client = await aiohttp_client(app)
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    names = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
    served = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("formatter") or info.get("path") or ""
        for route in resource:
            if path.startswith("/api/") and route.method not in ("HEAD", "*") and route.name != "hall.ws":
                served.add((route.method, path))
    assert described == served
    assert {"tenders.create", "bids.upload", "audit.entries", "api.me"} <= names
    create = doc["paths"]["/api/tenders"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["required"] == ["title", "budget_fen", "opening_time"]
    upload = doc["paths"]["/api/tenders/{id}/bid"]["put"]["requestBody"]["content"]
    assert list(upload) == ["application/octet-stream"]
    assert "/api/tenders/{id}/hall/ws" not in doc["paths"]  # a WebSocket, not an HTTP operation


async def _signed_in(base: str, username: str, password: str) -> tuple[ClientSession, str, str]:
    """Sign in through POST /login as a script would; the cookie header and CSRF token."""
    http = ClientSession(cookie_jar=CookieJar(unsafe=True))  # the server is an IP address
    me = await (await http.get(f"{base}/api/me")).json()
    resp = await http.post(f"{base}/login", json={"username": username, "password": password},
                           headers={"X-CSRF-Token": me["csrf_token"]})
    body = await resp.json()
    assert resp.status == 200, body
    cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    return http, cookie, body["csrf_token"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", [Role.agency, Role.bidder, Role.expert, Role.supervisor, Role.admin])
async def test_schemathesis_finds_no_server_error(aiohttp_server: Any, tmp_path: Path, role: Role) -> None:
    if not ST.exists():
        pytest.skip("schemathesis is not installed (the test extras)")
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1, log_origin="fuzz.example/audit"))
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    account = await make_account(app, role, username=f"fuzz-{role.value}")
    http, cookie, csrf = await _signed_in(base, account.username, "correct horse battery")
    tender = "T-none"
    if role is Role.agency:  # a real tender, so routes on {id} get past the lookup to their bodies
        resp = await http.post(f"{base}/api/tenders", headers={"X-CSRF-Token": csrf},
                               json={"title": "模糊测试项目", "budget_fen": 100_000_000, "opening_time": int(time.time()) + 3600, "min_bids": 3})
        assert resp.status == 201, await resp.text()
        tender = (await resp.json())["id"]
        assert (await http.post(f"{base}/api/tenders/{tender}/publish", headers={"X-CSRF-Token": csrf})).status == 200
    await http.close()
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.id" = "{tender}"\n')
    proc = await asyncio.create_subprocess_exec(
        str(ST), "--config-file", str(config), "run", f"{base}/api/openapi.json",
        "--header", f"Cookie: {cookie}", "--header", f"X-CSRF-Token: {csrf}",
        "--checks", "not_a_server_error,response_schema_conformance,no_traceback,one_line_json_errors",
        "--phases", "examples,coverage,fuzzing", "--max-examples", os.environ.get("PINGBIAO_FUZZ_EXAMPLES", "25"),
        "--workers", "1", "--seed", os.environ.get("PINGBIAO_FUZZ_SEED", "15"), "--no-color", "--suppress-health-check", "all",
        "--exclude-operation-id", "audit.bundle",  # a tar of the whole log: nothing to fuzz, slow to repeat
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.web.openapi_checks",
             "PYTHONPATH": str(HERE.parent.parent), "NO_COLOR": "1"},
    )
    out, _ = await proc.communicate()  # the server keeps serving on this loop meanwhile
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-12000:]
    assert "passed" in text.lower()


async def test_fuzz_findings_stay_fixed(aiohttp_client: Any, tmp_path: Path) -> None:
    """What the fuzz found, pinned: a superscript digit passes str.isdigit() but not int() (was 500);
    a path or key echoed into an error with a line break in it (was a two-line error)."""
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1))
    client = await aiohttp_client(app)
    account = await make_account(app, Role.supervisor, username="fuzz-pinned")
    me = await (await client.get("/api/me")).json()
    signed = await client.post("/login", json={"username": account.username, "password": "correct horse battery"},
                               headers={"X-CSRF-Token": me["csrf_token"]})
    assert signed.status == 200
    for path in ("/api/audit/receipt/%C2%B2", "/api/audit/entries?start=%C2%B2", "/api/booth/a%0Ab/token"):
        resp = await client.get(path)
        body = await resp.json()
        assert resp.status in (400, 404), (path, resp.status, body)
        assert "\n" not in body["error"] and body["request_id"]
    beacon = await client.get(f"/beacon/{app[CHAIN].hash}/public/%C2%B2")  # the embedded beacon's drand API
    assert beacon.status == 400, await beacon.text()
