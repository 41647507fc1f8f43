"""The migrations build exactly the schema `metadata` describes, on SQLite and PostgreSQL.

Every module of evaluation/ is imported first, so a table added to `metadata` without a revision
in evaluation/migrations/versions/ makes this fail (alembic's compare_metadata, as `alembic check`).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

import evaluation
from evaluation.db import create_schema, make_engine, metadata
from evaluation.migrations import alembic_config, downgrade, upgrade


def import_every_module() -> None:
    for info in pkgutil.walk_packages(evaluation.__path__, "evaluation."):
        if not info.name.startswith("evaluation.migrations"):
            importlib.import_module(info.name)


def differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_metadata(engine: AsyncEngine) -> None:
    import_every_module()
    async with engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == [], f"metadata and migrations differ (add a revision): {diff}"


async def test_upgrade_is_idempotent_and_reversible(engine: AsyncEngine) -> None:
    await create_schema(engine)  # the fixture already migrated: nothing to do
    async with engine.begin() as conn:
        await conn.run_sync(downgrade, "base")
    async with engine.connect() as conn:
        left = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()) - {"alembic_version"})
    assert left == set()
    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert {"audit_entry", "account", "account_session", "login_throttle", "alembic_version"} <= tables


def test_one_head_and_scripts_ship_in_the_package() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1, "two revisions share a down_revision: chain them"
    assert Path(scripts.dir).is_relative_to(Path(evaluation.__file__).parent)
    assert scripts.get_revision("0001_initial") is not None


async def test_standalone_env_runs_on_a_url(tmp_path: Path) -> None:
    """`alembic upgrade head` outside the app (a URL in the config) uses the async engine too."""
    import asyncio

    from alembic import command

    url = f"sqlite+aiosqlite:///{tmp_path / 'standalone.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert "account" in tables


async def test_0017_gives_an_existing_lot_session_the_id_of_its_lot(engine: AsyncEngine) -> None:
    """A session started for lot 2 before sessions were per lot becomes ``<tender>.2`` with its
    members, votes and sheets; a tender's own session keeps the tender's id; and back again."""
    async with engine.begin() as conn:
        await conn.run_sync(downgrade, "0015_member_fills")
        for tid in ("T-lots", "T-one"):
            await conn.execute(sa.text(
                "insert into tender (id, agency, agency_name, state, spec, opening_time, created_us) "
                "values (:id, 'acc-agency', '采购中心', 'evaluating', '{}', 0, 0)"), {"id": tid})
        for tid, config in (("T-lots", '{"method": "comprehensive", "lot": 2}'), ("T-one", '{"method": "comprehensive"}')):
            await conn.execute(sa.text(
                "insert into evaluation_session (tender_id, state, config, criteria, bids, vote_round, started_by, started_us) "
                "values (:id, 'scoring', :config, '[]', '[]', 1, 'acc-agency', 0)"), {"id": tid, "config": config})
            await conn.execute(sa.text(
                "insert into evaluation_member (tender_id, account, kind, name, site, specialty, seat) "
                "values (:id, 'acc-e1', 'expert', '专家', 'main', 'A01', 1)"), {"id": tid})
            await conn.execute(sa.text("insert into evaluation_vote (tender_id, round, voter, candidate) "
                                       "values (:id, 1, 'acc-e1', 'acc-e1')"), {"id": tid})
        await conn.run_sync(upgrade)
    async with engine.connect() as conn:
        sessions = (await conn.execute(sa.text("select id, tender_id, lot from evaluation_session order by id"))).all()
        members = (await conn.execute(sa.text("select session_id from evaluation_member order by session_id"))).scalars().all()
        votes = (await conn.execute(sa.text("select session_id from evaluation_vote order by session_id"))).scalars().all()
    assert [tuple(r) for r in sessions] == [("T-lots.2", "T-lots", 2), ("T-one", "T-one", None)]
    assert members == votes == ["T-lots.2", "T-one"]
    async with engine.begin() as conn:
        await conn.run_sync(downgrade, "0015_member_fills")
    async with engine.connect() as conn:
        members = (await conn.execute(sa.text("select tender_id from evaluation_member order by tender_id"))).scalars().all()
    assert members == ["T-lots", "T-one"]
