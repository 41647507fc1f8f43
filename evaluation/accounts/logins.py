"""Sign-in sessions (会话) and login throttling (登录限制), stored so both survive a restart.

A session row is keyed by the SHA-256 of its random token: the token itself lives only in the
browser's cookie, so a copy of the database gives no usable session. Deleting the row ends the
session at once (logout, password change). A session ends after ``SESSION_IDLE_US`` without a
request or ``SESSION_MAX_US`` after sign-in, whichever comes first.

Throttling counts failed sign-ins per key in a window — ``pair:<name>|<address>``, ``ip:<address>``,
``user:<name>`` (``SignInKeys``) — after the free failures each further failure locks the key for a
doubling time (``lock_after``), capped. An attempt is counted *before* its password is checked
(``reserve_attempt``, one locked transaction) and refunded after a success (``release_attempt``),
so parallel guesses cannot outrun the count. The policy is the pure ``after_failure``; the rows
only remember its state.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

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
"""One username from one address (``pair:``): the guesser's own budget for that account."""
IP_POLICY = ThrottlePolicy(free=20)
"""One address across usernames (``ip:``); an office behind NAT shares it, so it gets more."""
ACCOUNT_POLICY = ThrottlePolicy(free=20)
"""One username from every address (``user:``), against guesses spread over many addresses; it
holds only addresses that have themselves failed for the account (see ``SignInKeys``)."""


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


@dataclass(frozen=True)
class SignInKeys:
    """What one sign-in counts against (key names, e.g. ``pair:<user>|<addr>``).

    `pair` (this username from this address) and `address` hold the attempt while locked; the
    `account` lock (every address) holds it only when `pair` has failures in its window: an address
    that has not failed for this account is not locked out by others' guesses.
    """

    pair: str
    address: str
    account: str

    def policies(self) -> dict[str, ThrottlePolicy]:
        return {self.pair: USER_POLICY, self.address: IP_POLICY, self.account: ACCOUNT_POLICY}


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt reserved by `reserve_attempt`: already counted as a failure (so parallel
    guesses cannot outrun the count), until `release_attempt` refunds it after a success."""

    keys: SignInKeys
    at_us: int
    before: dict[str, ThrottleState | None]
    after: dict[str, ThrottleState]

    def locked_until(self) -> int | None:
        """The end of a lock this attempt's own count set on a key holding the next attempt, or None."""
        ends = [self.after[k].locked_until_us for k in (self.keys.pair, self.keys.address) if self.after[k].locked_until_us > self.at_us]
        return max(ends) if ends else None


def _held(keys: SignInKeys, states: dict[str, ThrottleState | None], at_us: int) -> int | None:
    """The latest lock end among the keys that hold this attempt at `at_us`, or None. Pure."""
    pair = states.get(keys.pair)
    pair_failed = pair is not None and pair.failures > 0 and at_us - pair.window_start_us <= USER_POLICY.window_us
    holding = [keys.pair, keys.address] + ([keys.account] if pair_failed else [])
    ends = [st.locked_until_us for k in holding if (st := states.get(k)) is not None and st.locked_until_us > at_us]
    return max(ends) if ends else None


def _locking(engine: AsyncEngine) -> Any:
    """A write transaction that takes the lock up front (SQLite: BEGIN IMMEDIATE, so concurrent
    sign-ins wait their turn instead of failing with 'database is locked')."""
    return engine.execution_options(sqlite_begin="IMMEDIATE").begin()


def _insert_missing(dialect: str, key: str, at_us: int) -> Any:
    values = {"key": key, "failures": 0, "window_start_us": at_us, "locked_until_us": 0}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(throttle_table).values(**values).on_conflict_do_nothing(index_elements=["key"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(throttle_table).values(**values).on_conflict_do_nothing(index_elements=["key"])


async def reserve_attempt(engine: AsyncEngine, keys: SignInKeys, at_us: int | None = None) -> tuple[Attempt | None, int | None]:
    """Atomically: refuse if a key holding this attempt is locked (``(None, lock end)``), else count
    the attempt as a failure on every key and return ``(attempt, None)``.

    One transaction with the rows locked (PostgreSQL: rows created if missing, then FOR UPDATE in
    key order; SQLite: BEGIN IMMEDIATE), so N parallel attempts are counted one after another.
    """
    stamp = now_us() if at_us is None else at_us
    policies = keys.policies()
    names = sorted(policies)
    t = throttle_table.c
    async with _locking(engine) as conn:
        for key in names:
            await conn.execute(_insert_missing(conn.dialect.name, key, stamp))
        query = sa.select(throttle_table).where(t.key.in_(names)).order_by(t.key)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        before = {r.key: _state(r) for r in await conn.execute(query)}
        if (until := _held(keys, before, stamp)) is not None:
            return None, until
        after = {k: after_failure(before.get(k), stamp, policies[k]) for k in names}
        for key, new in after.items():
            await conn.execute(throttle_table.update().where(t.key == key).values(
                failures=new.failures, window_start_us=new.window_start_us, locked_until_us=new.locked_until_us))
    return Attempt(keys, stamp, before, after), None


async def release_attempt(engine: AsyncEngine, attempt: Attempt) -> None:
    """The attempt signed in: forget this address's failures for the account, and take back the
    attempt's count from the address and account keys (with any lock only that count set)."""
    t = throttle_table.c
    async with _locking(engine) as conn:
        await conn.execute(throttle_table.delete().where(t.key == attempt.keys.pair))
        for key in (attempt.keys.address, attempt.keys.account):
            set_by_us = attempt.after[key].locked_until_us
            previous = attempt.before.get(key)
            await conn.execute(throttle_table.update().where(t.key == key, t.failures > 0).values(failures=t.failures - 1))
            if previous is not None and set_by_us != previous.locked_until_us:
                await conn.execute(throttle_table.update().where(t.key == key, t.locked_until_us == set_by_us)
                                   .values(locked_until_us=previous.locked_until_us))
