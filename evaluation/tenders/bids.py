"""Sealed bids (投标): streamed, checked uploads; replace; withdraw; receipts.

The server only ever receives ciphertext. Before a byte is stored, the age header at the start of
the body must name exactly one recipient, a tlock stanza for this tender's round and chain; the
body then streams to a temporary file while being hashed, and becomes a content-addressed blob
only when complete and within the tender's limit. A refused upload leaves no blob, no row and no
audit entry. Ownership: a bid belongs to the bidder account that uploaded it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crypto import age, bls
from crypto.armor import open_maybe_armored
from crypto.errors import CryptoError
from crypto.tlock import STANZA_TYPE
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.log import Receipt
from evaluation.errors import ConflictError, DomainError, InvalidRequest, NotFoundError
from evaluation.tenders.blobstore import StoredBlob, TooLarge
from evaluation.tenders.rules import TenderState, format_time, require_state
from evaluation.tenders.store import bid_of, bid_table, blob_referenced, upload_table
from evaluation.tenders.tender import NotPermitted, Tender, TenderContext, get, load_for_update, new_id

log = logging.getLogger(__name__)

HEADER_PREFIX = 96 * 1024
"""Bytes read before the header check: age caps a header at 64 KiB, armor adds a third."""


@dataclass(frozen=True)
class UploadMeta:
    """Where an upload came from (kept for collusion leads) and the bidder's display name."""

    ip: str
    user_agent: str
    fingerprint: str
    bidder_name: str


@dataclass(frozen=True)
class BidReceipt:
    """What a bidder gets back for a submit, replace or withdraw."""

    bid: dict[str, Any]
    receipt: Receipt

    def to_json(self) -> dict[str, Any]:
        return {"bid": self.bid, "receipt": self.receipt.to_json()}


def check_header(prefix: bytes, complete: bool, round: int, chain_hash: str, scheme_id: str) -> None:
    """Check the start of an upload is a sealed bid for (`round`, `chain_hash`). Pure.

    `complete` says whether `prefix` is the whole body. Raises InvalidRequest with the reason.
    """
    try:
        reader, _ = open_maybe_armored(io.BytesIO(prefix))
        header = age.read_header(reader)
    except CryptoError as exc:
        if not complete and "truncated" in str(exc):
            raise InvalidRequest("这不是有效的密封投标文件：前 {n} 字节内没有完整的文件头", n=len(prefix)) from None
        raise InvalidRequest("这不是有效的密封投标文件：{problem}", problem=str(exc)) from None
    if len(header.stanzas) != 1:
        raise InvalidRequest("这不是有效的密封投标文件（应恰好有一个接收方，此文件有 {n} 个）", n=len(header.stanzas))
    stanza = header.stanzas[0]
    if stanza.type != STANZA_TYPE:
        raise InvalidRequest("这不是按开标时间密封的投标文件")
    if len(stanza.args) != 2 or not (stanza.args[0].isascii() and stanza.args[0].isdigit()):
        raise InvalidRequest("投标文件的密封信息不完整")
    sealed_round, sealed_chain = int(stanza.args[0]), stanza.args[1]
    if sealed_chain != chain_hash:
        raise InvalidRequest("投标文件密封所用的时间信标与本项目不同，请重新密封")
    if sealed_round != round:
        raise InvalidRequest("投标文件密封的开标时间与本项目不同，请重新密封（密封轮次 {sealed}，本项目开标轮次 {round}）",
                             sealed=sealed_round, round=round)
    expected = bls.scheme_for(scheme_id).key_len + 2 * age.FILE_KEY_SIZE
    if len(stanza.body) != expected:
        raise InvalidRequest("投标文件的密封信息已损坏")


def may_bid(tender: Tender, actor: Actor, now: float) -> bool:
    """Whether `actor` may submit or replace a bid on `tender` at `now` (the rule the upload applies)."""
    try:
        _check_open_for_bids(tender, actor, now)
    except DomainError:
        return False
    return True


def _check_open_for_bids(tender: Tender, actor: Actor, now: float) -> None:
    if actor.role != "bidder":
        raise NotPermitted("只有投标人账号可以投标")
    if tender.state is TenderState.DRAFT:
        raise NotFoundError("找不到该项目")
    if tender.spec.invited and actor.account not in tender.spec.invited:
        raise NotPermitted("「{title}」为邀请采购，你未受邀", title=tender.spec.title)
    if now >= tender.spec.opening_time:
        raise ConflictError("投标截止时间 {time} 已过", time=format_time(tender.spec.opening_time))
    require_state(tender.id, tender.state, TenderState.PUBLISHED, doing="accept bids")


def bid_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "tender_id": row.tender_id,
        "bidder": row.bidder,
        "bidder_name": row.bidder_name,
        "status": row.status,
        "sha256": row.sha256,
        "size": row.size,
        "round": row.round,
        "submitted_us": row.submitted_us,
        "updated_us": row.updated_us,
        "needs_reseal": row.status == "void",
    }


async def _receive(
    ctx: TenderContext, tender: Tender, body: AsyncIterator[bytes], content_length: int | None
) -> StoredBlob:
    limit = tender.spec.max_bid_bytes
    if content_length is not None and content_length > limit:
        raise TooLarge("投标文件超过本项目的大小上限（{limit} 字节）", limit=limit)
    prefix = bytearray()
    iterator = body.__aiter__()
    complete = False
    while len(prefix) < HEADER_PREFIX:
        try:
            prefix += await iterator.__anext__()
        except StopAsyncIteration:
            complete = True
            break
        if len(prefix) > limit:
            raise TooLarge("投标文件超过本项目的大小上限（{limit} 字节）", limit=limit)
    assert tender.opening_round is not None and tender.chain_hash is not None
    check_header(bytes(prefix), complete, tender.opening_round, tender.chain_hash, ctx.chain.scheme_id)
    writer = ctx.blobs.writer(limit)
    try:
        writer.write(bytes(prefix))
        del prefix
        if not complete:
            async for chunk in iterator:
                writer.write(chunk)
        return await writer.commit()
    finally:
        writer.abort()


async def submit(
    ctx: TenderContext,
    actor: Actor,
    tender_id: str,
    body: AsyncIterator[bytes],
    meta: UploadMeta,
    content_length: int | None = None,
) -> BidReceipt:
    """Submit or replace the actor's sealed bid, streamed from `body`.

    Refuses (nothing stored, nothing logged): not a bidder or not invited (403), deadline passed
    (409), over the size limit (413), a header that is not one tlock stanza for this tender (400).
    """
    tender = await get(ctx, tender_id)
    _check_open_for_bids(tender, actor, ctx.clock())
    async with ctx.engine.connect() as conn:
        existing = await bid_of(conn, tender_id, actor.account)
    blob = await _receive(ctx, tender, body, content_length)
    replacing = existing is not None and existing.status == "submitted"
    bid_id = existing.id if existing is not None else new_id("B")
    now = ctx.now_us()
    payload: dict[str, Any] = {"bid_id": bid_id, "sha256": blob.sha256, "size": blob.size, "round": tender.opening_round}
    if replacing and existing is not None:
        payload["previous_sha256"] = existing.sha256

    async def apply(conn: AsyncConnection) -> None:
        current = await load_for_update(conn, tender_id)
        _check_open_for_bids(current, actor, ctx.clock())
        if current.opening_round != tender.opening_round:
            raise ConflictError("上传期间项目已延期，请按新的开标时间重新密封")
        row = await bid_of(conn, tender_id, actor.account)
        if (row is None) != (existing is None) or (row is not None and (row.status == "submitted") != replacing):
            raise ConflictError("上传期间你的投标已有变动，请刷新后重试")
        values = dict(
            bidder_name=meta.bidder_name, status="submitted", sha256=blob.sha256, size=blob.size,
            round=tender.opening_round, updated_us=now,
        )
        if row is None:
            await conn.execute(bid_table.insert().values(id=bid_id, tender_id=tender_id, bidder=actor.account, submitted_us=now, **values))
        else:
            await conn.execute(sa.update(bid_table).where(bid_table.c.id == bid_id).values(**values))
        await conn.execute(
            upload_table.insert().values(
                bid_id=bid_id, tender_id=tender_id, bidder=actor.account, sha256=blob.sha256, size=blob.size,
                round=tender.opening_round, uploaded_us=now, ip=meta.ip[:64], user_agent=meta.user_agent[:512],
                fingerprint=meta.fingerprint[:256],
            )
        )

    kind = "bid.replaced" if replacing else "bid.submitted"
    try:
        entry = await ctx.audit.append(EntryDraft(kind, payload, tender_id, actor), apply=apply)
    except BaseException:
        if blob.created:
            async with ctx.engine.connect() as conn:
                if not await blob_referenced(conn, blob.sha256):
                    ctx.blobs.delete(blob.sha256)
        raise
    log.info("bid stored", extra={"tender": tender_id, "bid": bid_id, "kind": kind, "size": blob.size})
    return await _receipt(ctx, tender_id, actor, entry.index)


async def _receipt(ctx: TenderContext, tender_id: str, actor: Actor, index: int) -> BidReceipt:
    async with ctx.engine.connect() as conn:
        row = await bid_of(conn, tender_id, actor.account)
    assert row is not None
    return BidReceipt(bid_json(row), await ctx.audit.receipt(index))


async def withdraw(ctx: TenderContext, actor: Actor, tender_id: str) -> BidReceipt:
    """Withdraw the actor's bid before the deadline (the ciphertext stays; it will not be opened)."""
    tender = await get(ctx, tender_id)
    _check_open_for_bids(tender, actor, ctx.clock())
    async with ctx.engine.connect() as conn:
        row = await bid_of(conn, tender_id, actor.account)
    if row is None or row.status != "submitted":
        raise NotFoundError("你在该项目中没有已提交的投标")

    async def apply(conn: AsyncConnection) -> None:
        current = await load_for_update(conn, tender_id)
        _check_open_for_bids(current, actor, ctx.clock())
        result = await conn.execute(
            sa.update(bid_table).where(bid_table.c.id == row.id, bid_table.c.status == "submitted")
            .values(status="withdrawn", updated_us=ctx.now_us())
        )
        if result.rowcount != 1:
            raise ConflictError("你的投标已有变动，请刷新")

    entry = await ctx.audit.append(EntryDraft("bid.withdrawn", {"bid_id": row.id}, tender_id, actor), apply=apply)
    return await _receipt(ctx, tender_id, actor, entry.index)


async def my_bid(ctx: TenderContext, actor: Actor, tender_id: str) -> BidReceipt:
    """The actor's bid and a fresh receipt for its latest entry. NotFoundError if it never bid."""
    async with ctx.engine.connect() as conn:
        row = await bid_of(conn, tender_id, actor.account)
    if row is None:
        raise NotFoundError("你在该项目中没有投标")
    kinds = ["bid.submitted", "bid.replaced", "bid.withdrawn", "bid.voided"]
    entries = [e for e in await ctx.audit.entries_for_tender(tender_id, kinds=kinds) if e.payload.get("bid_id") == row.id]
    return BidReceipt(bid_json(row), await ctx.audit.receipt(entries[-1].index))

