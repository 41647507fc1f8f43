"""Database engine and schema for evaluation/: SQLite (embedded) or PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL`` so that a commit the audit log has acknowledged
survives power loss, a busy timeout for the readers next to the single writer, foreign keys on,
and explicit ``BEGIN`` so that SAVEPOINTs nest inside the transaction (the sqlite3 module's own
implicit transactions do not). PostgreSQL goes through asyncpg. The SQLite file (and so its -wal and -shm files) is created
mode 0600: it holds password hashes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = sa.MetaData()
"""All tables of evaluation/; modules add theirs when imported (``create_schema`` imports them)."""

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url` (``sqlite+aiosqlite:///file`` or ``postgresql+asyncpg://…``).

    Extra keyword arguments go to ``create_async_engine``. Requires an async driver URL.
    """
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        if engine.url.database and engine.url.database != ":memory:" and not engine.url.database.startswith("file:"):
            private_sqlite_files(Path(engine.url.database))
        _configure_sqlite(engine)
    return engine


def private_sqlite_files(path: Path) -> None:
    """Create the SQLite file `path` with mode 0600 (SQLite gives its -wal and -shm files the
    database's mode), and tighten it and them to 0600 if they exist wider: they hold password hashes."""
    if path.parent.is_dir():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)
        except FileNotFoundError:
            continue


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer that must not lose a race to another process asks for the write lock up front
        # with execution_options(sqlite_begin="IMMEDIATE"); everything else begins deferred.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}" if mode in ("IMMEDIATE", "EXCLUSIVE") else "BEGIN")


MIGRATION_LOCK = 0x70696E67  # "ping": PostgreSQL advisory lock held while migrating


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema: ``alembic upgrade head`` (evaluation/migrations).

    Runs in one transaction; on PostgreSQL an advisory lock makes concurrent starts wait for each
    other instead of migrating twice. Idempotent.
    """
    from evaluation.migrations import upgrade

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(upgrade)
