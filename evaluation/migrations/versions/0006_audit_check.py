"""The audit log's start-up check marks (evaluation/audit/store.py, ``audit_check``).

Revision ID: 0006_audit_check
Revises: 0005_notifications
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_check"
down_revision = "0005_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_check",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("checked_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_check")
