"""The expert pool keyed by what an officer knows: an expert's ID number (身份证号), unique.

Revision ID: 0007_experts_pool
Revises: 0014_member_recusal
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_experts_pool"
down_revision = "0014_member_recusal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("expert") as batch:
        batch.add_column(sa.Column("id_number", sa.String(18), nullable=True))
        batch.create_index("ix_expert_id_number", ["id_number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("expert") as batch:
        batch.drop_index("ix_expert_id_number")
        batch.drop_column("id_number")
