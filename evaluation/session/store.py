"""Tables of the evaluation session (migrations 0004_evaluation, 0017_lot_sessions). JSON columns are
text; times are integer microseconds since the Unix epoch (``*_us``).

A session is keyed by its id (evaluation/session/ids.py): the tender's id, or ``<tender id>.<lot>``
for each lot of a multi-lot tender; the other tables hold the session id (``session_id``)."""

from __future__ import annotations

import sqlalchemy as sa

from evaluation.db import metadata

session_table = sa.Table(
    "evaluation_session",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), nullable=False, index=True),
    sa.Column("lot", sa.Integer, nullable=True),  # the lot (分包) evaluated; null for a tender without lots
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("criteria", sa.Text, nullable=False),
    sa.Column("bids", sa.Text, nullable=False),
    sa.Column("leader", sa.String(256), nullable=True),
    sa.Column("vote_round", sa.Integer, nullable=False, server_default="1"),
    sa.Column("tie_round", sa.BigInteger, nullable=True),
    sa.Column("tally", sa.Text, nullable=True),
    sa.Column("report", sa.Text, nullable=True),
    sa.Column("report_sha256", sa.String(64), nullable=True),
    sa.Column("started_by", sa.String(256), nullable=False),
    sa.Column("started_us", sa.BigInteger, nullable=False),
)

member_table = sa.Table(
    "evaluation_member",
    metadata,
    sa.Column("session_id", sa.String(40), primary_key=True),
    sa.Column("account", sa.String(256), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # expert | purchaser_rep
    sa.Column("expert_id", sa.String(40), nullable=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("site", sa.String(40), nullable=False),
    sa.Column("specialty", sa.String(40), nullable=False),
    sa.Column("seat", sa.Integer, nullable=False),
    sa.Column("public_key", sa.Text, nullable=True),
    sa.Column("checked_in_us", sa.BigInteger, nullable=True),
    sa.Column("recused_us", sa.BigInteger, nullable=True),  # withdrew at check-in (回避)
    sa.Column("recusal", sa.Text, nullable=True),  # JSON: the bidders it declared ties to, with reasons
    sa.Column("fills", sa.Integer, nullable=True),  # the seat of the withdrawn member this one replaces
    sa.Column("released_us", sa.BigInteger, nullable=True),  # a withdrawn member's seat the agency will not refill
)

vote_table = sa.Table(
    "evaluation_vote",
    metadata,
    sa.Column("session_id", sa.String(40), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True),
    sa.Column("voter", sa.String(256), primary_key=True),
    sa.Column("candidate", sa.String(256), nullable=False),
)

sheet_table = sa.Table(
    "evaluation_sheet",
    metadata,
    sa.Column("session_id", sa.String(40), primary_key=True),
    sa.Column("account", sa.String(256), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("submitted_us", sa.BigInteger, nullable=False),
)

change_table = sa.Table(
    "evaluation_change",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(40), nullable=False, index=True),
    sa.Column("account", sa.String(256), nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
)

report_signature_table = sa.Table(
    "evaluation_report_signature",
    metadata,
    sa.Column("session_id", sa.String(40), primary_key=True),
    sa.Column("account", sa.String(256), primary_key=True),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
)

TABLES = (session_table, member_table, vote_table, sheet_table, change_table, report_signature_table)
