"""Tables of the expert pool (专家库), the draws and the committee members, and small queries.

Times are integer microseconds since the Unix epoch (``*_us``); list-valued columns are JSON text.
One draw row per tender (the latest request); one member row per expert ever invited to the tender.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.db import metadata

expert_table = sa.Table(
    "expert",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("id_number", sa.String(18), nullable=True, index=True, unique=True),
    sa.Column("account_id", sa.String(256), nullable=True, index=True),
    sa.Column("region", sa.String(12), nullable=False),
    sa.Column("sites", sa.String(20), nullable=False),
    sa.Column("specialties", sa.Text, nullable=False),
    sa.Column("affiliations", sa.Text, nullable=False),
    sa.Column("relatives", sa.Text, nullable=False),
    sa.Column("unavailable", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)

draw_table = sa.Table(
    "expert_draw",
    metadata,
    sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("request_leaf", sa.BigInteger, nullable=False),
    sa.Column("request_us", sa.BigInteger, nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=False),
    sa.Column("round", sa.BigInteger, nullable=False),
    sa.Column("signature", sa.Text, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("requested_by", sa.String(256), nullable=False),
    sa.Column("drawn_us", sa.BigInteger, nullable=True),
    sa.Column("revealed_us", sa.BigInteger, nullable=True),
)

member_table = sa.Table(
    "expert_member",
    metadata,
    sa.Column("tender_id", sa.String(40), primary_key=True),
    sa.Column("expert_id", sa.String(40), primary_key=True, index=True),
    sa.Column("seat", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("site", sa.String(40), nullable=False),
    sa.Column("site_role", sa.String(20), nullable=False),
    sa.Column("specialty", sa.String(40), nullable=False),
    sa.Column("replaces", sa.String(40), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)

TABLES = (expert_table, draw_table, member_table)

# Draw states: requested (waiting for its beacon round) → drawn; drawn → exhausted when the
# reserve cannot replace a decliner (a new request may then be logged).
REQUESTED, DRAWN, EXHAUSTED = "requested", "drawn", "exhausted"
# Member statuses: invited → accepted; invited/accepted → declined.
INVITED, ACCEPTED, DECLINED = "invited", "accepted", "declined"
SEATED = (INVITED, ACCEPTED)


async def expert_rows(conn: AsyncConnection, *, active_only: bool = False) -> list[Any]:
    query = sa.select(expert_table)
    if active_only:
        query = query.where(expert_table.c.active == sa.true())
    return list(await conn.execute(query.order_by(expert_table.c.id)))


async def draw_row(conn: AsyncConnection, tender_id: str) -> Any | None:
    return (await conn.execute(sa.select(draw_table).where(draw_table.c.tender_id == tender_id))).first()


async def member_rows(conn: AsyncConnection, tender_id: str, *, seated_only: bool = False) -> list[Any]:
    c = member_table.c
    query = sa.select(member_table).where(c.tender_id == tender_id)
    if seated_only:
        query = query.where(c.status.in_(SEATED))
    return list(await conn.execute(query.order_by(c.seat, c.expert_id)))
