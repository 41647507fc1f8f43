"""Accounts (账户) and roles (角色): who may sign in, with which role, and their password hashes.

Passwords are hashed with argon2id (argon2-cffi, PHC-format strings); a hash made with older
parameters is replaced on the next successful sign-in. Hashing runs in a worker thread so the
event loop keeps serving. Creating an account, changing its role and changing its password are
audit events (docs/audit-log.md, "Accounts"); the row and its entry commit together. Usernames
are case-insensitive: stored case-folded. Roles and who may do what: docs/accounts.md.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.accounts.tables import account_table, session_table
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, DomainError, InvalidRequest, NotFoundError, Text


class Role(str, Enum):
    """The roles of the platform; an account has exactly one."""

    agency = "agency"
    bidder = "bidder"
    expert = "expert"
    supervisor = "supervisor"
    admin = "admin"

    @property
    def label(self) -> str:
        """Chinese and English name, as pages show it."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.agency: "采购人/代理机构 Agency",
    Role.bidder: "供应商 Bidder",
    Role.expert: "评审专家 Expert",
    Role.supervisor: "监管 Supervisor",
    Role.admin: "管理员 Administrator",
}


@dataclass(frozen=True)
class Account:
    """A person who can sign in. Never carries the password hash."""

    id: str
    username: str
    display_name: str
    role: Role
    organization: str

    @property
    def actor(self) -> Actor:
        """This account as the actor of an audit entry."""
        return Actor(self.id, self.role.value)

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "organization": self.organization,
        }


class AuthenticationFailed(DomainError):
    """Unknown username or wrong password; one message for both, so it tells an attacker nothing."""

    status = 401

    def __init__(self) -> None:
        super().__init__(Text("用户名或密码错误"))



MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"[\w.@-]{2,64}")
HASHER = PasswordHasher()
"""argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4)."""
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))

register_kind(
    "account.created",
    "An administrator (or the command line, as system) created an account (platform-wide, no "
    "tender). Payload: account_id, username, display_name, role, organization (all str).",
)
register_kind(
    "account.role_changed",
    "An administrator changed an account's role. Payload: account_id, old_role, new_role (str). "
    "The change applies to the account's next request.",
)
register_kind(
    "account.password_changed",
    "An account's password was changed; every session of that account ended. Payload: account_id (str).",
)


def now_us() -> int:
    return time.time_ns() // 1000


def normalize_username(username: str) -> str:
    """The stored form of a username: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest("密码长度须为 {min} 至 {max} 个字符", min=MIN_PASSWORD, max=MAX_PASSWORD)


def _role(value: str | Role) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidRequest(
            "无法识别的角色：{role}（可选 {roles}）", role=repr(str(value)), roles=", ".join(r.value for r in Role)
        ) from None


def _account(row: Any) -> Account:
    return Account(row.id, row.username, row.display_name, Role(row.role), row.organization)


async def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    """The argon2id PHC string of `password` (computed in a worker thread)."""
    return await asyncio.to_thread(hasher.hash, password)


async def _verify(stored: str, password: str, hasher: PasswordHasher) -> bool:
    def check() -> bool:
        try:
            return hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def create_account(
    audit: AuditLog,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role | str,
    organization: str = "",
    by: Actor | None = None,
    hasher: PasswordHasher = HASHER,
) -> Account:
    """Create an account and log ``account.created`` in the same transaction.

    `by` is the administrator's actor (None: the command line, logged as system). Raises
    InvalidRequest for a malformed field, ConflictError when the username is taken.
    """
    name = normalize_username(username)
    if not _USERNAME.fullmatch(name):
        raise InvalidRequest("用户名须为 2–64 个字母、数字或 .、_、@、- 字符")
    display_name, organization = display_name.strip(), organization.strip()
    if not display_name or len(display_name) > 200 or len(organization) > 200:
        raise InvalidRequest("姓名不能为空，姓名和单位最多 200 个字符")
    _check_password(password)
    account = Account(f"acct_{secrets.token_hex(8)}", name, display_name, _role(role), organization)
    password_hash = await hash_password(password, hasher)

    async def insert(conn: AsyncConnection) -> None:
        if await _row_by_username(conn, name) is not None:
            raise ConflictError("用户名已存在：{name}", name=repr(name))
        stamp = now_us()
        await conn.execute(
            account_table.insert().values(
                **{k: v for k, v in account.to_json().items() if k != "role"},
                role=account.role.value,
                password_hash=password_hash,
                created_us=stamp,
                password_changed_us=stamp,
            )
        )

    payload = {"account_id": account.id, **{k: v for k, v in account.to_json().items() if k != "id"}}
    draft = EntryDraft("account.created", payload, None, by) if by else EntryDraft("account.created", payload)
    await audit.append(draft, apply=insert)
    return account


async def _row_by_username(conn: AsyncConnection, username: str) -> Any:
    query = sa.select(account_table).where(account_table.c.username == normalize_username(username))
    return (await conn.execute(query)).first()


async def get_account(engine: AsyncEngine, account_id: str) -> Account:
    """The account with `account_id`. Raises NotFoundError."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(account_table).where(account_table.c.id == account_id))).first()
    if row is None:
        raise NotFoundError("找不到该账号")
    return _account(row)


async def find_by_username(engine: AsyncEngine, username: str) -> Account | None:
    """The account named `username` (case-insensitive), or None."""
    async with engine.connect() as conn:
        row = await _row_by_username(conn, username)
    return None if row is None else _account(row)


async def list_accounts(engine: AsyncEngine, role: Role | None = None) -> list[Account]:
    """Every account (or those of `role`), by username."""
    query = sa.select(account_table).order_by(account_table.c.username)
    if role is not None:
        query = query.where(account_table.c.role == role.value)
    async with engine.connect() as conn:
        return [_account(r) for r in await conn.execute(query)]


async def authenticate(engine: AsyncEngine, username: str, password: str, hasher: PasswordHasher = HASHER) -> Account:
    """The account if `password` is its password; else AuthenticationFailed (same message and
    about the same time for an unknown username). Rehashes a hash made with older parameters."""
    async with engine.connect() as conn:
        row = await _row_by_username(conn, username)
    if row is None:
        await _verify(_DUMMY_HASH, password, hasher)
        raise AuthenticationFailed()
    if not await _verify(row.password_hash, password, hasher):
        raise AuthenticationFailed()
    if hasher.check_needs_rehash(row.password_hash):
        new_hash = await hash_password(password, hasher)
        async with engine.begin() as conn:
            await conn.execute(
                account_table.update()
                .where(account_table.c.id == row.id, account_table.c.password_hash == row.password_hash)
                .values(password_hash=new_hash)
            )
    return _account(row)


async def change_role(audit: AuditLog, engine: AsyncEngine, account_id: str, role: Role | str, *, by: Actor) -> Account:
    """Give an account another role, logging ``account.role_changed``. Raises NotFoundError."""
    new = _role(role)
    old = await get_account(engine, account_id)
    if old.role is new:
        return old

    async def update(conn: AsyncConnection) -> None:
        await conn.execute(account_table.update().where(account_table.c.id == account_id).values(role=new.value))

    payload = {"account_id": account_id, "old_role": old.role.value, "new_role": new.value}
    await audit.append(EntryDraft("account.role_changed", payload, None, by), apply=update)
    return Account(old.id, old.username, old.display_name, new, old.organization)


async def change_password(
    audit: AuditLog,
    engine: AsyncEngine,
    account: Account,
    current: str,
    new: str,
    hasher: PasswordHasher = HASHER,
) -> None:
    """Replace the password after checking the current one, and end every session of the account
    (same transaction as the ``account.password_changed`` entry). Raises InvalidRequest when the
    current password is wrong or the new one is unacceptable."""
    _check_password(new)
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(account_table).where(account_table.c.id == account.id))).first()
    if row is None:
        raise NotFoundError("找不到该账号")
    if not await _verify(row.password_hash, current, hasher):
        raise InvalidRequest("当前密码错误")
    new_hash = await hash_password(new, hasher)

    async def update(conn: AsyncConnection) -> None:
        values = {"password_hash": new_hash, "password_changed_us": now_us()}
        await conn.execute(account_table.update().where(account_table.c.id == account.id).values(**values))
        await conn.execute(session_table.delete().where(session_table.c.account_id == account.id))

    await audit.append(EntryDraft("account.password_changed", {"account_id": account.id}, None, account.actor), apply=update)
