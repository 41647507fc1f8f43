"""Tables of the audit log and the queries on them. No logic beyond reading and writing rows.

``audit_node`` holds the hash of every complete subtree, leaves included (level 0), keyed by
``(level, idx)`` as in ``crypto.merkle.NodeID``; any proof or root is then one primary-key lookup
of about log2(size) keys. Times are stored as integer microseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crypto.merkle import NodeID
from evaluation.db import metadata
from evaluation.errors import IntegrityFailure

entry_table = sa.Table(
    "audit_entry",
    metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("tender_id", sa.String(128), nullable=True),
    sa.Column("actor_account", sa.String(256), nullable=False),
    sa.Column("actor_role", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(128), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("leaf", sa.LargeBinary, nullable=False),
    sa.Index("ix_audit_entry_tender_idx", "tender_id", "idx"),
)

node_table = sa.Table(
    "audit_node",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

checkpoint_table = sa.Table(
    "audit_checkpoint",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

ENTRY_COLUMNS = ("idx", "time_us", "tender_id", "actor_account", "actor_role", "kind", "payload", "leaf")


@dataclass(frozen=True)
class CheckpointRow:
    size: int
    root: bytes
    note: str
    created_us: int


async def insert_entries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert entry rows (dicts with the ENTRY_COLUMNS keys) in one executemany."""
    if rows:
        await conn.execute(entry_table.insert(), list(rows))


async def insert_nodes(conn: AsyncConnection, nodes: Sequence[tuple[NodeID, bytes]]) -> None:
    """Insert node hashes in one executemany."""
    if nodes:
        await conn.execute(
            node_table.insert(), [{"level": n.level, "idx": n.index, "hash": h} for n, h in nodes]
        )


async def insert_checkpoint(conn: AsyncConnection, row: CheckpointRow) -> None:
    await conn.execute(
        checkpoint_table.insert().values(size=row.size, root=row.root, note=row.note, created_us=row.created_us)
    )


async def log_size(conn: AsyncConnection) -> int:
    """Number of stored entries, from the primary key (entries are dense from 0)."""
    last = (await conn.execute(sa.select(sa.func.max(entry_table.c.idx)))).scalar()
    return 0 if last is None else int(last) + 1


async def last_time_us(conn: AsyncConnection, size: int) -> int:
    """Time of entry ``size - 1`` (0 for an empty log)."""
    if size == 0:
        return 0
    query = sa.select(entry_table.c.time_us).where(entry_table.c.idx == size - 1)
    return int((await conn.execute(query)).scalar_one())


async def latest_checkpoint(conn: AsyncConnection) -> CheckpointRow | None:
    query = sa.select(checkpoint_table).order_by(checkpoint_table.c.size.desc()).limit(1)
    row = (await conn.execute(query)).first()
    return None if row is None else CheckpointRow(row.size, row.root, row.note, row.created_us)


async def node_hashes(conn: AsyncConnection, ids: Sequence[NodeID]) -> list[bytes]:
    """Hashes of `ids`, in the same order, in one query (an OR of primary-key pairs).

    Raises IntegrityFailure naming the first node that is not stored.
    """
    if not ids:
        return []
    wanted = set(ids)
    c = node_table.c
    condition = sa.or_(*(sa.and_(c.level == n.level, c.idx == n.index) for n in wanted))
    rows = await conn.execute(sa.select(c.level, c.idx, c.hash).where(condition))
    found = {NodeID(r.level, r.idx): r.hash for r in rows}
    for n in ids:
        if n not in found:
            raise IntegrityFailure(f"audit log node (level {n.level}, index {n.index}) is missing from the database")
    return [found[n] for n in ids]


async def entry_rows(conn: AsyncConnection, start: int, end: int) -> list[Any]:
    """Entry rows with ``start <= idx < end``, in index order."""
    c = entry_table.c
    query = sa.select(entry_table).where(c.idx >= start, c.idx < end).order_by(c.idx)
    return list(await conn.execute(query))


async def leaves(conn: AsyncConnection, start: int, end: int) -> list[bytes]:
    """Leaf bytes of entries ``start <= idx < end``, in index order."""
    c = entry_table.c
    rows = await conn.execute(sa.select(c.leaf).where(c.idx >= start, c.idx < end).order_by(c.idx))
    return [bytes(r[0]) for r in rows]


async def tender_rows(
    conn: AsyncConnection,
    tender_id: str,
    *,
    until_index: int | None = None,
    until_time_us: int | None = None,
    kinds: Sequence[str] | None = None,
    actor: str | None = None,
) -> list[Any]:
    """Entry rows of one tender in index order; the ``until_*`` bounds are inclusive."""
    c = entry_table.c
    query = sa.select(entry_table).where(c.tender_id == tender_id)
    if until_index is not None:
        query = query.where(c.idx <= until_index)
    if until_time_us is not None:
        query = query.where(c.time_us <= until_time_us)
    if kinds is not None:
        query = query.where(c.kind.in_(list(kinds)))
    if actor is not None:
        query = query.where(c.actor_account == actor)
    return list(await conn.execute(query.order_by(c.idx)))
