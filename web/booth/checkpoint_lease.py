"""Which app process writes a booth room's recording checkpoints (docs/media.md, *Several processes*).

Several app processes sharing one Janus and one recordings directory each see the same recordings
grow; only one of them may log their checkpoints, or every checkpoint would be in the log twice.
The writer of a room is the process that holds the room's PostgreSQL advisory lock
(``pg_try_advisory_lock``) on a connection of its own, kept open while the process lives. When
that process dies its connection closes, the database releases the lock, and the next pass of
another process serving the room takes it: the hand-over needs no expiry and no clock.

With SQLite there is one process (docs/configuration.md): it writes every room.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("pingbiao.media")

NAMESPACE = "pingbiao booth recording checkpoints"


def lock_key(room: str) -> int:
    """The room's advisory-lock key: a signed 64-bit number derived from its name."""
    return int.from_bytes(hashlib.sha256(f"{NAMESPACE}\0{room}".encode()).digest()[:8], "big", signed=True)


class CheckpointLease:
    """The rooms this process writes checkpoints for."""

    def __init__(self, engine: AsyncEngine | None) -> None:
        self.engine = engine
        self.shared = engine is not None and engine.dialect.name == "postgresql"
        self.held: set[str] = set()
        self._conn: AsyncConnection | None = None

    async def _connection(self) -> AsyncConnection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            assert self.engine is not None
            self.held.clear()  # a new connection holds no lock
            self._conn = await self.engine.connect()
            await self._conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def writes(self, room: str) -> bool:
        """Does this process write `room`'s checkpoints (taking the room's lock if it is free)?"""
        if not self.shared:
            return True
        if room in self.held and await self._still_held():
            return True
        try:
            conn = await self._connection()
            got = (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(room)})).scalar()
        except Exception as exc:  # noqa: BLE001 — the database away: write nothing this pass
            log.error("checkpoint lease not checked", extra={"room": room, "error": repr(exc)})
            await self._drop()
            return False
        if got:
            if room not in self.held:
                log.info("checkpoint writer for room", extra={"room": room})
            self.held.add(room)
        return bool(got)

    async def _still_held(self) -> bool:
        """The connection holding our locks is alive (else the locks are gone and may be another's)."""
        try:
            assert self._conn is not None
            await self._conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001
            await self._drop()
            return False

    async def _drop(self) -> None:
        self.held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it is broken already
                await conn.invalidate()
                await conn.close()

    async def release(self, room: str | None = None) -> None:
        """Let go of `room`'s lock (or all of them), e.g. at shutdown after the final checkpoint."""
        if not self.shared or self._conn is None:
            return
        rooms = [room] if room is not None else sorted(self.held)
        try:
            for name in rooms:
                if name in self.held:
                    await self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                    self.held.discard(name)
        except Exception as exc:  # noqa: BLE001 — closing the connection releases them anyway
            log.warning("checkpoint lease not released", extra={"error": repr(exc)})
        if room is None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()

    def state(self) -> dict[str, Any]:
        return {"shared": self.shared, "rooms": sorted(self.held)}
