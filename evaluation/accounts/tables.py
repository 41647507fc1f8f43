"""Tables of accounts, their sign-in sessions and the login throttle (migration 0001_initial).

Times are integer microseconds since the Unix epoch (``*_us``)."""

from __future__ import annotations

import sqlalchemy as sa

from evaluation.db import metadata

account_table = sa.Table(
    "account",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("organization", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("password_changed_us", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("username", name="uq_account_username"),
)

session_table = sa.Table(
    "account_session",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(32), sa.ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("last_seen_us", sa.BigInteger, nullable=False),
)

throttle_table = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start_us", sa.BigInteger, nullable=False),
    sa.Column("locked_until_us", sa.BigInteger, nullable=False),
)
