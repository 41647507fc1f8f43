"""Accounts, sessions and throttling on SQLite and PostgreSQL: the rows and their audit entries."""

from __future__ import annotations

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
    SESSION_IDLE_US,
    USER_POLICY,
    ThrottlePolicy,
    after_failure,
    clear_failures,
    close_session,
    count_sessions,
    locked_until,
    open_session,
    record_failure,
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
        ("username", "x", InvalidRequest, "Username must be"),
        ("username", "has space", InvalidRequest, "Username must be"),
        ("password", "short", InvalidRequest, "Password must have"),
        ("role", "king", InvalidRequest, "unknown role 'king'"),
        ("display_name", " ", InvalidRequest, "Display name is required"),
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
    with pytest.raises(ConflictError, match="is taken"):
        await make(audit_log, "ZHANG.san")
    assert audit_log.size == 1 and len(await list_accounts(engine)) == 1


async def test_authenticate_one_message_for_both_failures(engine: AsyncEngine, audit_log: AuditLog) -> None:
    account = await make(audit_log)
    assert await authenticate(engine, "Zhang.San", PW) == account
    with pytest.raises(AuthenticationFailed) as wrong:
        await authenticate(engine, "zhang.san", PW + "x")
    with pytest.raises(AuthenticationFailed) as unknown:
        await authenticate(engine, "nobody", PW)
    assert wrong.value.message == unknown.value.message == "用户名或密码错误 Wrong username or password"
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
    with pytest.raises(InvalidRequest, match="current password is wrong"):
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


async def test_throttle_rows(engine: AsyncEngine) -> None:
    keys = {"user:zhang": USER_POLICY}
    for t in range(4):
        await record_failure(engine, keys, at_us=t)
    assert await locked_until(engine, ["user:zhang"], at_us=5) is None
    await record_failure(engine, keys, at_us=5)
    assert await locked_until(engine, ["user:zhang", "ip:x"], at_us=6) == 5 + USER_POLICY.base_lock_us
    assert await locked_until(engine, ["user:zhang"], at_us=5 + USER_POLICY.base_lock_us) is None
    await clear_failures(engine, "user:zhang")
    await record_failure(engine, keys, at_us=10)
    assert await locked_until(engine, ["user:zhang"], at_us=11) is None
