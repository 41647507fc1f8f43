"""Accounts on the web: sign-in, sign-out, one's own account, account administration.

``install(app)`` (picked up by web.app's feature hook) adds, in this order after the error
middleware: sessions (``request["account"]``, ``request["csrf_token"]``), permissions
(web/access/permissions/), CSRF (web/access/csrf.py). Every form here answers a browser with a page or a
redirect and a JSON client (``Content-Type: application/json``) with JSON.
"""

from __future__ import annotations

import logging

from aiohttp import web

from evaluation.accounts.account import (
    AuthenticationFailed,
    Role,
    authenticate,
    change_password,
    change_role,
    create_account,
    list_accounts,
    now_us,
)
from evaluation.accounts.logins import close_session, open_session, release_attempt, reserve_attempt
from evaluation.errors import DomainError, Text
from web.access import throttle
from web.access.csrf import csrf_middleware
from web.access.permissions import install_permissions, permission_middleware
from web.access.sessions import (
    COOKIE_KEYS,
    CookieToken,
    csrf_token_for,
    current_account,
    install_sessions,
    session_middleware,
    session_token,
    set_cookie,
)
from web.api.body import form_or_json
from web.errors import BadRequest, error_response
from web.i18n import language_of, localize
from web.keys import AUDIT_LOG, ENGINE
from web.rendering import render
from web.replies import json_response

log = logging.getLogger("pingbiao.auth")
routes = web.RouteTableDef()


def install(app: web.Application) -> None:
    install_sessions(app)
    app.middlewares.extend([session_middleware, permission_middleware, csrf_middleware])
    app.add_routes(routes)
    install_permissions(app)


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def _fields(request: web.Request, *names: str) -> dict[str, str]:
    data = await form_or_json(request)
    return {n: str(data.get(n) or "") for n in names}


def safe_next(target: str) -> str:
    """`target` if it is a path on this site, else "/" (no open redirects)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def see_other(location: str) -> web.Response:
    """303: after a form POST, the browser GETs `location`."""
    return web.Response(status=303, headers={"Location": location})


# -- sign in / out --------------------------------------------------------------------------


@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=safe_next(request.query.get("next", "/")), error=None, username="")


@routes.post("/login", name="login.submit")
async def login(request: web.Request) -> web.StreamResponse:
    form = await _fields(request, "username", "password", "next")
    if not form["username"] or not form["password"]:
        return _login_failed(request, form, 400, Text("请填写用户名和密码"))
    engine = request.app[ENGINE]
    address = request.remote or ""
    attempt, until = await reserve_attempt(engine, throttle.sign_in_keys(address, form["username"]))
    if attempt is None:
        assert until is not None
        return _login_failed(request, form, 429, *throttle.retry_message(until, now_us()))
    try:
        account = await authenticate(engine, form["username"], form["password"])
    except AuthenticationFailed as exc:
        log.info("sign-in failed", extra={"username": form["username"][:64], "remote": address})
        if (until := attempt.locked_until()) is not None:
            return _login_failed(request, form, 429, *throttle.retry_message(until, attempt.at_us))
        return _login_failed(request, form, 401, exc.text)
    await release_attempt(engine, attempt)
    if (old := session_token(request)) is not None:
        await close_session(engine, old)
    token = await open_session(engine, account.id)
    log.info("signed in", extra={"account": account.id, "role": account.role.value, "remote": address})
    value = CookieToken("s", token)
    if _is_json(request):
        csrf = csrf_token_for(request.app[COOKIE_KEYS], value)
        response = json_response({"ok": True, "account": account.to_json(), "csrf_token": csrf})
    else:
        response = see_other(safe_next(form["next"] or "/"))
    set_cookie(request, response, value)
    return response


def _login_failed(request: web.Request, form: dict[str, str], status: int, message: str | Text, retry: int = 0) -> web.Response:
    response = (
        error_response(status, message, request)
        if _is_json(request)
        else render(request, "login.html", next=safe_next(form["next"] or "/"),
                    error=localize(message, language_of(request)), username=form["username"])
    )
    response.set_status(status)
    if retry:
        response.headers["Retry-After"] = str(retry)
    return response


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    if (token := session_token(request)) is not None:
        await close_session(request.app[ENGINE], token)
        log.info("signed out", extra={"account": getattr(current_account(request), "id", None)})
    response = json_response({"ok": True}) if _is_json(request) else see_other("/")
    response.del_cookie("pingbiao_session", path="/")
    return response


@routes.get("/api/me", name="api.me")
async def me(request: web.Request) -> web.Response:
    account = current_account(request)
    response = json_response({"account": account.to_json() if account else None, "csrf_token": request["csrf_token"]})
    if request["cookie_token"].kind == "a" and "pingbiao_session" not in request.cookies:
        set_cookie(request, response, request["cookie_token"])  # a fetch client's first call
    return response


# -- one's own account ----------------------------------------------------------------------


@routes.get("/account", name="account")
async def account_page(request: web.Request) -> web.Response:
    return render(request, "account.html", account=current_account(request), error=None, changed="changed" in request.query)


@routes.post("/account/password", name="account.password")
async def password(request: web.Request) -> web.StreamResponse:
    account = current_account(request)
    assert account is not None  # the rule requires a signed-in account
    form = await _fields(request, "current", "new", "confirm")
    try:
        if form["new"] != form["confirm"]:
            raise BadRequest("两次输入的新密码不一致")
        engine = request.app[ENGINE]
        await change_password(request.app[AUDIT_LOG], engine, account, form["current"], form["new"])
    except (DomainError, BadRequest) as exc:
        if _is_json(request):
            raise
        response = render(request, "account.html", account=account, error=localize(exc.text, language_of(request)),
                          changed=False)
        response.set_status(exc.status)
        return response
    log.info("password changed; every session ended", extra={"account": account.id})
    token = await open_session(engine, account.id)  # this browser stays signed in, with a new session
    response = json_response({"ok": True}) if _is_json(request) else see_other("/account?changed=1")
    set_cookie(request, response, CookieToken("s", token))
    return response


# -- administration -------------------------------------------------------------------------


@routes.get("/admin/accounts", name="admin.accounts")
async def admin_accounts(request: web.Request) -> web.Response:
    return await _admin_page(request, None, 200)


async def _admin_page(request: web.Request, error: str | None, status: int) -> web.Response:
    accounts = await list_accounts(request.app[ENGINE])
    if _is_json(request) or "application/json" in request.headers.get("Accept", ""):
        return json_response({"accounts": [a.to_json() for a in accounts]}, status=status)
    response = render(request, "admin_accounts.html", accounts=accounts, roles=list(Role), error=error)
    response.set_status(status)
    return response


@routes.post("/admin/accounts", name="admin.accounts.create")
async def admin_create(request: web.Request) -> web.StreamResponse:
    admin = current_account(request)
    assert admin is not None
    form = await _fields(request, "username", "password", "display_name", "role", "organization")
    try:
        created = await create_account(
            request.app[AUDIT_LOG],
            username=form["username"],
            password=form["password"],
            display_name=form["display_name"],
            role=form["role"],
            organization=form["organization"],
            by=admin.actor,
        )
    except DomainError as exc:
        if _is_json(request):
            raise
        return await _admin_page(request, localize(exc.text, language_of(request)), exc.status)
    log.info("account created", extra={"account": created.id, "role": created.role.value, "by": admin.id})
    if _is_json(request):
        return json_response({"ok": True, "account": created.to_json()}, status=201)
    return see_other("/admin/accounts")


@routes.post("/admin/accounts/{account_id}/role", name="admin.accounts.role")
async def admin_role(request: web.Request) -> web.StreamResponse:
    admin = current_account(request)
    assert admin is not None
    form = await _fields(request, "role")
    changed = await change_role(
        request.app[AUDIT_LOG], request.app[ENGINE], request.match_info["account_id"], form["role"], by=admin.actor
    )
    log.info("account role changed", extra={"account": changed.id, "role": changed.role.value, "by": admin.id})
    if _is_json(request):
        return json_response({"ok": True, "account": changed.to_json()})
    return see_other("/admin/accounts")
