"""Tables of tenders, bids, the opening and the hall, and the small queries on them.

Times are integer microseconds since the Unix epoch (``*_us``) except the opening time and the end
of the confirmation window, which are whole unix seconds like the beacon's. JSON columns are text.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.db import metadata

tender_table = sa.Table(
    "tender",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("agency", sa.String(256), nullable=False, index=True),
    sa.Column("agency_name", sa.String(256), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("opening_time", sa.BigInteger, nullable=False),
    sa.Column("opening_round", sa.BigInteger, nullable=True),
    sa.Column("chain_hash", sa.String(64), nullable=True),
    sa.Column("amendments", sa.Integer, nullable=False, server_default="0"),
    sa.Column("postponements", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("published_us", sa.BigInteger, nullable=True),
    sa.Column("opened_us", sa.BigInteger, nullable=True),
    sa.Column("confirm_until", sa.BigInteger, nullable=True),
    sa.Column("failed_reason", sa.Text, nullable=True),
)

bid_table = sa.Table(
    "bid",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), nullable=False),
    sa.Column("bidder", sa.String(256), nullable=False),
    sa.Column("bidder_name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("round", sa.BigInteger, nullable=False),
    sa.Column("submitted_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tender_id", "bidder", name="uq_bid_tender_bidder"),
)

upload_table = sa.Table(
    "bid_upload",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bid_id", sa.String(40), sa.ForeignKey("bid.id"), nullable=False, index=True),
    sa.Column("tender_id", sa.String(40), nullable=False, index=True),
    sa.Column("bidder", sa.String(256), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("round", sa.BigInteger, nullable=False),
    sa.Column("uploaded_us", sa.BigInteger, nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(512), nullable=False),
    sa.Column("fingerprint", sa.String(256), nullable=False),
    sa.Column("erased", sa.Boolean, nullable=False, server_default=sa.false()),
)

opening_table = sa.Table(
    "bid_opening",
    metadata,
    sa.Column("bid_id", sa.String(40), sa.ForeignKey("bid.id"), primary_key=True),
    sa.Column("tender_id", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("documents", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("opened_us", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("lots", sa.Text, nullable=True),  # a multi-lot bid's [{lot, name, price}] (JSON); null otherwise
    sa.Column("code", sa.String(20), nullable=True),  # a failed bid's code (opening.FAILURES); null otherwise
)

signin_table = sa.Table(
    "hall_signin",
    metadata,
    sa.Column("tender_id", sa.String(40), primary_key=True),
    sa.Column("account", sa.String(256), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
)

confirmation_table = sa.Table(
    "opening_confirmation",
    metadata,
    sa.Column("tender_id", sa.String(40), primary_key=True),
    sa.Column("bidder", sa.String(256), primary_key=True),
    sa.Column("at_us", sa.BigInteger, nullable=False),
)

objection_table = sa.Table(
    "opening_objection",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tender_id", sa.String(40), nullable=False, index=True),
    sa.Column("bidder", sa.String(256), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("answered_by", sa.String(256), nullable=True),
    sa.Column("answered_us", sa.BigInteger, nullable=True),
)

TABLES = (tender_table, bid_table, upload_table, opening_table, signin_table, confirmation_table, objection_table)


async def tender_row(conn: AsyncConnection, tender_id: str) -> Any | None:
    return (await conn.execute(sa.select(tender_table).where(tender_table.c.id == tender_id))).first()


async def bid_rows(conn: AsyncConnection, tender_id: str, *, status: str | None = None) -> list[Any]:
    query = sa.select(bid_table).where(bid_table.c.tender_id == tender_id)
    if status is not None:
        query = query.where(bid_table.c.status == status)
    return list(await conn.execute(query.order_by(bid_table.c.submitted_us, bid_table.c.id)))


async def bid_of(conn: AsyncConnection, tender_id: str, bidder: str) -> Any | None:
    c = bid_table.c
    return (await conn.execute(sa.select(bid_table).where(c.tender_id == tender_id, c.bidder == bidder))).first()


async def opening_rows(conn: AsyncConnection, tender_id: str) -> list[Any]:
    c = opening_table.c
    return list(await conn.execute(sa.select(opening_table).where(c.tender_id == tender_id).order_by(c.seq, c.bid_id)))


async def upload_rows(conn: AsyncConnection, tender_id: str) -> list[Any]:
    c = upload_table.c
    return list(await conn.execute(sa.select(upload_table).where(c.tender_id == tender_id).order_by(c.id)))


async def blob_referenced(conn: AsyncConnection, sha256: str) -> bool:
    """Whether any upload that is not erased still points at blob `sha256`."""
    c = upload_table.c
    query = sa.select(sa.func.count()).where(c.sha256 == sha256, c.erased == sa.false())
    return int((await conn.execute(query)).scalar_one()) > 0
