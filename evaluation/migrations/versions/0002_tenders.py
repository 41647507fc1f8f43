"""Tenders, sealed bids, uploads, the opening results and the hall (evaluation/tenders/store.py).

Revision ID: 0002_tenders
Revises: 0001_initial
Create Date: 2026-05-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_tenders"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tender",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("agency", sa.String(256), nullable=False),
        sa.Column("agency_name", sa.String(256), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
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
    op.create_index("ix_tender_agency", "tender", ["agency"])
    op.create_index("ix_tender_state", "tender", ["state"])
    op.create_table(
        "bid",
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
    op.create_table(
        "bid_upload",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bid_id", sa.String(40), sa.ForeignKey("bid.id"), nullable=False),
        sa.Column("tender_id", sa.String(40), nullable=False),
        sa.Column("bidder", sa.String(256), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("round", sa.BigInteger, nullable=False),
        sa.Column("uploaded_us", sa.BigInteger, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("fingerprint", sa.String(256), nullable=False),
        sa.Column("erased", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_bid_upload_bid_id", "bid_upload", ["bid_id"])
    op.create_index("ix_bid_upload_tender_id", "bid_upload", ["tender_id"])
    op.create_index("ix_bid_upload_sha256", "bid_upload", ["sha256"])
    op.create_table(
        "bid_opening",
        sa.Column("bid_id", sa.String(40), sa.ForeignKey("bid.id"), primary_key=True),
        sa.Column("tender_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("documents", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("opened_us", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
    )
    op.create_index("ix_bid_opening_tender_id", "bid_opening", ["tender_id"])
    op.create_table(
        "hall_signin",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(256), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "opening_confirmation",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("bidder", sa.String(256), primary_key=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "opening_objection",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tender_id", sa.String(40), nullable=False),
        sa.Column("bidder", sa.String(256), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("answered_by", sa.String(256), nullable=True),
        sa.Column("answered_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_opening_objection_tender_id", "opening_objection", ["tender_id"])


def downgrade() -> None:
    op.drop_index("ix_opening_objection_tender_id", table_name="opening_objection")
    op.drop_table("opening_objection")
    op.drop_table("opening_confirmation")
    op.drop_table("hall_signin")
    op.drop_index("ix_bid_opening_tender_id", table_name="bid_opening")
    op.drop_table("bid_opening")
    for name in ("ix_bid_upload_sha256", "ix_bid_upload_tender_id", "ix_bid_upload_bid_id"):
        op.drop_index(name, table_name="bid_upload")
    op.drop_table("bid_upload")
    op.drop_table("bid")
    op.drop_index("ix_tender_state", table_name="tender")
    op.drop_index("ix_tender_agency", table_name="tender")
    op.drop_table("tender")
