"""Tables of notifications (migration 0005_notifications): the notices, the position in the audit
log up to which notices were made, and the accounts' email addresses. Times are integer µs."""

from __future__ import annotations

import sqlalchemy as sa

from evaluation.db import metadata

notice_table = sa.Table(
    "notification",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(256), nullable=False, index=True),
    sa.Column("tender_id", sa.String(40), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("link", sa.String(300), nullable=False),
    sa.Column("entry_index", sa.BigInteger, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("read_us", sa.BigInteger, nullable=True),
    sa.Column("emailed_us", sa.BigInteger, nullable=True),  # -1: not to be emailed (no address or mail off)
)

cursor_table = sa.Table(
    "notification_cursor",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # the next audit log index to look at
)

contact_table = sa.Table(
    "account_contact",
    metadata,
    sa.Column("account_id", sa.String(32), sa.ForeignKey("account.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
)
