"""What the supervisor page (监管回放) shows: which tenders the log holds, and whether what is
displayed verifies against the latest signed checkpoint.

Verification here is done the way an outside verifier would: open the signed note with the
log's verifier key, parse the checkpoint, then check each displayed entry's leaf against its
fields and its inclusion proof against the signed root — never trusting the database's own word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.checkpoint import Checkpoint
from crypto.errors import CryptoError
from crypto.note import Verifier, open_note
from crypto.proof import verify_inclusion
from evaluation.audit import store
from evaluation.audit.entry import Entry, decode_leaf
from evaluation.audit.log import AuditLog
from evaluation.errors import DomainError


@dataclass(frozen=True)
class TenderSummary:
    tender_id: str
    count: int
    last_time: datetime


@dataclass(frozen=True)
class Verification:
    """The outcome shown as a badge: ok, and one line saying what was checked or what failed."""

    ok: bool
    message: str
    checkpoint: Checkpoint | None = None
    shown: int = 0
    """How many displayed entries were checked against the checkpoint."""
    signer: str = ""
    reason: str = ""
    """When not ok, what failed: origin, root, leaf, signature (a bad note or proof), integrity (a
    stored entry that does not match the tree, found while reading) or proof (a receipt's)."""


async def tender_summaries(engine: AsyncEngine, limit: int = 200) -> list[TenderSummary]:
    """Tenders that have entries, most recently active first."""
    t = store.entry_table
    query = (
        sa.select(t.c.tender_id, sa.func.count().label("n"), sa.func.max(t.c.time_us).label("last"))
        .where(t.c.tender_id.is_not(None))
        .group_by(t.c.tender_id)
        .order_by(sa.desc("last"))
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [TenderSummary(r.tender_id, r.n, datetime.fromtimestamp(r.last / 1e6, tz=timezone.utc)) for r in rows]


async def platform_entries(log: AuditLog, limit: int = 50) -> list[Entry]:
    """The most recent entries that belong to no tender (log start, settings…), oldest first."""
    start = max(0, log.size - 2000)
    entries = await log.entries(start, log.size)
    return [e for e in entries if e.tender_id is None][-limit:]


async def verify_view(log: AuditLog, verifier_key: str, entries: Sequence[Entry]) -> Verification:
    """Check the latest checkpoint's signature, that the stored tree gives its root, and that
    every entry in `entries` is in it with a leaf matching its displayed fields."""
    signed = await log.latest_checkpoint()
    try:
        note = open_note(signed.note, [Verifier.from_key_text(verifier_key)])
        checkpoint = Checkpoint.parse(note.text)
        if checkpoint.origin != log.origin:
            return Verification(False, f"checkpoint is for origin {checkpoint.origin!r}, not {log.origin!r}", reason="origin")
        if await log.root_at(checkpoint.size) != checkpoint.root:
            return Verification(False, f"stored tree does not give the signed root at size {checkpoint.size}", reason="root")
        for entry in entries:
            if entry.index >= checkpoint.size:
                continue  # appended after the checkpoint: verified on the next one
            if decode_leaf(entry.leaf) != entry:
                return Verification(False, f"entry {entry.index}: stored fields do not match its leaf", reason="leaf")
            proof = await log.inclusion_proof(entry.index, checkpoint.size)
            verify_inclusion(entry.leaf_hash, entry.index, checkpoint.size, proof, checkpoint.root)
    except (CryptoError, DomainError) as exc:
        return Verification(False, str(exc), reason="signature")
    shown = f"{len(entries)} entries shown are included; " if entries else ""
    return Verification(
        True,
        f"{shown}checkpoint of {checkpoint.size} entries is signed by {note.sigs[0].name} and matches the stored tree",
        checkpoint,
        len(entries),
        note.sigs[0].name,
    )
