"""One evaluation session per lot (分包): sessions keyed by their id, not by the tender.

``evaluation_session`` gets ``id`` (the primary key: the tender's id, or ``<tender id>.<lot>`` for a
lot of a multi-lot tender, evaluation/session/ids.py) and ``lot``; ``tender_id`` stays, indexed,
no longer unique. The other session tables name the session: their ``tender_id`` becomes
``session_id``. ``evaluation_member.released_us``: a withdrawn member's seat the agency leaves
unfilled because the committee without it still has a lawful composition. A session started before this revision for one lot of a multi-lot tender (its
config names the lot) takes the id of that lot.

Revision ID: 0017_lot_sessions
Revises: 0016_open_failure_codes
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0017_lot_sessions"
down_revision = "0016_open_failure_codes"
branch_labels = None
depends_on = None

CHILDREN = ("evaluation_member", "evaluation_vote", "evaluation_sheet", "evaluation_change", "evaluation_report_signature")
COLUMNS = ("state", "config", "criteria", "bids", "leader", "vote_round", "tie_round", "tally", "report",
           "report_sha256", "started_by", "started_us")


def _session_table(name: str, keyed_by_id: bool) -> None:
    key = ([sa.Column("id", sa.String(40), primary_key=True),
            sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), nullable=False),
            sa.Column("lot", sa.Integer, nullable=True)]
           if keyed_by_id else [sa.Column("tender_id", sa.String(40), sa.ForeignKey("tender.id"), primary_key=True)])
    op.create_table(
        name, *key,
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


def _rename_key(old: str, new: str) -> None:
    op.drop_index(f"ix_evaluation_change_{old}", table_name="evaluation_change")
    for table in CHILDREN:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(old, new_column_name=new, existing_type=sa.String(40), existing_nullable=False)
    op.create_index(f"ix_evaluation_change_{new}", "evaluation_change", [new])


def upgrade() -> None:
    conn = op.get_bind()
    _session_table("evaluation_session_by_id", keyed_by_id=True)
    columns = ", ".join(COLUMNS)
    rows = conn.execute(sa.text(f"select tender_id, {columns} from evaluation_session")).mappings().all()
    moved: dict[str, str] = {}
    for row in rows:
        lot = json.loads(row["config"]).get("lot")
        sid = row["tender_id"] if lot is None else f"{row['tender_id']}.{int(lot)}"
        if sid != row["tender_id"]:
            moved[row["tender_id"]] = sid
        conn.execute(sa.text(f"insert into evaluation_session_by_id (id, tender_id, lot, {columns}) "
                             f"values (:id, :tender_id, :lot, {', '.join(':' + c for c in COLUMNS)})"),
                     {**dict(row), "id": sid, "lot": None if lot is None else int(lot)})
    op.drop_table("evaluation_session")
    op.rename_table("evaluation_session_by_id", "evaluation_session")
    op.create_index("ix_evaluation_session_tender_id", "evaluation_session", ["tender_id"])
    _rename_key("tender_id", "session_id")
    with op.batch_alter_table("evaluation_member") as batch:
        batch.add_column(sa.Column("released_us", sa.BigInteger, nullable=True))
    for table in CHILDREN:
        for old, new in moved.items():
            conn.execute(sa.text(f"update {table} set session_id = :new where session_id = :old"), {"new": new, "old": old})


def downgrade() -> None:
    conn = op.get_bind()
    twice = conn.execute(sa.text("select tender_id from evaluation_session group by tender_id having count(*) > 1")).first()
    if twice is not None:
        raise RuntimeError(f"tender {twice[0]} has several lot sessions: the schema before 0016 holds one per tender")
    with op.batch_alter_table("evaluation_member") as batch:
        batch.drop_column("released_us")
    _rename_key("session_id", "tender_id")
    for table in CHILDREN:
        conn.execute(sa.text(f"update {table} set tender_id = (select s.tender_id from evaluation_session s "
                             f"where s.id = {table}.tender_id) where tender_id in (select id from evaluation_session)"))
    op.drop_index("ix_evaluation_session_tender_id", table_name="evaluation_session")
    _session_table("evaluation_session_by_tender", keyed_by_id=False)
    columns = ", ".join(COLUMNS)
    conn.execute(sa.text(f"insert into evaluation_session_by_tender (tender_id, {columns}) "
                         f"select tender_id, {columns} from evaluation_session"))
    op.drop_table("evaluation_session")
    op.rename_table("evaluation_session_by_tender", "evaluation_session")
