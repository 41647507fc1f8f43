"""The evaluation session: members, votes, signed sheets, changes, report signatures
(evaluation/session/store.py).

Revision ID: 0004_evaluation
Revises: 0003_experts
Create Date: 2026-05-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_evaluation"
down_revision = "0003_experts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_session",
        sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("criteria", sa.Text, nullable=False),
        sa.Column("bids", sa.Text, nullable=False),
        sa.Column("leader", sa.String(256), nullable=True),
        sa.Column("vote_round", sa.Integer, nullable=False, server_default="1"),
        sa.Column("tie_round", sa.BigInteger, nullable=True),
        sa.Column("tally", sa.Text, nullable=True),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("report_sha256", sa.String(64), nullable=True),
        sa.Column("started_by", sa.String(256), nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "evaluation_member",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("expert_id", sa.String(40), nullable=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("site", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(40), nullable=False),
        sa.Column("seat", sa.Integer, nullable=False),
        sa.Column("public_key", sa.Text, nullable=True),
        sa.Column("checked_in_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "evaluation_vote",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("voter", sa.String(256), primary_key=True),
        sa.Column("candidate", sa.String(256), nullable=False),
    )
    op.create_table(
        "evaluation_sheet",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(256), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("submitted_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "evaluation_change",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tender_id", sa.String(40), nullable=False),
        sa.Column("account", sa.String(256), nullable=False),
        sa.Column("change", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_evaluation_change_tender_id", "evaluation_change", ["tender_id"])
    op.create_table(
        "evaluation_report_signature",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(256), primary_key=True),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluation_report_signature")
    op.drop_index("ix_evaluation_change_tender_id", table_name="evaluation_change")
    op.drop_table("evaluation_change")
    op.drop_table("evaluation_sheet")
    op.drop_table("evaluation_vote")
    op.drop_table("evaluation_member")
    op.drop_table("evaluation_session")
