"""The lot prices of a multi-lot bid in the opening record (``bid_opening.lots``, 分包报价).

Revision ID: 0010_bid_lots
Revises: 0006_audit_check
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_bid_lots"
down_revision = "0006_audit_check"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bid_opening") as batch:
        batch.add_column(sa.Column("lots", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bid_opening") as batch:
        batch.drop_column("lots")
