"""Session cookies (会话 Cookie): encrypted and authenticated, HttpOnly, SameSite=Lax.

The cookie carries a random token, AES-256-GCM encrypted under a key from the data directory
(``session.key``, mode 0600, created once), so a forged or altered cookie fails to decrypt and the
request is simply signed out. Two kinds of token:

- ``s`` — a signed-in session; its SHA-256 names a row in ``account_session``
  (evaluation/accounts/logins.py). Sessions live server-side so that logout and a password change end them
  at once, everywhere; a cookie alone would stay valid until it expired.
- ``a`` — an anonymous visitor, no row; it only anchors the CSRF token of the sign-in form.

The middleware sets ``request["account"]`` (an Account or None) and ``request["csrf_token"]``
for every request. The CSRF token is an HMAC of the cookie's token: per session, never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evaluation.accounts.account import Account
from evaluation.accounts.logins import SESSION_MAX_US, session_account
from web.errors import Handler
from web.keys import ENGINE, SETTINGS

log = logging.getLogger("pingbiao.auth")

COOKIE = "pingbiao_session"
_VERSION = "v1"


@dataclass(frozen=True)
class CookieKeys:
    """Keys derived from the installation's session secret."""

    encrypt: bytes
    csrf: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> CookieKeys:
        def derive(label: bytes) -> bytes:
            return hmac.new(secret, b"pingbiao session v1 " + label, hashlib.sha256).digest()

        return cls(derive(b"encrypt"), derive(b"csrf"))


COOKIE_KEYS = web.AppKey("cookie_keys", CookieKeys)


def load_or_create_secret(path: Path) -> bytes:
    """The 32-byte session secret at `path`, created once (mode 0600) if missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) != 32:
            raise ValueError(f"{path} is not a session key (expected 32 bytes, found {len(secret)})") from None
        return secret
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as out:
        out.write(secret)
    log.info("session key created", extra={"path": str(path)})
    return secret


@dataclass(frozen=True)
class CookieToken:
    kind: str  # "s" (session) or "a" (anonymous)
    token: str

    def to_bytes(self) -> bytes:
        return f"{self.kind}:{self.token}".encode()


def seal_cookie(keys: CookieKeys, value: CookieToken) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(keys.encrypt).encrypt(nonce, value.to_bytes(), COOKIE.encode())
    return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def open_cookie(keys: CookieKeys, text: str) -> CookieToken | None:
    """The token in a cookie value, or None when it is malformed, forged or altered."""
    version, _, body = text.partition(".")
    if version != _VERSION or not body or len(body) > 512:
        return None
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = AESGCM(keys.encrypt).decrypt(raw[:12], raw[12:], COOKIE.encode()).decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        return None
    kind, _, token = plain.partition(":")
    return CookieToken(kind, token) if kind in {"s", "a"} and token else None


def csrf_token_for(keys: CookieKeys, value: CookieToken) -> str:
    digest = hmac.new(keys.csrf, value.to_bytes(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def set_cookie(request: web.Request, response: web.StreamResponse, value: CookieToken) -> str:
    """Put `value` in the response's cookie; returns the CSRF token that goes with it."""
    keys = request.app[COOKIE_KEYS]
    max_age = SESSION_MAX_US // 1_000_000 if value.kind == "s" else None
    response.set_cookie(
        COOKIE, seal_cookie(keys, value), path="/", httponly=True, samesite="Lax", secure=request.secure, max_age=max_age
    )
    return csrf_token_for(keys, value)


def current_account(request: web.Request) -> Account | None:
    """The signed-in account of this request, or None."""
    account: Account | None = request.get("account")
    return account


def session_token(request: web.Request) -> str | None:
    """The session token of a signed-in request (to end that session), else None."""
    value: CookieToken | None = request.get("cookie_token")
    return value.token if value is not None and value.kind == "s" else None


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the cookie to an account; give every visitor a CSRF token (new visitors a cookie)."""
    keys = request.app[COOKIE_KEYS]
    raw = request.cookies.get(COOKIE)
    value = open_cookie(keys, raw) if raw else None
    if raw and value is None:
        log.info("unreadable session cookie ignored", extra={"path": request.path})
    account = None
    if value is not None and value.kind == "s":
        account = await session_account(request.app[ENGINE], value.token)
        if account is None:
            value = None  # ended or expired: start over as a visitor
    fresh = value is None
    if value is None:
        value = CookieToken("a", secrets.token_urlsafe(24))
    request["account"], request["cookie_token"] = account, value
    request["csrf_token"] = csrf_token_for(keys, value)
    response = await handler(request)
    # A new visitor gets the cookie with a page (one that may carry a form).
    if fresh and not response.prepared and COOKIE not in response.cookies and response.content_type == "text/html":
        set_cookie(request, response, value)
    return response


def install_sessions(app: web.Application) -> None:
    """Load (or create) the installation's session key; the data directory exists by now."""
    path = app[SETTINGS].data_dir / "session.key"
    app[COOKIE_KEYS] = CookieKeys.from_secret(load_or_create_secret(path))
