"""Notifications: notices per account, the audit-log position they were made up to, and the
accounts' email addresses (evaluation/notifications/store.py).

Revision ID: 0005_notifications
Revises: 0004_evaluation
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_notifications"
down_revision = "0004_evaluation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(256), nullable=False),
        sa.Column("tender_id", sa.String(40), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("entry_index", sa.BigInteger, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("read_us", sa.BigInteger, nullable=True),
        sa.Column("emailed_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_notification_account", "notification", ["account"])
    op.create_table(
        "notification_cursor",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "account_contact",
        sa.Column("account_id", sa.String(32), sa.ForeignKey("account.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_contact")
    op.drop_table("notification_cursor")
    op.drop_index("ix_notification_account", "notification")
    op.drop_table("notification")
