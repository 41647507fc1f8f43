"""The expert pool (专家库), draws and committee invitations (evaluation/experts/store.py).

Revision ID: 0003_experts
Revises: 0002_tenders
Create Date: 2026-05-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_experts"
down_revision = "0002_tenders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expert",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("account_id", sa.String(256), nullable=True),
        sa.Column("region", sa.String(12), nullable=False),
        sa.Column("sites", sa.String(20), nullable=False),
        sa.Column("specialties", sa.Text, nullable=False),
        sa.Column("affiliations", sa.Text, nullable=False),
        sa.Column("relatives", sa.Text, nullable=False),
        sa.Column("unavailable", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_expert_account_id", "expert", ["account_id"])
    op.create_table(
        "expert_draw",
        sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
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
    op.create_index("ix_expert_draw_state", "expert_draw", ["state"])
    op.create_table(
        "expert_member",
        sa.Column("tender_id", sa.String(40), primary_key=True),
        sa.Column("expert_id", sa.String(40), primary_key=True),
        sa.Column("seat", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("site", sa.String(40), nullable=False),
        sa.Column("site_role", sa.String(20), nullable=False),
        sa.Column("specialty", sa.String(40), nullable=False),
        sa.Column("replaces", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_expert_member_expert_id", "expert_member", ["expert_id"])


def downgrade() -> None:
    op.drop_index("ix_expert_member_expert_id", table_name="expert_member")
    op.drop_table("expert_member")
    op.drop_index("ix_expert_draw_state", table_name="expert_draw")
    op.drop_table("expert_draw")
    op.drop_index("ix_expert_account_id", table_name="expert")
    op.drop_table("expert")
