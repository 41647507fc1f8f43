"""`pingbiao accounts create|list`: accounts from the command line (the first administrator, demos).

The account is created through the audit log (``account.created``, actor ``system``). Run it while
the server is stopped: the log has one writer per process.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role
from web.cli.installation import database, installation
from web.config import Settings
from web.errors import UsageError


def add_accounts_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `accounts create` and `accounts list` on the top-level subparsers."""
    accounts = sub.add_parser("accounts", help="create and list accounts (账户)")
    asub = accounts.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    p = asub.add_parser("create", help="create an account; the password is asked for, or read from --password-file")
    add_common(p)
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--name", required=True, help="display name, e.g. 张三 or the company's name")
    p.add_argument("--org", default="", help="organization (单位)")
    p.add_argument("--password-file", metavar="FILE", help="read the password from the first line of FILE")
    p = asub.add_parser("list", help="list accounts")
    add_common(p)


def run_accounts_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `accounts <action>`; expected failures raise DomainError/UsageError for web.cli.main."""
    if args.accounts_command == "create":
        password = _password(args.password_file)
        return asyncio.run(_create(settings, args.username, password, args.name, args.role, args.org))
    return asyncio.run(_list(settings))


def _password(path: str | None) -> str:
    if path:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0]:
            raise UsageError(f"密码文件的第一行须为密码 {path}: the first line must hold the password")
        return lines[0]
    first = getpass.getpass("密码 Password: ")
    if getpass.getpass("再次输入 Again: ") != first:
        raise UsageError("两次输入的密码不一致 the two passwords differ")
    return first


async def _create(settings: Settings, username: str, password: str, name: str, role: str, org: str) -> int:
    from evaluation.accounts.account import create_account

    async with installation(settings) as (_engine, log):
        account = await create_account(
            log, username=username, password=password, display_name=name, role=role, organization=org
        )
    print(f"created {account.role.value} account {account.username} ({account.id})")
    return 0


async def _list(settings: Settings) -> int:
    from evaluation.accounts.account import list_accounts

    async with database(settings) as engine:
        accounts = await list_accounts(engine)
    for a in accounts:
        print(f"{a.username}\t{a.role.value}\t{a.display_name}\t{a.organization}\t{a.id}")
    if not accounts:
        print("no accounts yet: pingbiao accounts create --username admin --role admin --name 管理员")
    return 0
