"""A failed bid's failure code in the opening record (``bid_opening.code``, opening.FAILURES).

Revision ID: 0016_open_failure_codes
Revises: 0015_member_fills
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_open_failure_codes"
down_revision = "0015_member_fills"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bid_opening") as batch:
        batch.add_column(sa.Column("code", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bid_opening") as batch:
        batch.drop_column("code")
