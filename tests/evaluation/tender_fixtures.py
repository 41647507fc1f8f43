"""Shared fixtures of the tender tests: a local beacon with a 1-second period, a tender context
on each database, sealed bids, and helpers that read everything stored server-side."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto import tlock
from crypto.beacon import LocalBeacon, LocalBeaconSource
from crypto.chain import ChainInfo
from evaluation.audit.entry import Actor
from evaluation.audit.log import AuditLog
from evaluation.tenders.bid_container import build_container
from evaluation.tenders.bids import UploadMeta
from evaluation.tenders.blobstore import BlobStore
from evaluation.tenders.store import TABLES
from evaluation.tenders.tender import TenderContext

AGENCY = Actor("acc-agency-1", "agency")
OTHER_AGENCY = Actor("acc-agency-2", "agency")
BIDDERS = [Actor(f"acc-bidder-{n}", "bidder") for n in range(6)]


def local_beacon() -> LocalBeacon:
    """Period 1 s, genesis in the past: rounds a second or two ahead come quickly."""
    return LocalBeacon.create(period=1, genesis_time=int(time.time()) - 100)


@pytest.fixture
def beacon() -> LocalBeacon:
    return local_beacon()


@pytest.fixture
async def tctx(engine: AsyncEngine, audit_log: AuditLog, beacon: LocalBeacon, tmp_path: Path) -> AsyncIterator[TenderContext]:
    yield TenderContext(engine, audit_log, BlobStore(tmp_path / "blobs"), beacon.chain)


def spec(opening_in: float = 3.0, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "办公设备采购 Office equipment",
        "method": "open",
        "budget_fen": 150_000_000,
        "opening_time": int(time.time() + opening_in),
        "min_bids": 3,
        "objection_window_s": 60,
    }
    return {**base, **over}


def sealed(chain: ChainInfo, round: int, record: dict[str, Any] | None = None, docs: list[tuple[str, bytes]] | None = None,
           *, plaintext: bytes | None = None, armor: bool = False) -> bytes:
    """A sealed bid container (or `plaintext` as given) for `round` of `chain`."""
    body = plaintext if plaintext is not None else build_container(
        record if record is not None else {"total_price": "1268000.00", "delivery_days": 60},
        docs if docs is not None else [("技术标.txt", "技术方案 secret-marker".encode())],
    )
    out = io.BytesIO()
    tlock.seal(io.BytesIO(body), out, chain, round, armor=armor)
    return out.getvalue()


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def meta(n: int = 0, ip: str = "10.0.0.1", fingerprint: str = "") -> UploadMeta:
    return UploadMeta(ip=ip, user_agent="test-agent/1", fingerprint=fingerprint, bidder_name=f"供应商 {n}")


async def dump_everything(engine: AsyncEngine) -> dict[str, list[Any]]:
    """Every row of the tender tables and the audit log, as plain tuples."""
    from evaluation.audit.store import entry_table

    out: dict[str, list[Any]] = {}
    async with engine.connect() as conn:
        for table in (*TABLES, entry_table):
            out[table.name] = [tuple(r) for r in await conn.execute(sa.select(table))]
    return out


async def source(beacon: LocalBeacon) -> LocalBeaconSource:
    return LocalBeaconSource(beacon)


async def register(engine: AsyncEngine, *actors: Actor) -> None:
    """Account rows for `actors` (an invitation names real bidder accounts)."""
    from evaluation.accounts.tables import account_table

    async with engine.begin() as conn:
        for a in actors:
            await conn.execute(account_table.insert().values(
                id=a.account, username=a.account, display_name=a.account, role=a.role, organization="",
                password_hash="-", created_us=0, password_changed_us=0))
