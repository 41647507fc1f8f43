"""Who stands where in a tender's evaluation, for the booth (web/booth/routes.py ``may_join``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.experts.pool import is_member
from evaluation.session.store import member_table, session_table
from evaluation.tenders.store import tender_table


async def booth_standing(engine: AsyncEngine, tender_id: str, account_id: str) -> str | None:
    """"owner" for the tender's agency; "member" for a member of one of its sessions (of any lot) or, before the session, a
    seated member of the drawn committee (evaluation.experts.is_member); else None."""
    async with engine.connect() as conn:
        agency = (await conn.execute(sa.select(tender_table.c.agency).where(tender_table.c.id == tender_id))).scalar()
        if agency is None:
            return None
        if agency == account_id:
            return "owner"
        c, sc = member_table.c, session_table.c
        found = (await conn.execute(
            sa.select(c.account).select_from(member_table.join(session_table, sc.id == c.session_id))
            .where(sc.tender_id == tender_id, c.account == account_id))).first()
    if found is not None:
        return "member"
    return "member" if await is_member(engine, tender_id, account_id) else None
