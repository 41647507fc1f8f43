"""Signing in from tests: through the real HTTP sign-in, or with a session made directly."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from evaluation.accounts.account import Account, Role, create_account, find_by_username
from evaluation.accounts.logins import open_session
from web.access.sessions import COOKIE, COOKIE_KEYS, CookieToken, csrf_token_for, seal_cookie
from web.keys import AUDIT_LOG, ENGINE

PASSWORD = "correct horse battery"


async def make_account(app: web.Application, role: Role, username: str | None = None, password: str = PASSWORD) -> Account:
    """An account of `role` (created once per username)."""
    name = username or f"{role.value}-test"
    existing = await find_by_username(app[ENGINE], name)
    if existing is not None:
        return existing
    return await create_account(
        app[AUDIT_LOG], username=name, password=password, display_name=f"测试 {role.value}", role=role, organization="测试单位"
    )


async def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through POST /login as a fetch client would; returns the new CSRF token."""
    me = await (await client.get("/api/me")).json()
    resp = await client.post(
        "/login", json={"username": username, "password": password}, headers={"X-CSRF-Token": me["csrf_token"]}
    )
    body = await resp.json()
    assert resp.status == 200, body
    token: str = body["csrf_token"]
    return token


async def sign_in_as(client: TestClient, role: Role) -> str:
    """Create (once) an account of `role` and sign in as it; returns the CSRF token."""
    account = await make_account(client.app, role)
    return await sign_in(client, account.username)


async def session_headers(app: web.Application, account: Account | None) -> dict[str, str]:
    """Cookie and CSRF headers of a fresh session of `account` (None: an anonymous visitor)."""
    keys = app[COOKIE_KEYS]
    value = CookieToken("a", "visitor") if account is None else CookieToken("s", await open_session(app[ENGINE], account.id))
    return {"Cookie": f"{COOKIE}={seal_cookie(keys, value)}", "X-CSRF-Token": csrf_token_for(keys, value)}
