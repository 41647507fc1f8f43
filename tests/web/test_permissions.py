"""Every route of the app, with every role and signed out, gets what web/access/permissions/ declares.

The walk reads the routes from the router (sub-applications included), so a route added by any
feature is walked too; one without a rule fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient
from yarl import URL

from evaluation.accounts.account import Account, Role
from tests.web.signin import make_account, session_headers
from web.access.permissions import (
    PUBLIC,
    RULES,
    SIGNED_IN,
    STATE_CHANGING,
    Decision,
    Rule,
    decide,
    route_keys,
)
from web.app import create_app
from web.config import Settings
from web.demo.pages import install_demo

DOC = Path(__file__).resolve().parents[2] / "docs" / "accounts.md"
_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def _fill(pattern: str) -> str:
    def one(match: re.Match[str]) -> str:
        regex = match.group(2)
        for candidate in ("1", "x", "T-1", "a1"):
            if regex is None or re.fullmatch(regex, candidate):
                return candidate
        raise AssertionError(f"no sample value for {match.group(0)} in {pattern}")

    return _PARAM.sub(one, pattern)


def walk(app: web.Application, prefix: str = "", key: str | None = None) -> Iterator[tuple[str | None, str, str]]:
    """(rule key, method, sample path) of every route of `app` and its sub-applications."""
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            info = resource.get_info()
            yield from walk(info["app"], prefix + str(info["prefix"]), f"{prefix}{info['prefix']}/*")
            continue
        if isinstance(resource, web.StaticResource):
            path = f"{prefix}{resource.canonical}/site.css"
        else:
            path = prefix + _fill(resource.canonical)
        for route in resource:
            methods = ["GET", "POST"] if route.method == "*" else [route.method]
            for method in methods:
                yield key or resource.name, method, path


def expected_allowed(rule: Rule, role: Role | None, method: str) -> bool:
    """The rule read independently of web.permissions.decide."""
    if rule.roles == PUBLIC:
        ok = True
    elif role is None:
        return False
    else:
        ok = rule.roles == SIGNED_IN or role in rule.roles  # type: ignore[operator]
    return ok and not (role is Role.supervisor and method in STATE_CHANGING and not (rule.self_service or rule.attests))


@pytest.fixture
async def app_client(aiohttp_client: Any, tmp_path: Path) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path / "data", beacon_period=1))
    install_demo(app, delays=(60.0, 61.0, 62.0))
    client: TestClient = await aiohttp_client(app, cookie_jar=DummyCookieJar())
    return client


async def test_every_route_with_every_role(app_client: TestClient) -> None:
    app = app_client.app
    accounts: dict[Role | None, Account | None] = {None: None}
    for each in Role:
        accounts[each] = await make_account(app, each)
    routes = sorted(set(walk(app)), key=lambda r: (r[2], r[1]))
    missing = sorted({f"{method} {path} (name {key!r})" for key, method, path in routes if key not in RULES})
    assert missing == [], f"routes without a permission rule (add them to web/access/permissions/): {missing}"
    failures = []
    for key, method, path in routes:
        if method == "HEAD":
            continue  # same resource, same rule as its GET
        rule = RULES[key]  # type: ignore[index]
        for role, account in accounts.items():
            headers = {**await session_headers(app, account), "Accept": "text/html,application/json"}
            resp = await app_client.request(method, path, headers=headers, allow_redirects=False, data=b"")
            await resp.read()
            to_login = resp.status in {302, 303} and resp.headers.get("Location", "").startswith("/login")
            denied = resp.status in {401, 403} or to_login
            want = expected_allowed(rule, role, method)
            if want == denied or (not want and role is None and rule.roles != PUBLIC and not (resp.status == 401 or to_login)):
                who = role.value if role else "signed-out"
                failures.append(f"{method} {path} [{key}] as {who}: got {resp.status}, rule allows={want}")
    assert failures == [], "\n".join(failures)


async def test_every_rule_names_a_route(app_client: TestClient) -> None:
    unused = sorted(set(RULES) - route_keys(app_client.app))
    assert unused == [], f"rules for routes that do not exist (renamed?): {unused}"


async def test_unnamed_route_is_denied_and_logged(aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))

    async def secret(request: web.Request) -> web.Response:
        return web.json_response({"leak": True})

    app.router.add_get("/undeclared", secret)
    client: TestClient = await aiohttp_client(app)
    resp = await client.get("/undeclared")
    assert resp.status == 403 and (await resp.json())["error"] == "此路径未声明权限"
    assert any("no permission rule" in r.getMessage() for r in caplog.records)


async def test_signed_out_html_redirects_and_api_gets_401(app_client: TestClient) -> None:
    resp = await app_client.get("/audit/tenders/T-1?kind=x", headers={"Accept": "text/html"}, allow_redirects=False)
    location = URL(resp.headers["Location"])
    assert resp.status == 302 and location.path == "/login" and location.query["next"] == "/audit/tenders/T-1?kind=x"
    resp = await app_client.get("/api/audit/entries")
    body = await resp.json()
    assert resp.status == 401 and body.pop("request_id") == resp.headers["X-Request-Id"]
    assert body == {"ok": False, "status": 401, "error": "请先登录"}


async def test_wrong_role_and_supervisor_writes_are_one_line_403(app_client: TestClient) -> None:
    bidder = await make_account(app_client.app, Role.bidder)
    resp = await app_client.get("/api/audit/entries", headers=await session_headers(app_client.app, bidder))
    body = await resp.json()
    assert resp.status == 403 and body["error"].startswith("无权访问：供应商不能进行此操作，允许：监管")
    supervisor = await make_account(app_client.app, Role.supervisor)
    assert decide(Rule(frozenset({Role.supervisor})), supervisor, "POST") is Decision.read_only
    assert decide(Rule(frozenset({Role.supervisor})), supervisor, "GET") is Decision.allow


def test_docs_list_every_rule() -> None:
    from web.access.permissions.__main__ import rules_markdown

    assert rules_markdown() in DOC.read_text(), "docs/accounts.md is stale: run python -m web.access.permissions --write"
