"""The expert pool (专家库) shared across regions, its CSV import, and the committee of a tender.

The interface the evaluation session builds on:

- ``CommitteeMember`` and ``committee_of(engine, tender_id)``: the current committee (after declines
  and replacements), in seat order; empty before a draw has completed.
- ``is_member(engine, tender_id, account_id)``: whether that account is a seated member.
- ``reveal_committee(engine, tender_id)`` / ``mark_revealed(conn, …)``: the session starts, the list is
  no longer sealed from the agency (docs/experts.md, "Sealed until the session").

The draw itself lives in evaluation/experts/draw_service.py; the CSV row format in evaluation/experts/pool_csv.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.accounts.tables import account_table
from evaluation.errors import NotFoundError
from evaluation.experts.pool_csv import ExpertRecord
from evaluation.experts.pool_import import ImportReport, import_csv, now_us, record_from_row
from evaluation.experts.store import SEATED, draw_row, expert_rows, expert_table, member_rows, member_table
from evaluation.tenders.rules import TenderState
from evaluation.tenders.store import tender_table

log = logging.getLogger("pingbiao.experts")
__all__ = ["CommitteeMember", "ExpertRecord", "ImportReport", "import_csv", "list_experts", "now_us", "record_from_row"]


@dataclass(frozen=True)
class CommitteeMember:
    """A seated member of a tender's committee. `site` is "main" (主场) or "remote" (副场)."""

    expert_id: str
    account_id: str | None
    name: str
    site: str
    specialty: str


async def list_experts(engine: AsyncEngine) -> list[ExpertRecord]:
    """Every expert of the pool, by id."""
    async with engine.connect() as conn:
        return [record_from_row(r) for r in await expert_rows(conn)]


async def pool_with_usernames(engine: AsyncEngine) -> list[tuple[ExpertRecord, str | None]]:
    """Every expert of the pool by name, with the username of its linked account (for the pages)."""
    e, a = expert_table.c, account_table.c
    query = sa.select(expert_table, a.username).select_from(expert_table.outerjoin(account_table, a.id == e.account_id))
    async with engine.connect() as conn:
        return [(record_from_row(r), r.username) for r in await conn.execute(query.order_by(e.name, e.id))]


async def expert_of_account(engine: AsyncEngine, account_id: str) -> ExpertRecord | None:
    """The expert linked to `account_id`, or None."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(expert_table).where(expert_table.c.account_id == account_id))).first()
    return None if row is None else record_from_row(row)


# -- the committee, for the evaluation session -------------------------------------------------


async def committee_of(engine: AsyncEngine, tender_id: str) -> list[CommitteeMember]:
    """The current committee of `tender_id` in seat order (declined members replaced); [] before a draw."""
    async with engine.connect() as conn:
        rows = await member_rows(conn, tender_id, seated_only=True)
        ids = [r.expert_id for r in rows]
        experts = {e.id: e for e in await conn.execute(sa.select(expert_table).where(expert_table.c.id.in_(ids)))} if ids else {}
    return [
        CommitteeMember(r.expert_id, experts[r.expert_id].account_id, experts[r.expert_id].name, r.site_role, r.specialty)
        for r in rows
        if r.expert_id in experts
    ]


async def is_member(engine: AsyncEngine, tender_id: str, account_id: str) -> bool:
    """Whether `account_id` is linked to a seated member of `tender_id`'s committee."""
    c, e = member_table.c, expert_table.c
    query = (
        sa.select(sa.func.count())
        .select_from(member_table.join(expert_table, e.id == c.expert_id))
        .where(c.tender_id == tender_id, c.status.in_(SEATED), e.account_id == account_id)
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one()) > 0


async def mark_revealed(conn: AsyncConnection, tender_id: str, at_us: int) -> None:
    """Unseal the committee of `tender_id` inside the caller's transaction (idempotent).

    Raises NotFoundError when the tender has no completed draw.
    """
    from evaluation.experts.store import DRAWN, draw_table

    row = await draw_row(conn, tender_id)
    if row is None or row.state != DRAWN:
        raise NotFoundError("该项目还没有抽取评标委员会")
    if row.revealed_us is None:
        await conn.execute(sa.update(draw_table).where(draw_table.c.tender_id == tender_id).values(revealed_us=at_us))
        log.info("committee revealed", extra={"tender": tender_id})


async def reveal_committee(engine: AsyncEngine, tender_id: str) -> None:
    """Unseal the committee of `tender_id`: the evaluation session has started (see mark_revealed)."""
    async with engine.begin() as conn:
        await mark_revealed(conn, tender_id, now_us())


async def is_revealed(conn: AsyncConnection, tender_id: str) -> bool:
    """True once the session has started: revealed explicitly, or the tender is 'evaluating'."""
    row = await draw_row(conn, tender_id)
    if row is not None and row.revealed_us is not None:
        return True
    state = (await conn.execute(sa.select(tender_table.c.state).where(tender_table.c.id == tender_id))).scalar()
    return state in (TenderState.EVALUATING.value, TenderState.AWARDED.value)
