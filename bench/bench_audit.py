"""Benchmark the audit log: durable appends, bundle verification, inclusion proofs at 1,000,000 entries.

Run from the repository root:  python bench/bench_audit.py [--entries 1000000] [--pg URL]

Each figure is printed next to its limit measured in the same run: appends next to a bare
INSERT of the same rows (the driver's executemany, as the writer uses it, in one transaction,
rows prepared beforehand), verification next to hashlib's SHA-256 over the same leaves and nodes
(limit and verification are each run twice, alternately, and the faster of each is reported, to
damp noise from other load on the machine). PostgreSQL parts are skipped, with the reason, when
the server cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from crypto import merkle  # noqa: E402
from crypto.checkpoint import Checkpoint  # noqa: E402
from crypto.note import Signer, generate_key, sign_note  # noqa: E402
from evaluation.audit import store  # noqa: E402
from evaluation.audit.bundle import bundle_line, verify_bundle  # noqa: E402
from evaluation.audit.entry import Actor, EntryDraft, decode_leaf, encode_leaf  # noqa: E402
from evaluation.audit.log import AuditLog, _row  # noqa: E402
from evaluation.db import create_schema, make_engine  # noqa: E402

ORIGIN = "bench.pingbiao.local/audit"
SIGNER = Signer.from_key_text(generate_key(ORIGIN)[0])
T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


def draft(n: int) -> EntryDraft:
    return EntryDraft(
        "bid.submitted", {"bid_id": f"bid-{n}", "sha256": f"{n:064x}", "size": 1000 + n}, f"T-{n % 50}", Actor(f"bidder-{n % 997}", "bidder")
    )


SCHEMAS: list[str] = []
"""PostgreSQL schemas made by this run (each engine gets a new one, like the tests; dropped at the end)."""


async def fresh_engine(url: str | None, tmp: Path, name: str) -> AsyncEngine:
    if url is None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp / (name + '.db')}")
    else:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = make_engine(url)
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"create schema {schema}"))
        await admin.dispose()
        SCHEMAS.append(schema)
        engine = make_engine(url, connect_args={"server_settings": {"search_path": schema}})
    await create_schema(engine)
    return engine


async def drop_schemas(url: str) -> None:
    admin = make_engine(url)
    async with admin.begin() as conn:
        for schema in SCHEMAS:
            await conn.execute(sa.text(f"drop schema if exists {schema} cascade"))
    await admin.dispose()
    SCHEMAS.clear()


async def bench_appends(label: str, url: str | None, tmp: Path, one_by_one: int, batched: int) -> None:
    engine = await fresh_engine(url, tmp, "appends")
    log = AuditLog(engine, ORIGIN, SIGNER)
    await log.start()
    start = time.perf_counter()
    for n in range(one_by_one):
        await log.append(draft(n))
    single = one_by_one / (time.perf_counter() - start)

    appenders = 200
    per = batched // appenders

    async def appender(k: int) -> None:
        for i in range(per):
            await log.append(draft(k * per + i))

    start = time.perf_counter()
    await asyncio.gather(*(appender(k) for k in range(appenders)))
    many = appenders * per / (time.perf_counter() - start)
    await log.stop()
    await engine.dispose()

    # The limit: the same rows (entries, nodes, one checkpoint) inserted with the driver's executemany
    # (store.insert_*, the statements the writer uses) in one transaction, prepared beforehand.
    engine = await fresh_engine(url, tmp, "bare")
    rows, nodes, border = [], [], []
    for n in range(batched):
        leaf = encode_leaf(n, T0, f"T-{n % 50}", Actor(f"bidder-{n % 997}", "bidder"), "bid.submitted", draft(n).payload)
        rows.append(_row(decode_leaf(leaf), 0))
        hashes = merkle.hashes_on_append(n, merkle.leaf_hash(leaf), border)
        nodes.extend((store.node_key(i.level, i.index), h) for i, h in zip(merkle.new_nodes_on_append(n), hashes))
        if len(hashes) > 1:
            del border[1 - len(hashes) :]
        border.append(hashes[-1])
    start = time.perf_counter()
    async with engine.begin() as conn:
        await store.insert_entries(conn, rows)
        await store.insert_nodes(conn, nodes)
        await store.insert_checkpoint(conn, store.CheckpointRow(batched, merkle.fold_range(border), "x", 0))
    bare = batched / (time.perf_counter() - start)
    await engine.dispose()
    print(f"{label}: durable appends one by one: {single:,.0f}/s  ({one_by_one} awaited in turn)")
    print(f"{label}: durable appends batched:    {many:,.0f}/s  ({appenders} concurrent appenders, {appenders * per} entries)")
    print(f"{label}: bare INSERT same rows:      {bare:,.0f}/s  (limit: driver executemany, no fsync wait per batch, "
          f"no encoding; batched = {100 * many / bare:.0f}% of it)")


def all_nodes(leaf_hashes: list[bytes]) -> list[tuple[int, bytes]]:
    """Every complete subtree hash of the tree, (store.node_key, hash)."""
    out = [(store.node_key(0, i), h) for i, h in enumerate(leaf_hashes)]
    level, row = 0, leaf_hashes
    sha256 = hashlib.sha256
    while len(row) > 1:
        row = [sha256(b"\x01" + row[i] + row[i + 1]).digest() for i in range(0, len(row) - 1, 2)]
        level += 1
        out.extend((store.node_key(level, i), h) for i, h in enumerate(row))
    out.sort()
    return out


def make_leaves(count: int) -> list[bytes]:
    actor = Actor("bidder-1", "bidder")
    return [
        encode_leaf(n, T0, f"T-{n % 50}", actor, "bid.submitted", {"bid_id": f"bid-{n}", "sha256": f"{n:064x}", "size": n})
        for n in range(count)
    ]


def bench_verify(leaves: list[bytes], tmp: Path) -> None:
    directory = tmp / "bundle"
    directory.mkdir()
    root = merkle.root_from_data(leaves)
    note = sign_note(Checkpoint(ORIGIN, len(leaves), root).to_bytes(), [SIGNER])
    (directory / "checkpoint").write_bytes(note)
    (directory / "log.vkey").write_text(SIGNER.verifier().to_key_text() + "\n")
    with open(directory / "entries.jsonl", "wb") as out:
        for i in range(0, len(leaves), 10_000):
            out.write(b"".join(map(bundle_line, leaves[i : i + 10_000])))
    size_mb = (directory / "entries.jsonl").stat().st_size / 1e6

    limit = took = float("inf")
    for _ in range(2):  # alternate, keep the best of each
        start = time.perf_counter()
        merkle.root_from_data(leaves)
        limit = min(limit, time.perf_counter() - start)
        start = time.perf_counter()
        report = verify_bundle(directory)
        took = min(took, time.perf_counter() - start)
        assert report.root == root
    hashes = 2 * len(leaves) - 1
    n = len(leaves)
    print(f"verify {n:,}-entry bundle ({size_mb:.0f} MB): {took:.2f} s, {n / took:,.0f} entries/s, "
          f"{hashes / took:,.0f} leaf+node hashes/s")
    print(f"  hashlib SHA-256 on the same leaves and nodes, in memory (limit): {limit:.2f} s, {hashes / limit:,.0f} hashes/s; "
          f"verification runs at {100 * limit / took:.0f}% of it")
    sample = leaves[: n // 10]
    (directory / "entries.jsonl").write_bytes(b"".join(map(bundle_line, sample)))
    (directory / "checkpoint").write_bytes(sign_note(Checkpoint(ORIGIN, len(sample), merkle.root_from_data(sample)).to_bytes(), [SIGNER]))
    start = time.perf_counter()
    verify_bundle(directory, strict=True)
    took = time.perf_counter() - start
    print(f"  --strict (every leaf decoded, canonical form checked) on {len(sample):,} entries: {len(sample) / took:,.0f} entries/s")


async def bench_proofs(label: str, url: str | None, tmp: Path, leaves: list[bytes]) -> None:
    engine = await fresh_engine(url, tmp, "proofs")
    leaf_hashes = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    nodes = all_nodes(leaf_hashes)
    root = merkle.root(leaf_hashes)
    note = sign_note(Checkpoint(ORIGIN, len(leaves), root).to_bytes(), [SIGNER]).decode()
    start = time.perf_counter()
    async with engine.begin() as conn:
        if url is None:
            raw = await conn.get_raw_connection()
            cur = await raw.driver_connection.cursor()  # type: ignore[union-attr]
            await cur.executemany("insert into audit_node (id, hash) values (?, ?)", nodes)
            await cur.executemany(
                "insert into audit_entry values (?, ?, ?, ?, ?, ?, ?, ?)",
                [(i, 0, "T", "b", "bidder", "bid.submitted", "{}", leaf) for i, leaf in enumerate(leaves)],
            )
        else:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table("audit_node", records=nodes, columns=["id", "hash"])  # type: ignore[union-attr]
            await raw.copy_records_to_table(  # type: ignore[union-attr]
                "audit_entry",
                records=[(i, 0, "T", "b", "bidder", "bid.submitted", "{}", leaf) for i, leaf in enumerate(leaves)],
                columns=list(store.ENTRY_COLUMNS),
            )
        await store.insert_checkpoint(conn, store.CheckpointRow(len(leaves), root, note, 0))
    if url is not None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("analyze audit_node"))
    built = time.perf_counter() - start
    log = AuditLog(engine, ORIGIN, SIGNER)
    await log.start(readonly=True)
    rng = random.Random(1)
    times = []
    for index in (rng.randrange(len(leaves)) for _ in range(1000)):
        start = time.perf_counter()
        await log.inclusion_proof(index)
        times.append(time.perf_counter() - start)
    times.sort()
    await engine.dispose()
    print(f"{label}: inclusion proof at {len(leaves):,} entries: median {1000 * statistics.median(times):.2f} ms, "
          f"p99 {1000 * times[989]:.2f} ms over 1,000 random indices (goal < 5 ms; tree bulk-loaded in {built:.0f} s, "
          f"bypassing the writer: nodes computed with crypto.merkle)")


async def pg_reachable(url: str) -> str | None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("select 1"))
        return None
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:100]}"
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        await bench_appends("sqlite", None, tmp, 300, 20_000)
        problem = await pg_reachable(args.pg)
        if problem:
            print(f"postgresql: skipped, {args.pg} unreachable ({problem})")
        else:
            try:
                await bench_appends("postgresql", args.pg, tmp, 300, 20_000)
            finally:
                await drop_schemas(args.pg)
        leaves = make_leaves(args.entries)
        bench_verify(leaves, tmp)
        await bench_proofs("sqlite", None, tmp, leaves)
        if not problem:
            try:
                await bench_proofs("postgresql", args.pg, tmp, leaves)
            finally:
                await drop_schemas(args.pg)


if __name__ == "__main__":
    asyncio.run(main())
