"""Accounts, sessions and throttling on SQLite and PostgreSQL: the rows and their audit entries."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.accounts.account import (
    Account,
    AuthenticationFailed,
    Role,
    authenticate,
    change_password,
    change_role,
    create_account,
    find_by_username,
    get_account,
    list_accounts,
)
from evaluation.accounts.logins import (
    ACCOUNT_POLICY,
    SESSION_IDLE_US,
    USER_POLICY,
    SignInKeys,
    ThrottlePolicy,
    after_failure,
    close_session,
    count_sessions,
    open_session,
    release_attempt,
    reserve_attempt,
    session_account,
)
from evaluation.audit.entry import Actor
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError

PW = "s3cret-enough"
ADMIN = Actor("acct_admin", "admin")


async def make(audit: AuditLog, username: str = "Zhang.San", role: Role = Role.bidder) -> Account:
    return await create_account(
        audit, username=username, password=PW, display_name="张三", role=role, organization="华东建设", by=ADMIN
    )


async def test_create_find_list_and_the_audit_entry(engine: AsyncEngine, audit_log: AuditLog) -> None:
    account = await make(audit_log)
    assert account.username == "zhang.san" and account.role is Role.bidder
    assert await get_account(engine, account.id) == account
    assert await find_by_username(engine, "ZHANG.SAN") == account
    assert await find_by_username(engine, "nobody") is None
    other = await make(audit_log, "li.si", Role.expert)
    assert await list_accounts(engine) == [other, account]
    assert await list_accounts(engine, Role.expert) == [other]
    entry = (await audit_log.entries(0, audit_log.size))[0]
    assert entry.kind == "account.created" and entry.actor == ADMIN and entry.tender_id is None
    assert entry.payload == {
        "account_id": account.id, "username": "zhang.san", "display_name": "张三", "role": "bidder", "organization": "华东建设"
    }
    assert PW not in str(entry.payload)


@pytest.mark.parametrize(
    "field, value, error, message",
    [
        ("username", "x", InvalidRequest, "用户名须为 2–64 个字母"),
        ("username", "has space", InvalidRequest, "用户名须为 2–64 个字母"),
        ("password", "short", InvalidRequest, "密码长度须为 10 至 1024 个字符"),
        ("role", "king", InvalidRequest, "无法识别的角色：'king'"),
        ("display_name", " ", InvalidRequest, "姓名不能为空"),
    ],
)
async def test_bad_fields_are_refused_and_nothing_is_stored(
    engine: AsyncEngine, audit_log: AuditLog, field: str, value: str, error: type[Exception], message: str
) -> None:
    fields = {"username": "wang.wu", "password": PW, "display_name": "王五", "role": "agency", field: value}
    with pytest.raises(error, match=message):
        await create_account(
            audit_log,
            username=fields["username"],
            password=fields["password"],
            display_name=fields["display_name"],
            role=fields["role"],
        )
    assert await list_accounts(engine) == [] and audit_log.size == 0


async def test_taken_username_conflicts_atomically(engine: AsyncEngine, audit_log: AuditLog) -> None:
    await make(audit_log)
    with pytest.raises(ConflictError, match="用户名已存在：'zhang.san'"):
        await make(audit_log, "ZHANG.san")
    assert audit_log.size == 1 and len(await list_accounts(engine)) == 1


async def test_authenticate_one_message_for_both_failures(engine: AsyncEngine, audit_log: AuditLog) -> None:
    account = await make(audit_log)
    assert await authenticate(engine, "Zhang.San", PW) == account
    with pytest.raises(AuthenticationFailed) as wrong:
        await authenticate(engine, "zhang.san", PW + "x")
    with pytest.raises(AuthenticationFailed) as unknown:
        await authenticate(engine, "nobody", PW)
    assert wrong.value.message == unknown.value.message == "用户名或密码错误"
    assert wrong.value.status == 401


async def test_rehash_when_parameters_change(engine: AsyncEngine, audit_log: AuditLog) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    account = await create_account(audit_log, username="old.hash", password=PW, display_name="旧", role="expert", hasher=weak)
    from evaluation.accounts.tables import account_table

    async def stored() -> str:
        async with engine.connect() as conn:
            return str((await conn.execute(account_table.select().where(account_table.c.id == account.id))).one().password_hash)

    assert "m=8192" in await stored()
    await authenticate(engine, "old.hash", PW)  # default parameters now
    assert "m=65536" in await stored() and await authenticate(engine, "old.hash", PW) == account


async def test_role_change_is_logged(engine: AsyncEngine, audit_log: AuditLog) -> None:
    account = await make(audit_log)
    changed = await change_role(audit_log, engine, account.id, Role.expert, by=ADMIN)
    assert changed.role is Role.expert and (await get_account(engine, account.id)).role is Role.expert
    last = (await audit_log.entries(audit_log.size - 1, audit_log.size))[0]
    assert (last.kind, last.payload) == ("account.role_changed", {"account_id": account.id, "old_role": "bidder", "new_role": "expert"})
    with pytest.raises(NotFoundError):
        await change_role(audit_log, engine, "acct_none", Role.admin, by=ADMIN)


async def test_sessions_end_on_logout_password_change_and_idle(engine: AsyncEngine, audit_log: AuditLog) -> None:
    account = await make(audit_log)
    a, b = await open_session(engine, account.id), await open_session(engine, account.id)
    assert await session_account(engine, a) == account and await count_sessions(engine, account.id) == 2
    await close_session(engine, a)
    assert await session_account(engine, a) is None and await session_account(engine, b) == account
    with pytest.raises(InvalidRequest, match="当前密码错误"):
        await change_password(audit_log, engine, account, "not it at all", "another-secret")
    assert await session_account(engine, b) == account
    await change_password(audit_log, engine, account, PW, "another-secret")
    assert await session_account(engine, b) is None and await count_sessions(engine, account.id) == 0
    assert await authenticate(engine, account.username, "another-secret") == account
    last = (await audit_log.entries(audit_log.size - 1, audit_log.size))[0]
    assert (last.kind, last.payload, last.actor) == ("account.password_changed", {"account_id": account.id}, account.actor)
    c = await open_session(engine, account.id, at_us=1_000)
    assert await session_account(engine, c, at_us=1_000 + SESSION_IDLE_US + 1) is None
    assert await count_sessions(engine, account.id) == 0  # the expired row is gone


def test_throttle_policy_backs_off_exponentially() -> None:
    policy = ThrottlePolicy(free=5, window_us=900, base_lock_us=30, max_lock_us=200)
    state = None
    locks = []
    for t in range(8):
        state = after_failure(state, t, policy)
        locks.append(state.locked_until_us - t if state.locked_until_us > t else 0)
    assert locks == [0, 0, 0, 0, 30, 60, 120, 200]
    fresh = after_failure(state, 10_000, policy)  # window over and lock ended: counting starts again
    assert (fresh.failures, fresh.locked_until_us) == (1, 0)


def keys(address: str, user: str = "zhang") -> SignInKeys:
    return SignInKeys(f"pair:{user}|{address}", f"ip:{address}", f"user:{user}")


async def test_throttle_rows(engine: AsyncEngine) -> None:
    for t in range(4):
        attempt, until = await reserve_attempt(engine, keys("a"), at_us=t)
        assert attempt is not None and until is None and attempt.locked_until() is None
    fifth, _ = await reserve_attempt(engine, keys("a"), at_us=5)
    assert fifth is not None and fifth.locked_until() == 5 + USER_POLICY.base_lock_us  # this failure locks
    assert await reserve_attempt(engine, keys("a"), at_us=6) == (None, 5 + USER_POLICY.base_lock_us)
    later, _ = await reserve_attempt(engine, keys("a"), at_us=5 + USER_POLICY.base_lock_us)
    assert later is not None
    await release_attempt(engine, later)  # it signed in: this address starts afresh for the account
    again, _ = await reserve_attempt(engine, keys("a"), at_us=5 + USER_POLICY.base_lock_us + 1)
    assert again is not None and again.after["pair:zhang|a"].failures == 1


async def test_an_attacker_cannot_keep_the_owner_out(engine: AsyncEngine) -> None:
    """Guesses from one address lock that address (doubling), not the owner at another address; guesses
    spread over many addresses lock the account only for addresses that have failed for it."""
    t = 0
    locks = []
    for _ in range(40):  # the attacker retries the moment each lock ends
        attempt, until = await reserve_attempt(engine, keys("6.6.6.6"), at_us=t)
        if attempt is None:
            assert until is not None
            t = until
            continue
        if (end := attempt.locked_until()) is not None:
            locks.append(end - t)
        t += 1
    assert locks[:3] == [USER_POLICY.base_lock_us, 2 * USER_POLICY.base_lock_us, 4 * USER_POLICY.base_lock_us]
    owner, until = await reserve_attempt(engine, keys("1.2.3.4"), at_us=t)
    assert owner is not None and until is None  # the right password from elsewhere is checked at once
    await release_attempt(engine, owner)
    # a distributed attacker: each fresh address fails once; after ACCOUNT_POLICY.free of them the
    # account lock holds every address that has failed for it, and the owner's fresh address still passes
    for n in range(ACCOUNT_POLICY.free + 2):
        await reserve_attempt(engine, keys(f"10.0.0.{n}"), at_us=t + n)
    assert (await reserve_attempt(engine, keys("10.0.0.1"), at_us=t + 100))[0] is None
    assert (await reserve_attempt(engine, keys("5.5.5.5"), at_us=t + 100))[0] is not None


async def test_parallel_attempts_are_counted_one_after_another(engine: AsyncEngine) -> None:
    results = await asyncio.gather(*(reserve_attempt(engine, keys("7.7.7.7"), at_us=100) for _ in range(30)))
    checked = [a for a, _ in results if a is not None]
    assert len(checked) == USER_POLICY.free
