"""The opening hall's side of a tender: sign-in (签到), the record view, confirmations, objections
(异议) and answers, the end of the confirmation window, and the collusion leads.

Who may act is checked here against ownership: a bidder acts on a tender only through its own bid;
the agency that owns the tender answers objections.

The record shown is the audit log's (``logged_record``: from the tender's checked entries, never
from the tables alone), and the tables must agree with it: a row, confirmation or objection the
log does not back makes ``record`` refuse with IntegrityFailure naming the bid or objection.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.audit.entry import SYSTEM, Actor, Entry, EntryDraft
from evaluation.errors import ConflictError, IntegrityFailure, InvalidRequest, NotFoundError, Text
from evaluation.tenders import collusion
from evaluation.tenders.lots import bid_fields, lots_json
from evaluation.tenders.opening import failure_of, record_rows
from evaluation.tenders.rules import (
    LOCAL_BEACON_NOTE,
    InvalidStateError,
    TenderState,
    format_time,
    is_local_beacon,
    require_state,
    state_name,
)
from evaluation.tenders.store import (
    bid_of,
    bid_rows,
    confirmation_table,
    objection_table,
    opening_rows,
    signin_table,
    upload_rows,
)
from evaluation.tenders.tender import (
    NotPermitted,
    Tender,
    TenderContext,
    get,
    load_for_update,
    new_id,
    set_state,
)

AFTER_OPENING = (TenderState.OPENED, TenderState.FAILED, TenderState.CONFIRMING, TenderState.CONFIRMED, TenderState.EVALUATING,
                 TenderState.AWARDED)
MAX_TEXT = 5000


def _text(value: Any, what: Text) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("{what}不能为空", what=what)
    if len(value) > MAX_TEXT:
        raise InvalidRequest("{what}不能超过 {n} 个字", what=what, n=MAX_TEXT)
    return value.strip()


async def sign_in(ctx: TenderContext, actor: Actor, tender_id: str, name: str) -> dict[str, Any]:
    """签到 in the hall: a bidder with a current bid, or the owning agency; before the record is out."""
    tender = await get(ctx, tender_id)
    require_state(tender_id, tender.state, TenderState.PUBLISHED, TenderState.OPENING, doing="sign in",
                  doing_zh=Text("签到（签到在开标记录公布前进行）"))
    if actor.role == "bidder":
        async with ctx.engine.connect() as conn:
            bid = await bid_of(conn, tender_id, actor.account)
        if bid is None or bid.status != "submitted":
            raise NotPermitted("只有已递交投标的投标人可以在本大厅签到")
    elif not tender.owned_by(actor):
        raise NotPermitted("只有本项目的投标人和采购人可以签到")
    at = ctx.now_us()

    async def apply(conn: AsyncConnection) -> None:
        found = await conn.execute(
            sa.select(signin_table.c.account).where(signin_table.c.tender_id == tender_id, signin_table.c.account == actor.account)
        )
        if found.first() is not None:
            raise ConflictError("您已签到")
        await conn.execute(signin_table.insert().values(tender_id=tender_id, account=actor.account, role=actor.role, name=name, at_us=at))

    await ctx.audit.append(EntryDraft("hall.signin", {"name": name}, tender_id, actor), apply=apply)
    row = {"account": actor.account, "role": actor.role, "name": name, "at_us": at}
    private = tender.state is TenderState.PUBLISHED
    ctx.notify(tender_id, {"type": "signin", "signin": row, **({"_private_to": actor.account} if private else {})})
    return row


async def signins(ctx: TenderContext, tender_id: str) -> list[dict[str, Any]]:
    c = signin_table.c
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(sa.select(signin_table).where(c.tender_id == tender_id).order_by(c.at_us))
        return [{"account": r.account, "role": r.role, "name": r.name, "at_us": r.at_us} for r in rows]


async def attendance(ctx: TenderContext, tender_id: str) -> list[dict[str, Any]]:
    """Every current bid's bidder with its sign-in (签到) or None: who came and who did not,
    in the order the bids were submitted. The agency's own sign-in is not a bidder's."""
    async with ctx.engine.connect() as conn:
        bids = await bid_rows(conn, tender_id, status="submitted")
    signed = {s["account"]: s for s in await signins(ctx, tender_id)}
    return [{"bidder": b.bidder, "name": b.bidder_name, "signed_in": b.bidder in signed,
             "at_us": signed[b.bidder]["at_us"] if b.bidder in signed else None} for b in bids]


async def bid_statuses(ctx: TenderContext, tender_id: str) -> list[dict[str, Any]]:
    """Each current bid's decryption status while and after the bids open: ``sealed`` (待解密),
    ``opened`` or ``failed`` with the reason and its code (opening.FAILURES; the hall adds ``opening``
    live from events)."""
    async with ctx.engine.connect() as conn:
        bids = await bid_rows(conn, tender_id, status="submitted")
        done = {r.bid_id: r for r in await opening_rows(conn, tender_id)}
    out = [{"bid_id": b.id, "bidder": b.bidder, "bidder_name": b.bidder_name,
            "status": done[b.id].status if b.id in done else "sealed",
            "reason": done[b.id].reason if b.id in done else None,
            "code": done[b.id].code if b.id in done else None} for b in bids]
    return [{**b, "code": failure_of(b) if b["status"] == "failed" else None} for b in out]


RECORD_KINDS = ("bid.submitted", "bid.replaced", "bid.opened", "bid.open_failed", "opening.record",
                "opening.confirmed", "opening.objection", "opening.answer")
"""The entries the record view is folded from."""


def _us(entry: Entry) -> int:
    t = entry.time
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def logged_record(entries: list[Entry]) -> dict[str, Any]:
    """The record as the log has it (pure): ``rows`` (what ``BidResult.to_json`` gives, ``seq`` the
    order of the opening entries), ``entry_of`` (bid id -> the index of its opening entry), the
    ``opening.record`` payload as ``final`` (or None), ``confirmations`` in log order and
    ``objections`` by id. `entries` are the tender's RECORD_KINDS entries in log order."""
    owners: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    entry_of: dict[str, int] = {}
    final: dict[str, Any] | None = None
    confirmations: list[str] = []
    objections: dict[str, dict[str, Any]] = {}
    for e in entries:
        p = e.payload
        if e.kind in ("bid.submitted", "bid.replaced"):
            owners[p.get("bid_id")] = e.actor.account
        elif e.kind in ("bid.opened", "bid.open_failed"):
            opened = e.kind == "bid.opened"
            rows.append({
                "seq": len(rows) + 1, "bid_id": p.get("bid_id"), "bidder": owners.get(p.get("bid_id")),
                "bidder_name": p.get("bidder_name"), "status": "opened" if opened else "failed",
                "fields": p.get("fields") if opened else {}, "documents": p.get("documents") if opened else [],
                "reason": None if opened else p.get("reason"),
                **({"lots": p["lots"]} if opened and p.get("lots") else {}),
                **({"code": p["code"]} if not opened and p.get("code") else {}),
            })
            entry_of[p.get("bid_id")] = e.index
        elif e.kind == "opening.record" and "rows" in p:  # the whole record, published once
            final = p
        elif e.kind == "opening.confirmed":
            confirmations.append(e.actor.account)
        elif e.kind == "opening.objection":
            objections[p.get("objection_id")] = {
                "id": p.get("objection_id"), "bidder": e.actor.account, "text": p.get("text"), "at_us": _us(e),
                "answer": None, "answered_by": None, "answered_us": None, "entry": e.index,
            }
        elif e.kind == "opening.answer" and p.get("objection_id") in objections:
            objections[p["objection_id"]].update(answer=p.get("text"), answered_by=e.actor.account, answered_us=_us(e))
    return {"rows": rows, "entry_of": entry_of, "final": final, "confirmations": confirmations, "objections": objections}


def _mismatch(what: Text) -> IntegrityFailure:
    return IntegrityFailure(Text("开标记录与审计日志不符：{what}", what=what))


def check_tables(logged: dict[str, Any], rows: list[dict[str, Any]], confirmed: list[str], objections: list[dict[str, Any]]) -> None:
    """Every table row, confirmation and objection must be what the log says (pure). The tables are
    read before the log, so the log may hold more (entries committed in between), never other."""
    by_bid = {r["bid_id"]: r for r in logged["rows"]}
    for row in rows:
        if by_bid.get(row["bid_id"]) != row:
            at = logged["entry_of"].get(row["bid_id"])
            raise _mismatch(Text("投标 {bid}", bid=row["bid_id"]) if at is None
                            else Text("投标 {bid}（审计日志第 {entry} 条）", bid=row["bid_id"], entry=at))
    final = logged["final"]
    if final is not None and final.get("rows") != logged["rows"]:
        raise _mismatch(Text("日志中的开标记录（opening.record）与日志中的各投标不符"))
    for bidder in confirmed:
        if bidder not in logged["confirmations"]:
            raise _mismatch(Text("{bidder} 的确认不在日志中", bidder=bidder))
    for objection in objections:
        found = logged["objections"].get(objection["id"])
        if found is None or (found["bidder"], found["text"]) != (objection["bidder"], objection["text"]) or (
            objection["answer"] is not None and (found["answer"], found["answered_by"]) != (objection["answer"], objection["answered_by"])
        ):
            raise _mismatch(Text("异议 {objection}", objection=objection["id"]) if found is None
                            else Text("异议 {objection}（审计日志第 {entry} 条）", objection=objection["id"], entry=found["entry"]))


async def record(ctx: TenderContext, tender_id: str, *, partial: bool = False) -> dict[str, Any]:
    """The opening record with confirmations and objections, as the audit log has it (checked
    entries; the tables must agree, else IntegrityFailure). Only after the opening, unless `partial`."""
    tender = await get(ctx, tender_id)
    if not partial and tender.state not in AFTER_OPENING:
        raise InvalidStateError("项目当前为「{state}」，开标记录在开标时公布", state=state_name(tender.state))
    async with ctx.engine.connect() as conn:
        table_rows = [r.to_json() for r in await record_rows(conn, tender_id)]
        table_confirmed = [r.bidder for r in await conn.execute(sa.select(confirmation_table).where(confirmation_table.c.tender_id == tender_id).order_by(confirmation_table.c.at_us))]
        table_objections = [_objection_json(r) for r in await conn.execute(sa.select(objection_table).where(objection_table.c.tender_id == tender_id).order_by(objection_table.c.at_us))]
    logged = logged_record(await ctx.audit.entries_for_tender(tender_id, kinds=RECORD_KINDS))
    check_tables(logged, table_rows, table_confirmed, table_objections)
    final = logged["final"]
    if final is not None and tender.state is TenderState.OPENING:
        # the record was published (its entries and the tender's new state commit together) after
        # the tender was read: read it again, as of that commit, rather than compare it with the past
        tender = await get(ctx, tender_id)
    confirm_until = None if tender.confirm_until is None else format_time(tender.confirm_until)
    if final is not None and final.get("confirm_until") != confirm_until:
        raise _mismatch(Text("确认截止时间 {time} 与日志中的 {logged} 不同", time=confirm_until, logged=final.get("confirm_until")))
    rows = [{**r, "code": failure_of(r)} if r["status"] == "failed" else r  # older rows: the code their reason reads as
            for r in (logged["rows"] if final is None else final["rows"])]
    confirmed = logged["confirmations"]
    objections = [{k: v for k, v in o.items() if k != "entry"} for o in logged["objections"].values()]
    local = bool((final or {}).get("local_beacon")) or is_local_beacon(ctx.chain)
    return {
        "tender_id": tender_id,
        "state": tender.state.value,
        "round": tender.opening_round,
        "min_bids": tender.spec.min_bids,
        "valid": sum(1 for r in rows if r["status"] == "opened"),
        "fields": [f.to_json() for f in bid_fields(tender.spec)],
        "lots": lots_json(tender.spec),
        "rows": rows,
        "local_beacon": local,  # 本地信标: the logged flag of the record, or the chain in use
        "local_beacon_note": LOCAL_BEACON_NOTE if local else None,
        "confirm_until": confirm_until,
        "final": tender.state in (TenderState.CONFIRMED, TenderState.EVALUATING, TenderState.AWARDED, TenderState.FAILED),
        "failed_reason": tender.failed_reason,
        "confirmations": confirmed,
        "objections": objections,
    }


def _objection_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "bidder": r.bidder, "text": r.text, "at_us": r.at_us, "answer": r.answer,
            "answered_by": r.answered_by, "answered_us": r.answered_us}


async def _bidder_in_record(ctx: TenderContext, tender: Tender, actor: Actor) -> None:
    if actor.role != "bidder":
        raise NotPermitted("只有开标记录中的投标人可以确认或提出异议")
    async with ctx.engine.connect() as conn:
        bid = await bid_of(conn, tender.id, actor.account)
        opened = {r.bid_id for r in await opening_rows(conn, tender.id)}
    if bid is None or bid.id not in opened:
        raise NotPermitted("你在「{title}」的开标记录中没有投标", title=tender.spec.title)


def _check_window(ctx: TenderContext, tender: Tender) -> None:
    require_state(tender.id, tender.state, TenderState.CONFIRMING, doing="confirm or object")
    if tender.confirm_until is not None and ctx.clock() >= tender.confirm_until:
        raise ConflictError("开标记录的确认期已于 {time} 结束", time=format_time(tender.confirm_until))


async def confirm(ctx: TenderContext, actor: Actor, tender_id: str) -> dict[str, Any]:
    """A bidder confirms the record (once), within the window."""
    tender = await get(ctx, tender_id)
    await _bidder_in_record(ctx, tender, actor)
    _check_window(ctx, tender)
    at = ctx.now_us()

    async def apply(conn: AsyncConnection) -> None:
        _check_window(ctx, await load_for_update(conn, tender_id))
        c = confirmation_table.c
        if (await conn.execute(sa.select(c.bidder).where(c.tender_id == tender_id, c.bidder == actor.account))).first():
            raise ConflictError("你已确认过开标记录")
        await conn.execute(confirmation_table.insert().values(tender_id=tender_id, bidder=actor.account, at_us=at))

    await ctx.audit.append(EntryDraft("opening.confirmed", {}, tender_id, actor), apply=apply)
    ctx.notify(tender_id, {"type": "confirmation", "bidder": actor.account, "at_us": at})
    return {"bidder": actor.account, "at_us": at}


async def object_to(ctx: TenderContext, actor: Actor, tender_id: str, text: Any) -> dict[str, Any]:
    """A bidder raises an objection (异议) to the record, within the window, unless it confirmed."""
    body = _text(text, Text("异议内容"))
    tender = await get(ctx, tender_id)
    await _bidder_in_record(ctx, tender, actor)
    _check_window(ctx, tender)
    objection_id, at = new_id("O"), ctx.now_us()

    async def apply(conn: AsyncConnection) -> None:
        _check_window(ctx, await load_for_update(conn, tender_id))
        c = confirmation_table.c
        if (await conn.execute(sa.select(c.bidder).where(c.tender_id == tender_id, c.bidder == actor.account))).first():
            raise ConflictError("你已确认开标记录，确认后不能再提出异议")
        await conn.execute(objection_table.insert().values(id=objection_id, tender_id=tender_id, bidder=actor.account, text=body, at_us=at))

    await ctx.audit.append(EntryDraft("opening.objection", {"objection_id": objection_id, "text": body}, tender_id, actor), apply=apply)
    row = {"id": objection_id, "bidder": actor.account, "text": body, "at_us": at, "answer": None, "answered_by": None, "answered_us": None}
    ctx.notify(tender_id, {"type": "objection", "objection": row})
    return row


async def answer(ctx: TenderContext, actor: Actor, tender_id: str, objection_id: str, text: Any) -> dict[str, Any]:
    """The owning agency answers an objection (once), while confirming or after the record is final."""
    body = _text(text, Text("答复内容"))
    tender = await get(ctx, tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("该项目属于其他采购代理机构")
    require_state(tender_id, tender.state, TenderState.CONFIRMING, TenderState.CONFIRMED, doing="answer objections")
    at = ctx.now_us()

    async def apply(conn: AsyncConnection) -> None:
        c = objection_table.c
        row = (await conn.execute(sa.select(objection_table).where(c.id == objection_id, c.tender_id == tender_id))).first()
        if row is None:
            raise NotFoundError("找不到该异议")
        if row.answer is not None:
            raise ConflictError("该异议已答复")
        await conn.execute(sa.update(objection_table).where(c.id == objection_id).values(answer=body, answered_by=actor.account, answered_us=at))

    await ctx.audit.append(EntryDraft("opening.answer", {"objection_id": objection_id, "text": body}, tender_id, actor), apply=apply)
    ctx.notify(tender_id, {"type": "answer", "objection_id": objection_id, "text": body, "at_us": at})
    return {"objection_id": objection_id, "answer": body, "answered_by": actor.account, "answered_us": at}


async def finalize(ctx: TenderContext, tender_id: str) -> Tender:
    """After the window: ``confirming -> confirmed`` with ``opening.final``. No-op before or after."""
    tender = await get(ctx, tender_id)
    if tender.state is not TenderState.CONFIRMING or (tender.confirm_until or 0) > ctx.clock():
        return tender
    async with ctx.engine.connect() as conn:
        confirmed = [r.bidder for r in await conn.execute(sa.select(confirmation_table.c.bidder).where(confirmation_table.c.tender_id == tender_id))]
        objections = list(await conn.execute(sa.select(objection_table).where(objection_table.c.tender_id == tender_id)))

    async def apply(conn: AsyncConnection) -> None:
        await set_state(conn, tender_id, TenderState.CONFIRMING, TenderState.CONFIRMED)

    payload = {"confirmed": sorted(confirmed), "objections": len(objections),
               "unanswered": sum(1 for o in objections if o.answer is None)}
    try:
        await ctx.audit.append(EntryDraft("opening.final", payload, tender_id, SYSTEM), apply=apply)
    except ConflictError:
        return await get(ctx, tender_id)
    ctx.notify(tender_id, {"type": "phase", "state": "confirmed", **payload})
    return await get(ctx, tender_id)


async def collusion_leads(ctx: TenderContext, tender_id: str) -> list[dict[str, Any]]:
    """Leads over the current bids' uploads and opened documents. Only after the opening."""
    tender = await get(ctx, tender_id)
    if tender.state not in AFTER_OPENING:
        raise InvalidStateError("项目当前为「{state}」，开标后才有线索", state=state_name(tender.state))
    async with ctx.engine.connect() as conn:
        current = {b.id: b.bidder for b in await bid_rows(conn, tender_id) if b.status == "submitted"}
        uploads = [
            collusion.UploadTrace(u.bidder, u.ip, u.fingerprint)
            for u in await upload_rows(conn, tender_id) if u.bid_id in current
        ]
        documents = [
            collusion.DocumentTrace(current[r.bid_id], d["name"], d["sha256"], d.get("meta", {}))
            for r in await opening_rows(conn, tender_id) if r.bid_id in current
            for d in json.loads(r.documents)
        ]
    return [lead.to_json() for lead in collusion.leads(uploads, documents)]
