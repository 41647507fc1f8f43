"""Sign-in sessions (会话) and login throttling (登录限制), stored so both survive a restart.

A session row is keyed by the SHA-256 of its random token: the token itself lives only in the
browser's cookie, so a copy of the database gives no usable session. Deleting the row ends the
session at once (logout, password change). A session ends after ``SESSION_IDLE_US`` without a
request or ``SESSION_MAX_US`` after sign-in, whichever comes first.

Throttling counts failed sign-ins per key (``user:<name>``, ``ip:<address>``) in a window; after
the free failures each further failure locks the key for a doubling time (``lock_after``), capped.
The policy is the pure function ``after_failure``; the rows only remember its state.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.accounts.account import Account, Role, now_us
from evaluation.accounts.tables import account_table, session_table, throttle_table

SESSION_MAX_US = 12 * 3600 * 1_000_000
SESSION_IDLE_US = 2 * 3600 * 1_000_000
TOUCH_EVERY_US = 60 * 1_000_000



def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(engine: AsyncEngine, account_id: str, at_us: int | None = None) -> str:
    """Start a session for `account_id`; returns its secret token (put it only in the cookie)."""
    token = secrets.token_urlsafe(32)
    stamp = now_us() if at_us is None else at_us
    async with engine.begin() as conn:
        await conn.execute(
            session_table.insert().values(token_hash=token_hash(token), account_id=account_id, created_us=stamp, last_seen_us=stamp)
        )
    return token


async def session_account(engine: AsyncEngine, token: str, at_us: int | None = None) -> Account | None:
    """The account of a live session, or None (unknown, ended, expired: an expired row is deleted)."""
    stamp = now_us() if at_us is None else at_us
    key = token_hash(token)
    s, a = session_table.c, account_table.c
    query = sa.select(s.created_us, s.last_seen_us, a.id, a.username, a.display_name, a.role, a.organization).join(
        account_table, a.id == s.account_id
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query.where(s.token_hash == key))).first()
    if row is None:
        return None
    if stamp - row.created_us > SESSION_MAX_US or stamp - row.last_seen_us > SESSION_IDLE_US:
        await close_session(engine, token)
        return None
    if stamp - row.last_seen_us > TOUCH_EVERY_US:
        async with engine.begin() as conn:
            await conn.execute(session_table.update().where(s.token_hash == key).values(last_seen_us=stamp))
    return Account(row.id, row.username, row.display_name, Role(row.role), row.organization)


async def close_session(engine: AsyncEngine, token: str) -> None:
    """End one session (nothing happens if it is already gone)."""
    async with engine.begin() as conn:
        await conn.execute(session_table.delete().where(session_table.c.token_hash == token_hash(token)))


async def count_sessions(engine: AsyncEngine, account_id: str) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(session_table).where(session_table.c.account_id == account_id)
        return int((await conn.execute(query)).scalar_one())


# -- throttling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    """`free` failures per `window_us`; then each failure locks for base·2^k, at most `max_lock_us`."""

    free: int = 5
    window_us: int = 15 * 60 * 1_000_000
    base_lock_us: int = 30 * 1_000_000
    max_lock_us: int = 3600 * 1_000_000

    def lock_after(self, failures: int) -> int:
        """Lock time (µs) after the `failures`-th failure in a window (0 while still free)."""
        if failures < self.free:
            return 0
        return min(self.base_lock_us << min(failures - self.free, 20), self.max_lock_us)


USER_POLICY = ThrottlePolicy()
IP_POLICY = ThrottlePolicy(free=20)
"""One address may be a whole office behind NAT or a reverse proxy: it gets more free failures."""


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    window_start_us: int
    locked_until_us: int


def after_failure(state: ThrottleState | None, at_us: int, policy: ThrottlePolicy) -> ThrottleState:
    """The state after one more failed sign-in at `at_us` (pure)."""
    if state is None or (at_us - state.window_start_us > policy.window_us and at_us >= state.locked_until_us):
        state = ThrottleState(0, at_us, 0)
    failures = state.failures + 1
    lock = policy.lock_after(failures)
    return ThrottleState(failures, state.window_start_us, at_us + lock if lock else state.locked_until_us)


def _state(row: Any) -> ThrottleState | None:
    return None if row is None else ThrottleState(row.failures, row.window_start_us, row.locked_until_us)


async def locked_until(engine: AsyncEngine, keys: list[str], at_us: int | None = None) -> int | None:
    """The latest lock end (µs) among `keys` still locked at `at_us`, or None when none is."""
    stamp = now_us() if at_us is None else at_us
    t = throttle_table.c
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(t.locked_until_us).where(t.key.in_(keys), t.locked_until_us > stamp))
        ends = [r.locked_until_us for r in rows]
    return max(ends) if ends else None


async def record_failure(engine: AsyncEngine, keyed: dict[str, ThrottlePolicy], at_us: int | None = None) -> None:
    """Count one failed sign-in against every key (with its policy), in one transaction."""
    stamp = now_us() if at_us is None else at_us
    t = throttle_table.c
    for attempt in range(2):  # a concurrent first failure of the same key inserts first: count again
        try:
            async with engine.begin() as conn:
                for key, policy in keyed.items():
                    await _bump(conn, key, policy, stamp, t)
            return
        except sa.exc.IntegrityError:
            if attempt:
                raise


async def _bump(conn: AsyncConnection, key: str, policy: ThrottlePolicy, stamp: int, t: Any) -> None:
    row = (await conn.execute(sa.select(throttle_table).where(t.key == key).with_for_update())).first()
    new = after_failure(_state(row), stamp, policy)
    values = {"failures": new.failures, "window_start_us": new.window_start_us, "locked_until_us": new.locked_until_us}
    if row is None:
        await conn.execute(throttle_table.insert().values(key=key, **values))
    else:
        await conn.execute(throttle_table.update().where(t.key == key).values(**values))


async def clear_failures(engine: AsyncEngine, key: str) -> None:
    """Forget the failures of `key` (after a successful sign-in of that username)."""
    async with engine.begin() as conn:
        await conn.execute(throttle_table.delete().where(throttle_table.c.key == key))
