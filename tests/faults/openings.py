"""The opening the fault tests interrupt: a template installation with one published tender and
its sealed bids, the uninterrupted opening of a copy (the reference), and what is compared."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import sqlalchemy as sa

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.audit.entry import canonical_json
from evaluation.tenders import bids, opening
from evaluation.tenders import tender as tenders
from evaluation.tenders.blobstore import BlobStore
from evaluation.tenders.store import opening_table, tender_table
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import AGENCY, BIDDERS, chunks, meta, sealed, spec
from tests.faults.installs import Install, entries_after
from web.cli.installation import installation

BIDS = 3  # per tender, plus one without a document
ENTRIES_PER_TENDER = 1 + BIDS + 1 + 2  # opening.started, bid.opened ×3, bid.open_failed, bids.unsealed, opening.record
OPENING_IN = 1.0  # seconds from building the template to the tender's opening time


async def build_template(install: Install) -> tuple[list[str], int]:
    """A published tender with its bids, opening OPENING_IN seconds from now. Returns its id (in a
    list) and the log's size."""
    beacon = install.new_beacon()
    ids = []
    async with installation(install.settings()) as (engine, log):
        start = time.time()  # the template is made "at once", however long sealing takes on a busy machine
        ctx = TenderContext(engine, log, BlobStore(install.data_dir / "blobs"), beacon.chain, clock=lambda: start)
        for run in range(1):
            t = await tenders.create(ctx, AGENCY, "采购中心", spec(OPENING_IN, title="开标故障 kill -9", min_bids=3))
            t = await tenders.publish(ctx, AGENCY, t.id)
            assert t.opening_round is not None
            for i in range(BIDS + 1):
                docs = [(f"技术标{i}.txt", f"方案 {i} ".encode() * (20000 * (i + 1)))] if i < BIDS else [("空.txt", b"")]
                data = sealed(beacon.chain, t.opening_round, {"total_price": f"{100000 + 1000 * i + run}.00",
                                                               "delivery_days": 30 + i}, docs)
                await bids.submit(ctx, BIDDERS[i], t.id, chunks(data), meta(i))
            ids.append(t.id)
        size = log.size
    return ids, size


async def open_uninterrupted(install: Install, ids: list[str]) -> None:
    """The reference: the same openings on another copy, in this process, never interrupted."""
    settings = install.settings()
    beacon = LocalBeacon.load(settings.beacon_dir)
    async with installation(settings) as (engine, log):
        ctx = TenderContext(engine, log, BlobStore(install.data_dir / "blobs"), beacon.chain)
        source = LocalBeaconSource(beacon)
        for tender_id in ids:
            t = await tenders.get(ctx, tender_id)
            assert t.opening_round is not None
            done = await opening.run(ctx, tender_id, await source.wait_for(t.opening_round))
            assert done.state.value == "confirming"


async def with_reference(copier: Any, victim: str) -> tuple[list[str], int, dict[str, Any], Install]:
    """A template tender (build_template), its uninterrupted outcome from one copy, and another
    copy named `victim` for the test to interrupt: (bid ids, entries before, reference, victim)."""
    template = await copier.new("template")
    ids, base = await build_template(template)
    reference_install = await copier.copy(template, "reference")
    await open_uninterrupted(reference_install, ids)
    reference = await outcome(reference_install, ids, base)
    return ids, base, reference, await copier.copy(template, victim)


def normal(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """An entry without what differs between two correct openings: the 唱标 order (`seq`, checked
    apart) and the end of the objection window (a time)."""
    p = json.loads(json.dumps(payload))
    if kind == "opening.record":
        assert sorted(r.pop("seq") for r in p["rows"]) == list(range(1, len(p["rows"]) + 1))
        p["rows"].sort(key=lambda r: r["bid_id"])
        p["confirm_until"] = p["confirm_until"] is not None
    if kind == "bids.unsealed":
        p["bid_ids"].sort()
        p["failed_ids"].sort()
    return kind, canonical_json(p).decode()


async def outcome(install: Install, ids: list[str], base: int) -> dict[str, Any]:
    """Per tender: its state, its bid_opening rows and its entries since the template (normalized:
    opening.started first, the bids' entries as a multiset, then the record's entries in order)."""
    engine = install.engine()
    try:
        entries = await entries_after(engine, base, set(ids))
        async with engine.connect() as conn:
            states = dict((await conn.execute(sa.select(tender_table.c.id, tender_table.c.state)
                                              .where(tender_table.c.id.in_(ids)))).all())
            rows = (await conn.execute(sa.select(opening_table).where(opening_table.c.tender_id.in_(ids)))).all()
    finally:
        await engine.dispose()
    out: dict[str, Any] = {}
    for tender_id in ids:
        mine = [normal(kind, payload) for kind, t, payload in entries if t == tender_id]
        kinds = [k for k, _ in mine]
        bid_entries = [e for e in mine if e[0] in ("bid.opened", "bid.open_failed")]
        others = [e for e in mine if e not in bid_entries]
        mine_rows = [r for r in rows if r.tender_id == tender_id]
        assert sorted(r.seq for r in mine_rows) == list(range(1, len(mine_rows) + 1)), tender_id
        out[tender_id] = {
            "state": states[tender_id],
            "kinds_in_order": [k for k in kinds if k not in ("bid.opened", "bid.open_failed")],
            "first": kinds[:1],
            "bids": sorted(bid_entries),
            "others": others,
            "rows": sorted((r.bid_id, r.status, r.fields, r.documents, r.reason, r.code, r.lots) for r in mine_rows),
            "bid_entries_before_record": kinds.index("opening.record") > max(
                (i for i, k in enumerate(kinds) if k in ("bid.opened", "bid.open_failed")), default=-1)
            if "opening.record" in kinds else None,
        }
    return out


async def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.003)


