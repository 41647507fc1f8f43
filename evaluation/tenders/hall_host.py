"""The host's part in the opening hall: 唱标 (reading the opened bids out, one by one) and
公告 (short announcements to everyone in the hall).

Only the agency that owns the tender hosts. Each act is one audit entry (``hall.read_out``,
``hall.announcement``) and one hall event; what the hall shows of them is folded from the log.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from evaluation.audit.entry import Actor, Entry, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.errors import InvalidRequest, NotFoundError, Text
from evaluation.tenders.opening import record_rows
from evaluation.tenders.rules import TenderState, require_state
from evaluation.tenders.tender import NotPermitted, TenderContext, get

MAX_ANNOUNCEMENT = 500
READ_OUT_STATES = (TenderState.OPENED, TenderState.FAILED, TenderState.CONFIRMING, TenderState.CONFIRMED)
ANNOUNCE_STATES = (TenderState.PUBLISHED, TenderState.OPENING, *READ_OUT_STATES)
HOST_KINDS = ("hall.read_out", "hall.announcement")

register_kind("hall.read_out", "The host read one bid of the opening record out (唱标). Payload: bid_id, seq "
              "(the bid's line in the record), bidder_name.")
register_kind("hall.announcement", "The host posted an announcement (公告) in the opening hall. Payload: text.")


def _us(entry: Entry) -> int:
    t = entry.time
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def announcement_text(value: Any) -> str:
    """An announcement as posted (pure): text of 1..MAX_ANNOUNCEMENT characters after trimming,
    no control characters but line breaks, no lone surrogates."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("公告内容不能为空")
    text = value.strip()
    if len(text) > MAX_ANNOUNCEMENT:
        raise InvalidRequest("公告最多 {n} 字", n=MAX_ANNOUNCEMENT)
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch != "\n" for ch in text):
        raise InvalidRequest("公告含有控制字符")
    return text


def host_events(entries: list[Entry]) -> dict[str, list[dict[str, Any]]]:
    """The read-outs and announcements in log order (pure), from the tender's HOST_KINDS entries."""
    read_out: list[dict[str, Any]] = []
    announcements: list[dict[str, Any]] = []
    for e in entries:
        if e.kind == "hall.read_out":
            read_out.append({"bid_id": e.payload.get("bid_id"), "seq": e.payload.get("seq"), "at_us": _us(e)})
        elif e.kind == "hall.announcement":
            announcements.append({"text": e.payload.get("text"), "at_us": _us(e), "index": e.index})
    return {"read_out": read_out, "announcements": announcements}


async def logged_host_events(ctx: TenderContext, tender_id: str) -> dict[str, list[dict[str, Any]]]:
    return host_events(await ctx.audit.entries_for_tender(tender_id, kinds=HOST_KINDS))


async def read_out(ctx: TenderContext, actor: Actor, tender_id: str, bid_id: Any = None) -> dict[str, Any]:
    """唱标: read bid `bid_id` of the record out, or (None) the first line not read out yet."""
    tender = await get(ctx, tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("只有本项目的采购人（主持人）可以唱标")
    require_state(tender_id, tender.state, *READ_OUT_STATES, doing="read the bids out", doing_zh=Text("唱标（开标记录公布后才能唱标）"))
    if bid_id is not None and not isinstance(bid_id, str):
        raise InvalidRequest("请指明要唱标的投标")
    async with ctx.engine.connect() as conn:
        rows = sorted(await record_rows(conn, tender_id), key=lambda r: r.seq)
    if not rows:
        raise NotFoundError("开标记录中没有投标")
    if bid_id is None:
        done = {r["bid_id"] for r in (await logged_host_events(ctx, tender_id))["read_out"]}
        left = [r for r in rows if r.bid_id not in done]
        if not left:
            raise InvalidRequest("所有投标均已唱标")
        row = left[0]
    else:
        found = [r for r in rows if r.bid_id == bid_id]
        if not found:
            raise NotFoundError("开标记录中没有该投标")
        row = found[0]
    entry = await ctx.audit.append(EntryDraft(
        "hall.read_out", {"bid_id": row.bid_id, "seq": row.seq, "bidder_name": row.bidder_name}, tender_id, actor))
    event = {"bid_id": row.bid_id, "seq": row.seq, "bidder_name": row.bidder_name, "at_us": _us(entry)}
    ctx.notify(tender_id, {"type": "read_out", **event})
    return event


async def announce(ctx: TenderContext, actor: Actor, tender_id: str, text: Any) -> dict[str, Any]:
    """公告: a short text from the host to everyone in the hall."""
    tender = await get(ctx, tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("只有本项目的采购人（主持人）可以发布公告")
    require_state(tender_id, tender.state, *ANNOUNCE_STATES, doing="post an announcement", doing_zh=Text("发布公告"))
    body = announcement_text(text)
    entry = await ctx.audit.append(EntryDraft("hall.announcement", {"text": body}, tender_id, actor))
    event = {"text": body, "at_us": _us(entry), "index": entry.index}
    ctx.notify(tender_id, {"type": "announcement", **event})
    return event
