"""PostgreSQL restarted in the middle of an opening (开标). Never the machine's shared server: a
private one (initdb in a temporary directory, a free loopback port, trust auth) is stopped
(``pg_ctl stop -m fast``: every session cut off) once the opening has started, and started again.

`/readyz` must name the database as failed while it is down and answer 200 once it is back; the
app process must not die; the opening must then complete with the same rows and entries as an
uninterrupted opening of another copy of the same installation (tests/faults/openings.py):
a bid is never recorded as failed (开标失败) because the database was away."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import pytest
import sqlalchemy as sa

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.audit.store import entry_table
from evaluation.db import make_engine
from evaluation.tenders import opening
from evaluation.tenders import tender as tenders
from evaluation.tenders.blobstore import BlobStore
from evaluation.tenders.store import bid_rows, opening_table
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import BIDDERS
from tests.faults.installs import Copier, log_size
from tests.faults.openings import (
    BIDS,
    ENTRIES_PER_TENDER,
    outcome,
    wait_for,
    with_reference,
)
from tests.faults.procs import Launcher, PrivatePostgres, http_get, poll
from web.cli.installation import installation

TIMEOUT = 60.0


@pytest.fixture
async def private_pg(tmp_path: Path) -> AsyncIterator[tuple[PrivatePostgres, Copier]]:
    server = PrivatePostgres()
    try:
        server.start()
        admin = make_engine(server.url, isolation_level="AUTOCOMMIT")
        try:
            yield server, Copier(tmp_path, admin, server.database_url)
        finally:
            await admin.dispose()
    finally:
        server.close()


def _failing(url: str) -> tuple[int, dict[str, object]] | None:
    answer = readiness(url)
    return answer if answer[0] == 503 else None


def readiness(url: str) -> tuple[int, dict[str, object]]:
    status, body = http_get(url + "/readyz", timeout=10)
    return status, (json.loads(body) if body.startswith(b"{") else {})


async def test_postgresql_restarted_during_an_opening(private_pg: tuple[PrivatePostgres, Copier], launcher: Launcher) -> None:
    server, copier = private_pg
    ids, base, reference, victim = await with_reference(copier, "restarted")
    engine = victim.engine()
    app = victim.serve("serve.log", launcher)
    try:
        app.wait_up()
        assert readiness(app.url)[0] == 200
        try:
            await wait_for(lambda: _at_least(engine, base + 1), TIMEOUT, "opening.started")
        finally:
            await engine.dispose()
        stop_us = time.time_ns() // 1000
        server.stop()
        down = poll(lambda: _failing(app.url), TIMEOUT, "/readyz to fail")
        assert down[1]["failed"] == ["database"], down  # type: ignore[index]
        assert down[1]["checks"]["database"]["error"].startswith("数据库无法查询 ")  # type: ignore[index]
        server.start()
        poll(lambda: readiness(app.url)[0] == 200, TIMEOUT, "/readyz to be ready again")
        engine = victim.engine()
        try:
            await wait_for(lambda: _at_least(engine, base + ENTRIES_PER_TENDER), TIMEOUT, "the opening to finish")
        finally:
            await engine.dispose()
        assert app.alive()
    finally:
        app.stop()
    got = await outcome(victim, ids, base)
    assert got == reference, app.log_text()[-4000:]
    engine = victim.engine()
    try:
        async with engine.connect() as conn:
            times = [t for (t,) in await conn.execute(sa.select(entry_table.c.time_us).where(entry_table.c.idx >= base))]
    finally:
        await engine.dispose()
    print(f"entries of the opening written before the database stopped: {sum(t < stop_us for t in times)} of {len(times)}")


class HeldBlobs(BlobStore):
    """The real blob store, except that reading a ciphertext waits until `release` is set (the
    database restarts while the bids are being unsealed, as it may during a long opening), and
    reading those in `later` until `release_later` is set (so the first write after the restart
    is a good bid's result)."""

    def __init__(self, root: Path, later: set[str]) -> None:
        super().__init__(root)
        self.release, self.release_later, self.reading = threading.Event(), threading.Event(), threading.Event()
        self.later = later

    def open(self, sha256: str) -> BinaryIO:
        self.reading.set()
        assert (self.release_later if sha256 in self.later else self.release).wait(TIMEOUT)
        return super().open(sha256)


async def test_bids_being_unsealed_while_the_database_restarts_are_not_failed(
        private_pg: tuple[PrivatePostgres, Copier]) -> None:
    """The pool's connections die with the restart; the first write after it fails on one. That is
    not the bid's fault: it must not be recorded as 开标失败 (`not_recorded`) — the bid stays
    without a result and the scheduler's retry opens it (before, every bid written first after
    the restart was recorded as failed for good, 'cannot be recorded: InterfaceError')."""
    server, copier = private_pg
    ids, base, reference, victim = await with_reference(copier, "restarted")
    settings = victim.settings()
    beacon = LocalBeacon.load(settings.beacon_dir)
    async with installation(settings) as (engine, log):
        async with engine.connect() as conn:
            empty = {b.sha256 for b in await bid_rows(conn, ids[0]) if b.bidder == BIDDERS[BIDS].account}
        blobs = HeldBlobs(victim.data_dir / "blobs", empty)
        ctx = TenderContext(engine, log, blobs, beacon.chain)
        t = await tenders.get(ctx, ids[0])
        assert t.opening_round is not None
        signed = await LocalBeaconSource(beacon).wait_for(t.opening_round)
        await opening.start(ctx, t.id, signed)
        opening_task = asyncio.create_task(opening.open_bids(ctx, t.id, signed))
        assert await asyncio.to_thread(blobs.reading.wait, TIMEOUT)
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        blobs.release.set()
        await asyncio.wait([opening_task], timeout=10)  # the good bids' first writes meet the dead connections
        blobs.release_later.set()
        try:
            await opening_task
        except sa.exc.DBAPIError as exc:  # the database was away: the scheduler runs it again
            assert opening.database_unavailable(exc), exc
        async with engine.connect() as conn:
            failed = [r.code for r in await conn.execute(sa.select(opening_table.c.code).where(opening_table.c.code.is_not(None)))]
        assert failed in ([], ["no_document"]), failed
        assert (await opening.run(ctx, t.id, signed)).state.value == "confirming"
    assert await outcome(victim, ids, base) == reference


async def _at_least(engine: object, size: int) -> bool:
    return await log_size(engine) >= size  # type: ignore[arg-type]
