"""Sign-in, sign-out, CSRF, cookies, throttling and password change over real HTTP."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation.accounts.account import Role, list_accounts
from tests.web.signin import PASSWORD, make_account, session_headers, sign_in, sign_in_as
from web.access.sessions import COOKIE
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, ENGINE


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    c: TestClient = await aiohttp_client(create_app(settings))
    return c


async def form_token(client: TestClient, path: str = "/login") -> str:
    html = await (await client.get(path)).text()
    marker = 'name="csrf_token" value="'
    return html.split(marker, 1)[1].split('"', 1)[0]


async def test_sign_in_with_the_form_then_out(client: TestClient) -> None:
    await make_account(client.app, Role.expert, "li.expert")
    page = await client.get("/login")
    html = await page.text()
    assert "登录" in html and '<meta name="csrf-token"' in html
    assert page.cookies[COOKIE]["httponly"] and page.cookies[COOKIE]["samesite"] == "Lax"
    token = await form_token(client)
    resp = await client.post(
        "/login", data={"username": "LI.expert", "password": PASSWORD, "csrf_token": token, "next": "/account"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/account"
    me = await (await client.get("/api/me")).json()
    assert me["account"]["username"] == "li.expert" and me["account"]["role"] == "expert"
    html = await (await client.get("/account")).text()
    assert "评审专家" in html
    resp = await client.post("/logout", data={"csrf_token": await form_token(client, "/account")}, allow_redirects=False)
    assert resp.status == 303
    assert (await (await client.get("/api/me")).json())["account"] is None


async def test_open_redirect_is_refused(client: TestClient) -> None:
    await make_account(client.app, Role.agency, "agency.x")
    token = await form_token(client)
    resp = await client.post(
        "/login", data={"username": "agency.x", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/"


async def test_wrong_password_and_unknown_user_get_one_message(client: TestClient) -> None:
    await make_account(client.app, Role.bidder, "bidder.x")
    token = (await (await client.get("/api/me")).json())["csrf_token"]
    bodies = []
    for username, password in (("bidder.x", "wrong password!"), ("no.such.user", PASSWORD)):
        resp = await client.post("/login", json={"username": username, "password": password}, headers={"X-CSRF-Token": token})
        assert resp.status == 401
        bodies.append({k: v for k, v in (await resp.json()).items() if k != "request_id"})  # one id per request
    assert bodies[0] == bodies[1] == {"ok": False, "status": 401, "error": "用户名或密码错误"}


async def test_throttled_after_five_failures_even_after_a_restart(aiohttp_client: Any, settings: Settings) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    await make_account(client.app, Role.bidder, "target")
    token = (await (await client.get("/api/me")).json())["csrf_token"]
    statuses = []
    for _ in range(5):
        resp = await client.post("/login", json={"username": "target", "password": "guess-guess"}, headers={"X-CSRF-Token": token})
        statuses.append(resp.status)
    assert statuses == [401, 401, 401, 401, 429]
    await client.close()

    again: TestClient = await aiohttp_client(create_app(settings))  # same data directory, new process state
    token = (await (await again.get("/api/me")).json())["csrf_token"]
    resp = await again.post("/login", json={"username": "TARGET", "password": PASSWORD}, headers={"X-CSRF-Token": token})
    assert resp.status == 429  # even the right password waits
    body = await resp.json()
    assert body["error"].startswith("登录失败次数过多，请 ") and "秒后再试" in body["error"]
    assert "\n" not in body["error"] and 1 <= int(resp.headers["Retry-After"]) <= 30
    page = await again.post("/login", data={"username": "target", "password": PASSWORD, "csrf_token": await form_token(again)})
    assert page.status == 429 and "秒后再试" in await page.text()


async def test_csrf_missing_or_wrong_is_403_and_changes_nothing(client: TestClient) -> None:
    await sign_in_as(client, Role.admin)
    engine, log = client.app[ENGINE], client.app[AUDIT_LOG]
    before, size = await list_accounts(engine), log.size
    new = {"username": "new.one", "password": PASSWORD, "display_name": "新", "role": "bidder"}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        resp = await client.post("/admin/accounts", json=new, headers=headers)
        assert resp.status == 403
        assert (await resp.json())["error"] == "安全校验失败，请刷新页面后重试"
    resp = await client.post("/admin/accounts", data={**new, "csrf_token": "forged"})
    assert resp.status == 403
    assert await list_accounts(engine) == before and log.size == size


async def test_forged_or_tampered_cookie_is_signed_out(client: TestClient) -> None:
    await sign_in_as(client, Role.supervisor)
    good = next(c for c in client.session.cookie_jar if c.key == COOKIE).value
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for value in (tampered, "v1.forged", "garbage"):
        resp = await client.get("/api/me", cookies={COOKIE: value})
        assert (await resp.json())["account"] is None


async def test_session_key_file_is_private_and_kept(settings: Settings, client: TestClient) -> None:
    key = settings.data_dir / "session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    before = key.read_bytes()
    create_app(settings)
    assert key.read_bytes() == before


async def test_database_and_its_wal_are_private(settings: Settings, client: TestClient) -> None:
    """They hold password hashes: 0600, in a 0700 data directory, whatever the umask would give."""
    await make_account(client.app, Role.bidder, "someone")  # a write: the WAL exists now
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in settings.data_dir.glob("pingbiao.db*")}
    assert {"pingbiao.db", "pingbiao.db-wal"} <= set(files) and set(files.values()) == {0o600}, files
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700


async def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    from evaluation.db import make_engine

    path = tmp_path / "old.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_logout_ends_the_session_server_side(client: TestClient) -> None:
    await sign_in_as(client, Role.supervisor)
    cookie = next(c for c in client.session.cookie_jar if c.key == COOKIE).value
    me = await (await client.get("/api/me")).json()
    await client.post("/logout", json={}, headers={"X-CSRF-Token": me["csrf_token"]})
    resp = await client.get("/api/me", cookies={COOKIE: cookie})  # a copy of the old cookie
    assert (await resp.json())["account"] is None


async def test_password_change_ends_every_other_session(client: TestClient) -> None:
    account = await make_account(client.app, Role.agency, "agency.pw")
    elsewhere = await session_headers(client.app, account)  # the same person on another device
    token = await sign_in(client, "agency.pw")
    assert (await (await client.get("/api/me", headers={"Cookie": elsewhere["Cookie"]})).json())["account"] is not None
    old_cookie = next(c for c in client.session.cookie_jar if c.key == COOKIE).value
    resp = await client.post(
        "/account/password", json={"current": "wrong one!!", "new": "brand-new-secret", "confirm": "brand-new-secret"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 400 and "当前密码错误" in (await resp.json())["error"]
    resp = await client.post(
        "/account/password", json={"current": PASSWORD, "new": "brand-new-secret", "confirm": "brand-new-secret"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 200
    assert (await (await client.get("/api/me")).json())["account"]["username"] == "agency.pw"  # this browser: new session
    for cookie in (elsewhere["Cookie"].split("=", 1)[1], old_cookie):
        assert (await (await client.get("/api/me", cookies={COOKIE: cookie})).json())["account"] is None


async def test_admin_creates_accounts_and_changes_roles(client: TestClient) -> None:
    token = await sign_in_as(client, Role.admin)
    new = {"username": "wang.bidder", "password": PASSWORD, "display_name": "王五", "role": "bidder", "organization": "杭州智联"}
    resp = await client.post("/admin/accounts", json=new, headers={"X-CSRF-Token": token})
    assert resp.status == 201
    created = (await resp.json())["account"]
    assert (await client.post("/admin/accounts", json=new, headers={"X-CSRF-Token": token})).status == 409
    resp = await client.post(f"/admin/accounts/{created['id']}/role", json={"role": "expert"}, headers={"X-CSRF-Token": token})
    assert (await resp.json())["account"]["role"] == "expert"
    html = await (await client.get("/admin/accounts")).text()
    assert "wang.bidder" in html and "新建账户" in html
    kinds = [e.kind for e in await client.app[AUDIT_LOG].entries(0, client.app[AUDIT_LOG].size)]
    assert kinds[-3:] == ["account.created", "account.created", "account.role_changed"]


async def test_websocket_upgrade_from_another_site_is_refused(client: TestClient) -> None:
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Origin": "https://evil.example"}
    resp = await client.get("/healthz", headers=headers)
    assert resp.status == 403 and (await resp.json())["error"] == "跨站连接被拒绝"
    same = {**headers, "Origin": f"http://{client.host}:{client.port}"}
    assert (await client.get("/healthz", headers=same)).status == 200


async def test_cli_creates_and_lists(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from web.cli.accounts import add_accounts_commands, run_accounts_command

    parser = argparse.ArgumentParser()
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir")

    add_accounts_commands(parser.add_subparsers(dest="command"), common)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    args = parser.parse_args(["accounts", "create", "--username", "Admin", "--role", "admin", "--name", "管理员", "--password-file", str(secret)])
    assert await asyncio.to_thread(run_accounts_command, args, settings) == 0
    assert await asyncio.to_thread(run_accounts_command, parser.parse_args(["accounts", "list"]), settings) == 0
    out = capsys.readouterr().out
    assert "created admin account admin" in out and "admin\tadmin\t管理员" in out
