"""Tenders (招标项目): create, publish, amend (变更公告), postpone (延期), read.

Every change is one audit entry appended with ``apply=``, so the row and its entry commit together.
The tender's state changes only through `set_state` (one setter, logs ``old -> new``).
Ownership: a tender belongs to the agency account that created it (``Tender.agency``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto.chain import ChainInfo
from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, DomainError, InvalidRequest, NotFoundError
from evaluation.tenders.blobstore import BlobStore
from evaluation.tenders.rules import (
    TenderSpec,
    TenderState,
    amend_spec,
    check_evaluation_date,
    check_transition,
    format_time,
    is_local_beacon,
    parse_spec,
    parse_time,
    require_state,
    spec_from_json,
    state_name,
)
from evaluation.tenders.store import bid_rows, bid_table, tender_row, tender_table, upload_table

log = logging.getLogger(__name__)

Notify = Callable[[str, dict[str, Any]], None]
"""Called after a commit with (tender_id, hall event); the web layer feeds its pub/sub with it."""


class NotPermitted(DomainError):
    """The actor may not do this to this object (not its owner, not invited…)."""

    status = 403


def _no_notify(_tender: str, _event: dict[str, Any]) -> None:
    return None


@dataclass
class TenderContext:
    """What the tender functions need: the database, the log, the blobs, the beacon chain bids are
    sealed to, a clock, and a notifier called after commits."""

    engine: AsyncEngine
    audit: AuditLog
    blobs: BlobStore
    chain: ChainInfo
    clock: Callable[[], float] = time.time
    notify: Notify = field(default=_no_notify)

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)


@dataclass(frozen=True)
class Tender:
    """A tender as stored."""

    id: str
    agency: str
    agency_name: str
    state: TenderState
    spec: TenderSpec
    opening_round: int | None
    chain_hash: str | None
    amendments: int
    postponements: int
    created_us: int
    published_us: int | None
    opened_us: int | None
    confirm_until: int | None
    failed_reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> Tender:
        return cls(
            row.id,
            row.agency,
            row.agency_name,
            TenderState(row.state),
            spec_from_json(json.loads(row.spec)),
            row.opening_round,
            row.chain_hash,
            row.amendments,
            row.postponements,
            row.created_us,
            row.published_us,
            row.opened_us,
            row.confirm_until,
            row.failed_reason,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agency": self.agency,
            "agency_name": self.agency_name,
            "state": self.state.value,
            **self.spec.to_json(),
            "opening_unix": self.spec.opening_time,
            "opening_round": self.opening_round,
            "chain": self.chain_hash,
            "amendments": self.amendments,
            "postponements": self.postponements,
            "confirm_until": None if self.confirm_until is None else format_time(self.confirm_until),
            "failed_reason": self.failed_reason,
        }

    def owned_by(self, actor: Actor) -> bool:
        return actor.role == "agency" and actor.account == self.agency


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def set_state(conn: AsyncConnection, tender_id: str, old: TenderState, new: TenderState, **values: Any) -> None:
    """THE state setter: ``old -> new`` (checked) plus other columns, inside the caller's transaction.

    Raises InvalidStateError for a transition the machine does not allow and ConflictError if the
    stored state is no longer `old` (a concurrent change).
    """
    check_transition(tender_id, old, new)
    result = await conn.execute(
        sa.update(tender_table)
        .where(tender_table.c.id == tender_id, tender_table.c.state == old.value)
        .values(state=new.value, **values)
    )
    if result.rowcount != 1:
        raise ConflictError("项目已不是「{state}」状态，请刷新", state=state_name(old))
    log.info("tender state", extra={"tender": tender_id, "old": old.value, "new": new.value})


async def get(ctx: TenderContext, tender_id: str) -> Tender:
    """The tender `tender_id`; NotFoundError if there is none."""
    async with ctx.engine.connect() as conn:
        row = await tender_row(conn, tender_id)
    if row is None:
        raise NotFoundError("找不到该项目")
    return Tender.from_row(row)


async def load_for_update(conn: AsyncConnection, tender_id: str) -> Tender:
    """Read the tender inside a write transaction (PostgreSQL: row lock)."""
    query = sa.select(tender_table).where(tender_table.c.id == tender_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError("找不到该项目")
    return Tender.from_row(row)


async def list_all(ctx: TenderContext, states: set[TenderState] | None = None) -> list[Tender]:
    query = sa.select(tender_table).order_by(tender_table.c.created_us.desc())
    if states is not None:
        query = query.where(tender_table.c.state.in_([s.value for s in states]))
    async with ctx.engine.connect() as conn:
        return [Tender.from_row(r) for r in await conn.execute(query)]


def _owner(tender: Tender, actor: Actor) -> None:
    if not tender.owned_by(actor):
        raise NotPermitted("「{title}」属于其他采购代理机构", title=tender.spec.title)


def _spec_text(spec: TenderSpec) -> str:
    return json.dumps(spec.to_json(), ensure_ascii=False, sort_keys=True)


async def check_invited(engine: AsyncEngine, invited: tuple[str, ...]) -> None:
    """Raise InvalidRequest naming every invited id that is not a bidder account."""
    if not invited:
        return
    a = account_table.c
    async with engine.connect() as conn:
        roles = {r.id: r.role for r in await conn.execute(sa.select(a.id, a.role).where(a.id.in_(invited)))}
    unknown = [i for i in invited if i not in roles]
    wrong = [f"{i} ({roles[i]})" for i in invited if i in roles and roles[i] != "bidder"]
    problems = ([f"unknown account(s) {', '.join(unknown)}"] if unknown else []) + (
        [f"not bidder account(s) {', '.join(wrong)}"] if wrong else [])
    if problems:
        raise InvalidRequest(f"受邀供应商无效 invited: {'; '.join(problems)}"[:500])


async def create(ctx: TenderContext, actor: Actor, agency_name: str, data: Any) -> Tender:
    """A new draft owned by `actor` (an agency). Logs ``tender.drafted``."""
    spec = parse_spec(data)
    await check_invited(ctx.engine, spec.invited)
    tender_id = new_id("T")
    now = ctx.now_us()

    async def apply(conn: AsyncConnection) -> None:
        await conn.execute(
            tender_table.insert().values(
                id=tender_id,
                agency=actor.account,
                agency_name=agency_name,
                state=TenderState.DRAFT.value,
                spec=_spec_text(spec),
                opening_time=spec.opening_time,
                created_us=now,
            )
        )

    await ctx.audit.append(EntryDraft("tender.drafted", {"spec": spec.to_json()}, tender_id, actor), apply=apply)
    return await get(ctx, tender_id)


async def edit_draft(ctx: TenderContext, actor: Actor, tender_id: str, data: Any) -> Tender:
    """Replace a draft's spec (drafts only). Logs ``tender.drafted``."""
    spec = parse_spec(data)
    await check_invited(ctx.engine, spec.invited)

    async def apply(conn: AsyncConnection) -> None:
        tender = await load_for_update(conn, tender_id)
        _owner(tender, actor)
        require_state(tender_id, tender.state, TenderState.DRAFT, doing="edit a draft (amend it instead)")
        await conn.execute(
            sa.update(tender_table)
            .where(tender_table.c.id == tender_id)
            .values(spec=_spec_text(spec), opening_time=spec.opening_time)
        )

    await ctx.audit.append(EntryDraft("tender.drafted", {"spec": spec.to_json()}, tender_id, actor), apply=apply)
    return await get(ctx, tender_id)


def _check_future(ctx: TenderContext, opening_time: int, chain: ChainInfo) -> int:
    if opening_time <= ctx.clock():
        raise InvalidRequest("开标时间须在将来，现为 {time}", time=format_time(opening_time))
    return chain.round_not_before(opening_time)


async def publish(ctx: TenderContext, actor: Actor, tender_id: str) -> Tender:
    """Publish a draft: fix its opening round on the chain (first round at or after the opening time)."""
    chain = ctx.chain
    tender = await get(ctx, tender_id)
    _owner(tender, actor)
    require_state(tender_id, tender.state, TenderState.DRAFT, doing="publish")
    round = _check_future(ctx, tender.spec.opening_time, chain)
    now = ctx.now_us()

    async def apply(conn: AsyncConnection) -> None:
        await set_state(
            conn, tender_id, TenderState.DRAFT, TenderState.PUBLISHED,
            opening_round=round, chain_hash=chain.hash, published_us=now,
        )

    payload = {
        **tender.spec.to_json(),
        "opening_round": round,
        "chain": chain.hash,
        "round_time": format_time(chain.time_of(round)),
        "agency_name": tender.agency_name,
        "local_beacon": is_local_beacon(chain),  # 本地信标: its operator can compute future rounds
    }
    await ctx.audit.append(EntryDraft("tender.published", payload, tender_id, actor), apply=apply)
    return await get(ctx, tender_id)


async def amend(ctx: TenderContext, actor: Actor, tender_id: str, changes: Any, reason: Any) -> Tender:
    """A 变更公告 before the deadline. Logs ``tender.amended`` with the changed fields."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidRequest("请填写理由")
    tender = await get(ctx, tender_id)
    _owner(tender, actor)
    require_state(tender_id, tender.state, TenderState.PUBLISHED, doing="amend")
    new_spec, diff = amend_spec(tender.spec, changes)
    if ctx.clock() >= tender.spec.opening_time:
        raise ConflictError("投标截止时间 {time} 已过，不能再变更", time=format_time(tender.spec.opening_time))

    async def apply(conn: AsyncConnection) -> None:
        current = await load_for_update(conn, tender_id)
        require_state(tender_id, current.state, TenderState.PUBLISHED, doing="amend")
        if current.amendments != tender.amendments:
            raise ConflictError("项目刚被变更，请刷新后重试")
        await conn.execute(
            sa.update(tender_table)
            .where(tender_table.c.id == tender_id)
            .values(spec=_spec_text(new_spec), amendments=tender_table.c.amendments + 1)
        )

    draft = EntryDraft("tender.amended", {"changes": diff, "reason": reason.strip()}, tender_id, actor)
    await ctx.audit.append(draft, apply=apply)
    return await get(ctx, tender_id)


async def postpone(ctx: TenderContext, actor: Actor, tender_id: str, new_time: Any, reason: Any) -> Tender:
    """延期: move the opening later. Bids sealed to the old round become ``void``.

    A ciphertext sealed to the old round opens at the old time for anyone holding it; the lock
    cannot move. So those bids are voided (``bid.voided``, one per bid) and their ciphertexts
    erased from the blob store after the commit; each bidder must upload a new bid sealed to the
    new round, or it has no bid at the opening.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidRequest("请填写理由")
    chain = ctx.chain
    opening = parse_time(new_time)
    tender = await get(ctx, tender_id)
    _owner(tender, actor)
    require_state(tender_id, tender.state, TenderState.PUBLISHED, doing="postpone")
    if chain.hash != tender.chain_hash:
        raise ConflictError("本项目所用的时间信标已更换，不能延期")
    if ctx.clock() >= tender.spec.opening_time:
        raise ConflictError("开标时间 {time} 已过，不能再延期", time=format_time(tender.spec.opening_time))
    if opening <= tender.spec.opening_time:
        raise InvalidRequest("延期后的开标时间须晚于原开标时间 {time}", time=format_time(tender.spec.opening_time))
    round = _check_future(ctx, opening, chain)
    old_round = tender.opening_round
    spec = TenderSpec(**{**tender.spec.__dict__, "opening_time": opening})
    check_evaluation_date(opening, spec.evaluation_date)  # amend evaluation_date first if it would fall before
    async with ctx.engine.connect() as conn:
        stale = [r for r in await bid_rows(conn, tender_id, status="submitted") if r.round != round]
    drafts = [
        EntryDraft(
            "tender.postponed",
            {
                "opening_time": format_time(opening),
                "opening_round": round,
                "previous_round": old_round,
                "round_time": format_time(chain.time_of(round)),
                "reason": reason.strip(),
            },
            tender_id,
            actor,
        )
    ] + [
        EntryDraft("bid.voided", {"bid_id": r.id, "reason": f"sealed to round {r.round}; the opening moved to round {round}"}, tender_id, Actor("system", "system"))
        for r in stale
    ]
    stale_ids = [r.id for r in stale]

    async def apply(conn: AsyncConnection) -> None:
        current = await load_for_update(conn, tender_id)
        require_state(tender_id, current.state, TenderState.PUBLISHED, doing="postpone")
        now_stale = {r.id for r in await bid_rows(conn, tender_id, status="submitted") if r.round != round}
        if now_stale != set(stale_ids):
            raise ConflictError("延期期间投标有变动，请重试")
        await conn.execute(
            sa.update(tender_table)
            .where(tender_table.c.id == tender_id)
            .values(spec=_spec_text(spec), opening_time=opening, opening_round=round,
                    postponements=tender_table.c.postponements + 1)
        )
        if stale_ids:
            await conn.execute(sa.update(bid_table).where(bid_table.c.id.in_(stale_ids)).values(status="void"))
        await conn.execute(
            sa.update(upload_table)
            .where(upload_table.c.tender_id == tender_id, upload_table.c.round != round)
            .values(erased=True)
        )

    await ctx.audit.append_many(drafts, apply=apply)
    await erase_unreferenced(ctx, tender_id)
    ctx.notify(tender_id, {"type": "phase", "state": "published", "postponed": True,
                           "opening_time": format_time(opening), "opening_round": round})
    return await get(ctx, tender_id)


async def erase_unreferenced(ctx: TenderContext, tender_id: str) -> None:
    """Delete the blobs of erased uploads of `tender_id` that no live upload still points at."""
    from evaluation.tenders.store import blob_referenced, upload_rows

    async with ctx.engine.connect() as conn:
        for row in await upload_rows(conn, tender_id):
            if row.erased and not await blob_referenced(conn, row.sha256):
                ctx.blobs.delete(row.sha256)
