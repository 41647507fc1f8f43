"""A committee member's withdrawal at check-in (回避): when, and the bidders it declared ties to.

Revision ID: 0014_member_recusal
Revises: 0010_bid_lots
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_member_recusal"
down_revision = "0010_bid_lots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation_member") as batch:
        batch.add_column(sa.Column("recused_us", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("recusal", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluation_member") as batch:
        batch.drop_column("recusal")
        batch.drop_column("recused_us")
