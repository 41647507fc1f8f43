"""Benchmark the audit log: durable appends, bundle verification, and its growth from 10^4 to 10^7 entries.

Run from the repository root:
    python bench/bench_audit.py [--entries 1000000] [--sizes 10000,100000,1000000] [--with-10m]
        [--rss-sizes 100000,1000000,10000000] [--pg URL] [--with-10m [sqlite]] [--only growth]

Each figure is printed next to its limit measured in the same run: appends next to a bare INSERT
of the same rows (the driver's executemany, as the writer uses it, in one transaction, rows
prepared beforehand); verification next to hashlib's SHA-256 over the same leaves and nodes (CPU
time of this process, best of 3, alternately, to damp the noise of a shared machine), and its peak
memory on bundles of --rss-sizes entries (written to disk as made, verified in a new process); proofs and
start-up next to one node lookup (one round trip to the database). The growth table grows one log
through the writer to each size and shows appends, inclusion- and consistency-proof latency, the
start-up check (nothing new, and after the appends) and the full check (`pingbiao audit check`);
on SQLite, export and verify of a bundle of that size run in a new process each, with their peak
memory. 10^7 entries take long: add them with --with-10m (--with-10m sqlite: on SQLite alone; --only
growth skips the other parts). PostgreSQL parts are skipped, with the
reason, when the server cannot be reached. tests/evaluation/test_audit_bench.py runs a short form.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from crypto import merkle  # noqa: E402
from crypto.checkpoint import Checkpoint  # noqa: E402
from crypto.note import Signer, generate_key, sign_note  # noqa: E402
from evaluation.audit import store  # noqa: E402
from evaluation.audit.bundle import bundle_line, export_bundle, verify_bundle  # noqa: E402
from evaluation.audit.entry import Actor, EntryDraft, decode_leaf, encode_leaf  # noqa: E402
from evaluation.audit.log import AuditLog, _row  # noqa: E402
from evaluation.db import create_schema, make_engine  # noqa: E402

ORIGIN = "bench.pingbiao.local/audit"
KEY_VARIABLE = "PINGBIAO_BENCH_LOG_KEY"
"""The log key of this run, handed to the child processes (export, verify) through the environment."""
os.environ.setdefault(KEY_VARIABLE, generate_key(ORIGIN)[0])
SIGNER = Signer.from_key_text(os.environ[KEY_VARIABLE])
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

    limit = took = b64 = float("inf")
    for _ in range(3):  # alternate, keep the best of each; CPU time of this process, as the machine is shared
        start = time.process_time()
        merkle.root_from_data(leaves)
        limit = min(limit, time.process_time() - start)
        start = time.process_time()
        report = verify_bundle(directory)
        took = min(took, time.process_time() - start)
        assert report.root == root
        start = time.process_time()
        for leaf in leaves:
            binascii.b2a_base64(leaf, newline=False)
        b64 = min(b64, time.process_time() - start)
    hashes = 2 * len(leaves) - 1
    n = len(leaves)
    print(f"verify {n:,}-entry bundle ({size_mb:.0f} MB): {took:.2f} s, {n / took:,.0f} entries/s, "
          f"{hashes / took:,.0f} leaf+node hashes/s")
    print(f"  hashlib SHA-256 on the same leaves and nodes, in memory (limit): {limit:.2f} s, {hashes / limit:,.0f} hashes/s; "
          f"verification runs at {100 * limit / took:.0f}% of it")
    print(f"  (of which no verifier can skip: binascii base64 of the same leaves, as each line's base64 is checked: "
          f"{b64:.2f} s, alone {100 * b64 / limit:.0f}% of the limit; CPU seconds, best of 3)")
    sample = leaves[: n // 10]
    (directory / "entries.jsonl").write_bytes(b"".join(map(bundle_line, sample)))
    (directory / "checkpoint").write_bytes(sign_note(Checkpoint(ORIGIN, len(sample), merkle.root_from_data(sample)).to_bytes(), [SIGNER]))
    start = time.perf_counter()
    verify_bundle(directory, strict=True)
    took = time.perf_counter() - start
    print(f"  --strict (every leaf decoded, canonical form checked) on {len(sample):,} entries: {len(sample) / took:,.0f} entries/s")


def write_bundle(directory: Path, count: int) -> float:
    """A bundle of `count` entries (the leaves of ``make_leaves``), written to disk as they are
    made, never all held: the root comes from a compact range kept as they go. Returns its MB."""
    directory.mkdir()
    actor = Actor("bidder-1", "bidder")
    stack: list[bytes] = []
    sha256 = hashlib.sha256
    with open(directory / "entries.jsonl", "wb") as out:
        for start in range(0, count, 10_000):
            leaves = [
                encode_leaf(n, T0, f"T-{n % 50}", actor, "bid.submitted", {"bid_id": f"bid-{n}", "sha256": f"{n:064x}", "size": n})
                for n in range(start, min(start + 10_000, count))
            ]
            out.write(b"".join(map(bundle_line, leaves)))
            for n, leaf in enumerate(leaves, start):
                h, m = sha256(b"\x00" + leaf).digest(), n + 1
                while not m & 1:
                    h, m = sha256(b"\x01" + stack.pop() + h).digest(), m >> 1
                stack.append(h)
    note = sign_note(Checkpoint(ORIGIN, count, merkle.fold_range(stack)).to_bytes(), [SIGNER])
    (directory / "checkpoint").write_bytes(note)
    (directory / "log.vkey").write_text(SIGNER.verifier().to_key_text() + "\n")
    return (directory / "entries.jsonl").stat().st_size / 1e6


def bench_verify_memory(sizes: list[int], tmp: Path) -> None:
    """Peak memory of `audit verify` of bundles of each size, each in a new process (VmHWM)."""
    print("verify memory (each bundle written to disk, then verified in a new process; peak = its peak resident set, VmHWM):")
    for count in sizes:
        directory = tmp / f"verify-{count}"
        size_mb = write_bundle(directory, count)
        verified = child("verify", str(directory))
        shutil.rmtree(directory)
        print(f"  {count:,} entries ({size_mb:,.0f} MB): verify {verified['seconds']:.1f} s "
              f"({count / verified['seconds']:,.0f} entries/s), peak {verified['peak_mb']:.0f} MB")


async def timed(coro: Any) -> float:
    start = time.perf_counter()
    await coro
    return time.perf_counter() - start


async def start_stop(engine: AsyncEngine) -> float:
    """Seconds of one start-up (the check included), and the log stopped again."""
    log = AuditLog(engine, ORIGIN, SIGNER)
    took = await timed(log.start())
    await log.stop()
    return took


def ms(times: list[float]) -> str:
    times = sorted(times)
    return f"{1000 * statistics.median(times):.2f}/{1000 * times[int(len(times) * 0.99)]:.2f}"


async def growth_row(engine: AsyncEngine, size: int, rng: random.Random, appends: int) -> list[str]:
    """The figures at `size` entries (the log holds exactly that many when called)."""
    async with engine.begin() as conn:  # forget earlier checks: this start-up checks everything
        await conn.execute(store.check_table.delete())
    full = await start_stop(engine)
    nothing_new = min([await start_stop(engine) for _ in range(3)])
    log = AuditLog(engine, ORIGIN, SIGNER)
    await log.start()
    per = max(1, appends // 200)

    async def appender(k: int) -> None:
        for i in range(per):
            await log.append(draft(size + k * per + i))

    rate = 200 * per / await timed(asyncio.gather(*(appender(k) for k in range(200))))
    await log.stop()
    after = await start_stop(engine)
    log = AuditLog(engine, ORIGIN, SIGNER)
    await log.start(readonly=True)
    n = log.size
    inclusion = [await timed(log.inclusion_proof(rng.randrange(n))) for _ in range(300)]
    consistency = [await timed(log.consistency_proof(rng.randrange(1, n), n)) for _ in range(300)]
    lookups = []
    for _ in range(300):
        node = merkle.NodeID(0, rng.randrange(n))
        async with engine.connect() as conn:
            start = time.perf_counter()
            await store.node_hashes(conn, [node])
            lookups.append(time.perf_counter() - start)
    return [f"{size:,}", f"{rate:,.0f}", ms(inclusion), ms(consistency), ms(lookups),
            f"{1000 * nothing_new:.1f}", f"{1000 * after:.1f}", f"{full:.2f}"]


GROWTH_HEADER = ["entries", "appends/s (limit: bare INSERT, above)", "inclusion ms med/p99", "consistency ms med/p99",
                 "limit: 1 lookup ms", "start-up ms, none new", "start-up ms, {appends} new", "full check s"]


async def bench_growth(label: str, url: str | None, tmp: Path, sizes: list[int], appends: int) -> None:
    """Grow one log through the writer to each size and measure there (docs/audit-log.md)."""
    engine = await fresh_engine(url, tmp, "growth")
    rng = random.Random(7)
    rows, bulk, streams = [], [], []
    for size in sizes:
        log = AuditLog(engine, ORIGIN, SIGNER)
        await log.start()
        have = log.size
        start = time.perf_counter()
        for at in range(have, size, 10_000):
            await log.append_many([draft(n) for n in range(at, min(at + 10_000, size))])
        if size > have:
            bulk.append(f"{(size - have) / (time.perf_counter() - start):,.0f}/s to {size:,}")
        await log.stop()
        rows.append(await growth_row(engine, size, rng, appends))  # (which appends `appends` more)
        if url is None:
            streams.append(stream_row(tmp, size))
    await engine.dispose()
    header = [h.format(appends=f"{appends:,}") for h in GROWTH_HEADER]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"{label}: audit log growth (appends: {appends:,} single entries from 200 concurrent appenders; "
          f"proofs: 300 random each; start-up: best of 3, the check included; full check = `audit check`)")
    print("  " + " | ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  " + " | ".join(c.rjust(w) for c, w in zip(r, widths)))
    print(f"  (grown by append_many of 10,000 drafts: {'; '.join(bulk)})")
    if streams:
        print(f"{label}: export and verify stream (each in a new process; peak memory = its peak resident set, VmHWM)")
        for row in streams:
            print("  " + row)


def child(*args: str) -> dict[str, Any]:
    """Run this file with `args` in a new process; its last output line is JSON."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"bench child {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def stream_row(tmp: Path, size: int) -> str:
    out = tmp / f"bundle-{size}"
    exported = child("export", str(tmp / "growth.db"), str(out))
    verified = child("verify", str(out))
    shutil.rmtree(out)
    n = exported["size"]
    return (f"{n:,} entries: export {exported['seconds']:.2f} s, peak {exported['peak_mb']:.0f} MB; "
            f"verify {verified['seconds']:.2f} s ({n / verified['seconds']:,.0f} entries/s), peak {verified['peak_mb']:.0f} MB")


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike getrusage's maxrss, which
    keeps the parent's peak across the exec of a child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_child(args: list[str]) -> None:
    """``--child export DB OUT`` / ``--child verify DIR``: one streaming run, reported as JSON."""
    start = time.perf_counter()
    if args[0] == "export":
        engine = make_engine(f"sqlite+aiosqlite:///{args[1]}")
        log = AuditLog(engine, ORIGIN, SIGNER)
        await log.start(readonly=True)
        start = time.perf_counter()
        report = await export_bundle(log, Path(args[2]), SIGNER.verifier().to_key_text())
        await engine.dispose()
        size = report.size
    else:
        size = verify_bundle(Path(args[1])).size
    took = time.perf_counter() - start
    peak = peak_mb()
    print(json.dumps({"seconds": took, "peak_mb": peak, "size": size}))


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


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="bundle size for the verification rate")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="log sizes of the growth table")
    parser.add_argument("--with-10m", nargs="?", const="all", choices=["all", "sqlite", "postgresql"],
                        help="add 10,000,000 to the growth table (long): of every database, or of one alone")
    parser.add_argument("--only", choices=["growth"], help="run only the growth table (e.g. with --with-10m)")
    parser.add_argument("--rss-sizes", default="100000,1000000",
                        help="bundle sizes whose verification's peak memory is measured (10000000 for the 10 M figure)")
    parser.add_argument("--appends", type=int, default=2000, help="single appends measured at each size")
    parser.add_argument("--bare", type=int, default=20_000, help="rows of the bare-INSERT limit")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        await run_child(args.child)
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        problem = "--no-pg" if args.no_pg else await pg_reachable(args.pg)
        databases = [("sqlite", None)] + ([] if problem else [("postgresql", args.pg)])
        if problem:
            print(f"postgresql: skipped ({problem})" if args.no_pg else f"postgresql: skipped, {args.pg} unreachable ({problem})")
        try:
            if args.only is None:
                for label, url in databases:
                    await bench_appends(label, url, tmp, min(300, args.bare), args.bare)
                bench_verify(make_leaves(args.entries), tmp)
                bench_verify_memory([int(x) for x in args.rss_sizes.split(",")], tmp)
            for label, url in databases:
                big = [10_000_000] if args.with_10m in ("all", label) else []
                await bench_growth(label, url, tmp, sizes + big, args.appends)
        finally:
            if not problem:
                await drop_schemas(args.pg)


if __name__ == "__main__":
    asyncio.run(main())
