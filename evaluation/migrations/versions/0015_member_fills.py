"""A member that refills a withdrawn (回避) member's seat: the seat it fills.

Revision ID: 0015_member_fills
Revises: 0007_experts_pool
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_member_fills"
down_revision = "0007_experts_pool"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation_member") as batch:
        batch.add_column(sa.Column("fills", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluation_member") as batch:
        batch.drop_column("fills")
