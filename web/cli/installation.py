"""What the `pingbiao` commands that work on an installation share: its database, opened from the
settings and brought to the newest schema, and its audit log, started around the command.

Run these while the server is stopped: the log has one writer per process. The imports are made
inside the functions so that `pingbiao --help` stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from web.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from evaluation.audit.log import AuditLog



@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The installation's engine at the newest schema; disposed on exit."""
    from evaluation.db import create_schema, make_engine

    engine = make_engine(settings.effective_database_url)
    try:
        await create_schema(engine)
        yield engine
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def installation(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, AuditLog]]:
    """The installation's engine and its started audit log (a new log gets its ``log.started``
    entry, as the server writes it); the log is stopped and the engine disposed on exit."""
    from evaluation.audit.entry import EntryDraft
    from evaluation.audit.keys import load_or_create_signer
    from evaluation.audit.log import AuditLog

    settings.ensure_data_dir()
    async with database(settings) as engine:
        signer, vkey = load_or_create_signer(settings.log_key_path, settings.log_origin)
        log = AuditLog(engine, settings.log_origin, signer)
        await log.start()
        try:
            if log.size == 0:  # as the server does on a new log
                await log.append(EntryDraft("log.started", {"origin": settings.log_origin, "verifier_key": vkey}))
            yield engine, log
        finally:
            await log.stop()


@contextlib.asynccontextmanager
async def existing_log(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, AuditLog, str]]:
    """The engine, the audit log started read-only and its verifier key, of an installation that
    has a log (NotFoundError if its data directory holds no log key); nothing is created."""
    from crypto.note import Signer
    from evaluation.audit.keys import load_or_create_signer
    from evaluation.audit.log import AuditLog
    from evaluation.db import make_engine
    from evaluation.errors import NotFoundError

    key_path = settings.data_dir / "log.key"
    if not key_path.exists():
        raise NotFoundError("此数据目录没有审计日志（找不到密钥 {path}）", path=key_path)
    # An existing log's origin is the one its key was made for (the setting only names a new log),
    # so a data directory made with another origin (pingbiao demo --fast) is read as it is.
    origin = Signer.from_key_text(key_path.read_text().strip()).name
    signer, vkey = load_or_create_signer(key_path, origin)
    engine = make_engine(settings.effective_database_url)
    try:
        log = AuditLog(engine, origin, signer)
        await log.start(readonly=True)
        yield engine, log, vkey
    finally:
        await engine.dispose()
