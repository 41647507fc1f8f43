"""Bid documents for the people who judge them (评审查阅投标文件): after the opening, the
committee, the tender's agency and supervisors read each opened bid's documents; every opening
of a document is one audit entry (``bid.document_opened``), so who read what, and when, is on
the record.

Who may read: supervisors; the tender's agency; a member of the evaluation session or, before the
session starts, a seated member of the drawn committee (evaluation/session/access.py). Bidders
never read each other's documents here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.errors import NotFoundError
from evaluation.session.access import booth_standing
from evaluation.tenders.opening_record import AFTER_OPENING
from evaluation.tenders.store import bid_table, opening_table
from evaluation.tenders.tender import NotPermitted, TenderContext, get

register_kind(
    "bid.document_opened",
    "Someone with the right to read a tender's opened bids opened one of its documents (查阅投标文件). "
    "Payload: bid_id, sha256, name (str). The actor is the reader. No reducer: reading changes no state.",
)


@dataclass(frozen=True)
class Document:
    """One document of an opened bid, ready to be sent."""

    bid_id: str
    name: str
    sha256: str
    size: int
    path: Path


async def _check_reader(ctx: TenderContext, actor: Actor, tender_id: str) -> None:
    tender = await get(ctx, tender_id)
    if tender.state not in AFTER_OPENING:
        raise NotPermitted("《{title}》尚未开标", title=tender.spec.title)
    if actor.role == "supervisor":
        return
    if await booth_standing(ctx.engine, tender_id, actor.account) is None:
        raise NotPermitted("您不参加《{title}》的评标", title=tender.spec.title)


async def _opened(ctx: TenderContext, tender_id: str, bid_id: str | None = None) -> list[Any]:
    """The opening rows of `tender_id` (or of its one bid `bid_id`) with the bidders' names."""
    o, b = opening_table.c, bid_table.c
    query = (
        sa.select(o.bid_id, o.status, o.fields, o.documents, o.reason, o.lots, b.bidder_name)
        .select_from(opening_table.join(bid_table, b.id == o.bid_id))
        .where(o.tender_id == tender_id, *([o.bid_id == bid_id] if bid_id is not None else []))
        .order_by(o.seq, o.bid_id)
    )
    async with ctx.engine.connect() as conn:
        return list(await conn.execute(query))


async def bid_documents(ctx: TenderContext, actor: Actor, tender_id: str) -> list[dict[str, Any]]:
    """Each opened bid of `tender_id`: bidder, its opening-record values and its documents (name,
    sha256, size) and the lots it takes part in (分包, empty without lots), in the order of the
    record. Failed bids are listed with their reason."""
    await _check_reader(ctx, actor, tender_id)
    rows = await _opened(ctx, tender_id)
    return [
        {"bid": r.bid_id, "bidder_name": r.bidder_name, "status": r.status, "reason": r.reason,
         "fields": json.loads(r.fields), "documents": [{k: d[k] for k in ("name", "sha256", "size")} for d in json.loads(r.documents)],
         "lots": [x["lot"] for x in json.loads(r.lots)] if r.lots else []}
        for r in rows
    ]


async def open_document(ctx: TenderContext, actor: Actor, tender_id: str, bid_id: str, sha256: str) -> Document:
    """The document `sha256` of bid `bid_id`, after its opening is logged. NotFoundError when the
    bid holds no such document; NotPermitted for a reader without the right."""
    await _check_reader(ctx, actor, tender_id)
    row = next(iter(await _opened(ctx, tender_id, bid_id)), None)
    found = next((d for d in json.loads(row.documents) if d["sha256"] == sha256), None) if row is not None else None
    if found is None or not ctx.blobs.exists(sha256):
        raise NotFoundError("该投标没有这份文件")
    payload = {"bid_id": bid_id, "sha256": sha256, "name": found["name"]}
    await ctx.audit.append(EntryDraft("bid.document_opened", payload, tender_id, actor))
    return Document(bid_id, found["name"], sha256, int(found["size"]), ctx.blobs.path(sha256))
