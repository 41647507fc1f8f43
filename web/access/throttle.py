"""Login throttling (登录限制) at the HTTP edge: which keys a sign-in counts against, and the 429.

Keys: the username (5 free failures per 15 minutes) and the client address (20: an office behind
one NAT shares it). The address is the TCP peer; behind a reverse proxy that is the proxy, so all
clients share its budget — X-Forwarded-For is not trusted. Counts live in ``login_throttle``
(evaluation/accounts/logins.py), so restarting the server resets nothing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.accounts.account import normalize_username, now_us
from evaluation.accounts.logins import (
    IP_POLICY,
    USER_POLICY,
    ThrottlePolicy,
    clear_failures,
    locked_until,
    record_failure,
)


def throttle_keys(request: web.Request, username: str) -> dict[str, ThrottlePolicy]:
    return {f"user:{normalize_username(username)[:200]}": USER_POLICY, f"ip:{request.remote or 'unknown'}": IP_POLICY}


def retry_message(until_us: int, at_us: int) -> tuple[str, int]:
    """The one-line 429 message and the Retry-After seconds."""
    seconds = max(1, math.ceil((until_us - at_us) / 1_000_000))
    wait = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
    at = datetime.fromtimestamp(until_us / 1_000_000, tz=UTC).strftime("%H:%M:%S UTC")
    text = f"登录失败次数过多 Too many failed sign-ins for this account or address: try again in {wait} (at {at})"
    return text, seconds


async def refused(engine: AsyncEngine, keys: dict[str, ThrottlePolicy]) -> tuple[str, int] | None:
    """The 429 message and Retry-After if any key is locked now, else None."""
    stamp = now_us()
    until = await locked_until(engine, list(keys), stamp)
    return None if until is None else retry_message(until, stamp)


async def failed(engine: AsyncEngine, keys: dict[str, ThrottlePolicy]) -> tuple[str, int] | None:
    """Count a failure; the 429 message if this failure locked a key."""
    await record_failure(engine, keys)
    return await refused(engine, keys)


async def succeeded(engine: AsyncEngine, keys: dict[str, ThrottlePolicy]) -> None:
    """Forget the username's failures (the address keeps its count until its window ends)."""
    for key in keys:
        if key.startswith("user:"):
            await clear_failures(engine, key)
