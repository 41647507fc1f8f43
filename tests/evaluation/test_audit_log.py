"""The audit log on SQLite and PostgreSQL: the single writer, atomic domain changes, proofs, receipts."""

from __future__ import annotations

import asyncio
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto import merkle, proof
from crypto.checkpoint import Checkpoint
from crypto.note import Signer, open_note
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError
from tests.evaluation.conftest import ORIGIN

domain = sa.Table(
    "test_domain_row",
    sa.MetaData(),  # a stand-in for a domain table, apart from the schema
    sa.Column("name", sa.String(64), primary_key=True),
)


def draft(n: int, tender: str = "T-1") -> EntryDraft:
    return EntryDraft("bid.submitted", {"bid_id": f"b-{n}", "sha256": "00" * 32, "size": n}, tender, Actor(f"u{n}", "bidder"))


async def all_leaf_hashes(log: AuditLog) -> list[bytes]:
    return [e.leaf_hash for e in await log.entries(0, log.size)]


async def test_concurrent_appends_then_restart(audit_log: AuditLog, engine: AsyncEngine, signer: Signer) -> None:
    async def appender(task: int) -> list[int]:
        return [(await audit_log.append(draft(task * 100 + i))).index for i in range(20)]

    indices = [i for got in await asyncio.gather(*(appender(t) for t in range(50))) for i in got]
    assert sorted(indices) == list(range(1000))
    entries = await audit_log.entries(0, 1000)
    assert [e.index for e in entries] == list(range(1000))
    assert sorted(e.payload["size"] for e in entries) == sorted(t * 100 + i for t in range(50) for i in range(20))
    times = [e.time for e in entries]
    assert times == sorted(times)
    checkpoint = await audit_log.latest_checkpoint()
    assert (checkpoint.size, checkpoint.root) == (1000, merkle.root([e.leaf_hash for e in entries]))
    note = open_note(checkpoint.note, [signer.verifier()])
    assert Checkpoint.parse(note.text) == Checkpoint(ORIGIN, 1000, checkpoint.root)

    await audit_log.stop()
    again = AuditLog(engine, ORIGIN, signer)
    await again.start()
    try:
        assert again.size == 1000
        assert await again.latest_checkpoint() == checkpoint
        more = await again.append_many([draft(5000 + i) for i in range(37)])
        assert [e.index for e in more] == list(range(1000, 1037))
        hashes = await all_leaf_hashes(again)
        assert (await again.latest_checkpoint()).root == merkle.root(hashes) == await again.root_at(1037)
        assert await again.root_at(1000) == checkpoint.root
    finally:
        await again.stop()
    await audit_log.start()  # the fixture stops it again


async def test_failing_apply_leaves_nothing_and_others_commit(audit_log: AuditLog, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(domain.create)

    def insert(name: str, fail: bool = False):  # noqa: ANN202
        async def apply(conn: AsyncConnection) -> None:
            await conn.execute(domain.insert().values(name=name))
            if fail:
                raise ConflictError(f"bid {name} arrived after the deadline")

        return apply

    results = await asyncio.gather(
        *(audit_log.append(draft(i), insert(f"row-{i}", fail=i % 3 == 1)) for i in range(12)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, Exception)]
    assert [str(f) for f in failures] == [f"bid row-{i} arrived after the deadline" for i in (1, 4, 7, 10)]
    entries = await audit_log.entries(0, audit_log.size)
    assert sorted(e.payload["size"] for e in entries) == [0, 2, 3, 5, 6, 8, 9, 11]
    async with engine.connect() as conn:
        names = sorted((await conn.execute(sa.select(domain.c.name))).scalars())
    assert names == sorted(f"row-{i}" for i in (0, 2, 3, 5, 6, 8, 9, 11))
    assert (await audit_log.latest_checkpoint()).root == merkle.root([e.leaf_hash for e in entries])

    # A duplicate key fails inside the database, not in Python: the savepoint still isolates it.
    with pytest.raises(sa.exc.IntegrityError):
        await audit_log.append(draft(99), insert("row-0"))
    assert audit_log.size == 8


async def test_proofs_verify_for_many_sizes(audit_log: AuditLog) -> None:
    for chunk in (1, 2, 5, 13, 31, 48):
        await audit_log.append_many([draft(i) for i in range(chunk)])
    hashes = await all_leaf_hashes(audit_log)
    n = len(hashes)
    assert n == 100
    rng = random.Random(9162)
    sizes = sorted({1, 2, 3, 7, 8, 9, 64, 65, 99, 100, *rng.sample(range(1, n + 1), 20)})
    for size in sizes:
        root = await audit_log.root_at(size)
        assert root == merkle.root(hashes[:size])
        for index in {0, size - 1, size // 2, rng.randrange(size)}:
            path = await audit_log.inclusion_proof(index, size)
            proof.verify_inclusion(hashes[index], index, size, path, root)
        for size2 in {size, n, rng.randint(size, n)}:
            consistency = await audit_log.consistency_proof(size, size2)
            proof.verify_consistency(size, size2, consistency, root, merkle.root(hashes[:size2]))


async def test_receipts_and_errors(audit_log: AuditLog, signer: Signer) -> None:
    await audit_log.append_many([draft(i) for i in range(10)])
    receipt = await audit_log.receipt(6)
    receipt.verify(signer.verifier())
    body = receipt.to_json()
    assert body["entry"]["index"] == 6 and body["tree_size"] == 10
    assert body["checkpoint"].startswith(f"{ORIGIN}\n10\n")

    with pytest.raises(NotFoundError, match=r"^第 10 条记录尚不存在（日志共 10 条）$"):
        await audit_log.inclusion_proof(10)
    with pytest.raises(InvalidRequest, match=r"^所请求的条数超出审计日志（请求 11 条，日志共 10 条）$"):
        await audit_log.root_at(11)
    with pytest.raises(InvalidRequest, match=r"^无法给出这两个条数之间的一致性证明（0 到 5，"):
        await audit_log.consistency_proof(0, 5)
    with pytest.raises(NotFoundError):
        await audit_log.receipt(10)


async def test_entries_for_tender_filters(audit_log: AuditLog) -> None:
    made = []
    for i in range(9):
        made.append(await audit_log.append(draft(i, tender=f"T-{i % 3}")))
    got = await audit_log.entries_for_tender("T-1")
    assert [e.index for e in got] == [1, 4, 7]
    assert [e.index for e in await audit_log.entries_for_tender("T-1", until_index=4)] == [1, 4]
    assert [e.index for e in await audit_log.entries_for_tender("T-1", until_time=made[4].time)] == [1, 4]
    assert [e.index for e in await audit_log.entries_for_tender("T-1", actor="u7")] == [7]
    assert await audit_log.entries_for_tender("T-1", kinds=["bid.withdrawn"]) == []
    assert got[0] == made[1]


async def test_node_keys_and_a_missing_node(audit_log: AuditLog, engine: AsyncEngine) -> None:
    """Nodes are stored under store.node_key; a proof that needs a deleted node names it."""
    from evaluation.audit import store
    from evaluation.errors import IntegrityFailure

    await audit_log.append_many([draft(n) for n in range(7)])
    async with engine.connect() as conn:
        ids = {r[0] for r in await conn.execute(sa.select(store.node_table.c.id))}
    # 7 leaves: (0, 0..6), (1, 0..2), (2, 0)
    expected = [(0, i) for i in range(7)] + [(1, i) for i in range(3)] + [(2, 0)]
    assert ids == {store.node_key(level, idx) for level, idx in expected}
    assert store.node_key(1, 2) == 5 * 64 + 1 and store.node_key(2, 0) == 3 * 64 + 2
    async with engine.begin() as conn:
        await conn.execute(sa.delete(store.node_table).where(store.node_table.c.id == store.node_key(1, 0)))
    with pytest.raises(IntegrityFailure, match=r"数据库中缺少审计日志的节点（第 1 层第 0 个）"):
        await audit_log.inclusion_proof(3, 7)


async def test_two_writers_on_one_database_never_share_an_index(audit_log: AuditLog, engine: AsyncEngine, signer: Signer) -> None:
    """Two app processes (or a `pingbiao` command next to a server) each run a writer on one database."""
    other = AuditLog(engine, ORIGIN, signer)
    await other.start()
    try:
        async def appender(log: AuditLog, task: int) -> list[int]:
            return [(await log.append(draft(task * 100 + i))).index for i in range(10)]

        jobs = [appender(audit_log if t % 2 else other, t) for t in range(20)]
        indices = sorted(i for got in await asyncio.gather(*jobs) for i in got)
        assert indices == list(range(200))
        # Each log sees the other's entries and the newest checkpoint signs all of them.
        for log in (audit_log, other):
            cp = await log.latest_checkpoint()
            assert cp.size == 200
            assert cp.root == merkle.root(await all_leaf_hashes(log))
            proof.verify_inclusion((await log.entry(0)).leaf_hash, 0, 200, await log.inclusion_proof(0, 200), cp.root)
    finally:
        await other.stop()


WRITER = """
import asyncio, sys
from pathlib import Path
from crypto.note import Signer
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.log import AuditLog
from evaluation.db import make_engine

async def main(url, key, tag):
    engine = make_engine(url)
    log = AuditLog(engine, {origin!r}, Signer.from_key_text(key))
    await log.start()
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start appending together
    async def one(i):
        return (await log.append(EntryDraft("test.multi", {{"n": i}}, None, Actor(tag, "system")))).index
    got = await asyncio.gather(*(one(i) for i in range(150)))
    await log.stop()
    await engine.dispose()
    print(" ".join(map(str, got)), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


async def test_two_processes_append_to_one_sqlite_file(tmp_path: "Path", signer: Signer) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from evaluation.db import create_schema, make_engine

    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    await create_schema(engine)
    first = AuditLog(engine, ORIGIN, signer)
    await first.start()
    await first.stop()
    script = WRITER.format(origin=ORIGIN)
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, signer.to_key_text(), f"p{n}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root, text=True,
        )
        for n in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs)
    indices = sorted(int(i) for out in outputs for i in out.split())
    assert indices == list(range(300))
    check = AuditLog(engine, ORIGIN, signer)
    await check.start()  # verifies the stored nodes give the latest checkpoint's root
    try:
        cp = await check.latest_checkpoint()
        assert cp.size == 300 and cp.root == merkle.root(await all_leaf_hashes(check))
    finally:
        await check.stop()
        await engine.dispose()
