"""The test PostgreSQL (``PINGBIAO_TEST_PG``, default the machine's database ``test``): an admin
engine that skips (fails under CI=true) when the server is unreachable, and scratch databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.db import make_engine
from tests.conftest import need

PG_URL = os.environ.get("PINGBIAO_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def reachable_admin(**options: Any) -> AsyncEngine:
    """An engine on PG_URL that has answered ``select 1``; skips (fails under CI) when it cannot."""
    admin = make_engine(PG_URL, **options)
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text("select 1"))
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        await admin.dispose()
        need(False, f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}")
    return admin


class ScratchDatabases:
    """Fresh databases on the test server (``await make()`` → name), all dropped by ``drop_all``."""

    def __init__(self, admin: AsyncEngine, prefix: str) -> None:
        self.admin, self.prefix, self.made = admin, prefix, []  # type: list[str]

    async def make(self) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        async with self.admin.connect() as conn:
            await conn.execute(sa.text(f"create database {name}"))
        self.made.append(name)
        return name

    @staticmethod
    def url(name: str) -> str:
        return PG_URL.rsplit("/", 1)[0] + f"/{name}"

    async def drop_all(self) -> None:
        async with self.admin.connect() as conn:
            for name in self.made:
                await conn.execute(sa.text(f"drop database if exists {name} with (force)"))


@asynccontextmanager
async def scratch_databases(prefix: str) -> AsyncIterator[ScratchDatabases]:
    """A factory of scratch databases named `prefix`_…, dropped (even while in use) on leaving."""
    admin = await reachable_admin(isolation_level="AUTOCOMMIT")
    scratch = ScratchDatabases(admin, prefix)
    try:
        yield scratch
    finally:
        try:
            await scratch.drop_all()
        finally:
            await admin.dispose()
