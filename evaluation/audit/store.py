"""Tables of the audit log and the queries on them. No logic beyond reading and writing rows.

``audit_node`` holds the hash of every complete subtree, leaves included (level 0), under one
integer key, ``node_key(level, idx)`` = (last leaf covered) · 64 + level: the nodes a new leaf
completes get consecutive, ever-growing keys (appends go to the end of the index), and a proof or
root is one ``IN`` lookup of about log2(size) integer primary keys. On SQLite the integer primary
keys are rowid aliases (one B-tree per table, no separate index). Times are stored as integer
microseconds since the Unix epoch (UTC).

Bulk writes and the node lookup go to the driver directly (``exec_driver_sql``): the statements
are fixed text, so SQLAlchemy's per-row parameter processing is pure overhead there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crypto.merkle import NodeID
from evaluation.db import metadata
from evaluation.errors import IntegrityFailure

# BIGINT, but INTEGER on SQLite: only "INTEGER PRIMARY KEY" makes the key the rowid itself.
_Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

entry_table = sa.Table(
    "audit_entry",
    metadata,
    sa.Column("idx", _Key, primary_key=True, autoincrement=False),
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
    sa.Column("id", _Key, primary_key=True, autoincrement=False),
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

check_table = sa.Table(
    "audit_check",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("checked_us", sa.BigInteger, nullable=False),
)
"""One row per start-up check that passed: the first `size` entries were checked against their
leaves and nodes, and the stored nodes then folded to `root` (evaluation/audit/check.py)."""

ENTRY_COLUMNS = ("idx", "time_us", "tender_id", "actor_account", "actor_role", "kind", "payload", "leaf")


@dataclass(frozen=True)
class CheckpointRow:
    size: int
    root: bytes
    note: str
    created_us: int


LEVEL_BITS = 6
"""Low bits of a node key that hold the level (levels are < 64)."""


def node_key(level: int, idx: int) -> int:
    """The ``audit_node.id`` of node ``(level, idx)``: (last leaf it covers) · 64 + level."""
    return (((idx + 1) << level) - 1) << LEVEL_BITS | level


def _placeholders(conn: AsyncConnection, count: int) -> str:
    if conn.dialect.paramstyle == "qmark":
        return ", ".join("?" * count)
    return ", ".join(f"${i}" for i in range(1, count + 1))  # asyncpg: numeric_dollar


@lru_cache(maxsize=8)
def _insert_sql(table: str, columns: tuple[str, ...], placeholders: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"


async def insert_entries(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert entry rows (tuples in ENTRY_COLUMNS order) in one driver executemany."""
    if rows:
        sql = _insert_sql("audit_entry", ENTRY_COLUMNS, _placeholders(conn, len(ENTRY_COLUMNS)))
        await conn.exec_driver_sql(sql, rows if isinstance(rows, list) else list(rows))


async def insert_nodes(conn: AsyncConnection, nodes: Iterable[tuple[int, bytes]]) -> None:
    """Insert ``(node_key, hash)`` pairs in one driver executemany."""
    rows = nodes if isinstance(nodes, list) else list(nodes)
    if rows:
        await conn.exec_driver_sql(_insert_sql("audit_node", ("id", "hash"), _placeholders(conn, 2)), rows)


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


async def latest_check(conn: AsyncConnection) -> tuple[int, bytes] | None:
    """``(size, root)`` of the newest passed start-up check, if any."""
    query = sa.select(check_table.c.size, check_table.c.root).order_by(check_table.c.size.desc()).limit(1)
    row = (await conn.execute(query)).first()
    return None if row is None else (int(row.size), bytes(row.root))


async def record_check(conn: AsyncConnection, size: int, root: bytes, checked_us: int) -> None:
    """Remember a passed check; a second process that checked the same size meanwhile is no error."""
    found = await conn.execute(sa.select(check_table.c.size).where(check_table.c.size == size))
    if found.first() is None:
        try:
            async with conn.begin_nested():
                await conn.execute(check_table.insert().values(size=size, root=root, checked_us=checked_us))
        except sa.exc.IntegrityError:
            pass


async def node_rows(conn: AsyncConnection, first_leaf: int, end_leaf: int) -> list[tuple[int, bytes]]:
    """``(key, hash)`` of every stored node whose last leaf is in ``[first_leaf, end_leaf)``, by key."""
    sql = "SELECT id, hash FROM audit_node WHERE id >= {0} AND id < {1} ORDER BY id".format(
        *(("?", "?") if conn.dialect.paramstyle == "qmark" else ("$1", "$2"))
    )
    rows = await conn.exec_driver_sql(sql, (first_leaf << LEVEL_BITS, end_leaf << LEVEL_BITS))
    return [(int(r[0]), bytes(r[1])) for r in rows]


_ONE_ROUND_TRIP: dict[str, Callable[[Any, str, Sequence[Any]], Awaitable[Iterable[Any]]]] = {
    # A plain SELECT in whatever transaction the connection is in (none: autocommit).
    "aiosqlite": lambda raw, sql, params: raw.execute_fetchall(sql, params),
    "asyncpg": lambda raw, sql, params: raw.fetch(sql, *params),
}


@lru_cache(maxsize=128)
def _lookup_sql(paramstyle: str, count: int) -> str:
    if paramstyle == "qmark":
        return f"SELECT id, hash FROM audit_node WHERE id IN ({', '.join('?' * count)})"
    return "SELECT id, hash FROM audit_node WHERE id = ANY($1::bigint[])"  # one prepared statement


async def node_hashes(conn: AsyncConnection, ids: Sequence[NodeID]) -> list[bytes]:
    """Hashes of `ids`, in the same order, in one query (``id IN`` the nodes' integer keys; one
    per ``MAX_LOOKUP`` distinct keys).

    Raises IntegrityFailure naming the first node that is not stored.
    """
    if not ids:
        return []
    keys = [(((n.index + 1) << n.level) - 1) << LEVEL_BITS | n.level for n in ids]
    found = await _lookup(conn, tuple(set(keys)))
    try:
        return [bytes(found[k]) for k in keys]
    except KeyError:
        for n, k in zip(ids, keys):
            if k not in found:
                raise IntegrityFailure(
                    "数据库中缺少审计日志的节点（第 {level} 层第 {index} 个）", level=n.level, index=n.index
                ) from None
        raise


MAX_LOOKUP = 10_000
"""Node keys per lookup statement (SQLite allows 32766 parameters in one)."""


async def _lookup(conn: AsyncConnection, wanted: tuple[int, ...]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    paramstyle = conn.dialect.paramstyle
    driver = conn.dialect.driver
    for at in range(0, len(wanted), MAX_LOOKUP):
        part = wanted[at : at + MAX_LOOKUP]
        sql = _lookup_sql(paramstyle, len(part))
        params = part if paramstyle == "qmark" else (list(part),)
        if driver in _ONE_ROUND_TRIP:  # the driver's own execute-and-fetch: one round trip, not four
            raw = (await conn.get_raw_connection()).driver_connection
            found.update(await _ONE_ROUND_TRIP[driver](raw, sql, params))
        else:
            rows: Iterable[Any] = await conn.exec_driver_sql(sql, params)
            found.update((row[0], row[1]) for row in rows)
    return found


async def entry_rows(conn: AsyncConnection, start: int, end: int) -> list[Any]:
    """Entry rows with ``start <= idx < end``, in index order."""
    c = entry_table.c
    query = sa.select(entry_table).where(c.idx >= start, c.idx < end).order_by(c.idx)
    return list(await conn.execute(query))


async def raw_entry_rows(conn: AsyncConnection, start: int, end: int) -> list[tuple[Any, ...]]:
    """Entry rows ``start <= idx < end`` as plain tuples in ENTRY_COLUMNS order, by index, straight
    from the driver (for the checks that read every row)."""
    marks = ("?", "?") if conn.dialect.paramstyle == "qmark" else ("$1", "$2")
    sql = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM audit_entry WHERE idx >= {marks[0]} AND idx < {marks[1]} ORDER BY idx"
    return [tuple(r) for r in await conn.exec_driver_sql(sql, (start, end))]


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
