"""Engine fixtures: the data-layer tests run on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL is ``postgresql+asyncpg://postgres@127.0.0.1:5432/test`` (override with
PINGBIAO_TEST_PG); each test gets a fresh schema, dropped afterwards. Unreachable: skipped,
or failed under CI=true (see ``need``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.note import Signer, generate_key
from evaluation.audit.log import AuditLog
from evaluation.db import create_schema, make_engine
from tests.pg import PG_URL, reachable_admin

ORIGIN = "test.pingbiao.local/audit"


async def _postgres_engine() -> AsyncIterator[AsyncEngine]:
    admin = await reachable_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with admin.begin() as conn:
        await conn.execute(sa.text(f"create schema {schema}"))
    engine = make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"drop schema {schema} cascade"))
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine with the schema created, on each database."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await create_schema(eng)
        yield eng
        await eng.dispose()
    else:
        async for eng in _postgres_engine():
            await create_schema(eng)
            yield eng


SESSION_SIGNER = Signer.from_key_text(generate_key(ORIGIN)[0])


@pytest.fixture(scope="session")
def signer() -> Signer:
    return SESSION_SIGNER


@pytest.fixture
async def audit_log(engine: AsyncEngine, signer: Signer) -> AsyncIterator[AuditLog]:
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    yield log
    await log.stop()
