"""Schema migrations (Alembic), shipped inside the package so an installed pingbiao can migrate.

``upgrade(connection)`` runs ``alembic upgrade head`` on a synchronous connection (from an async
engine: ``await conn.run_sync(upgrade)``); ``evaluation.db.create_schema`` does exactly that. The
configuration is built here, not read from an alembic.ini. To write a new revision, add a file to
``versions/`` whose ``down_revision`` is the current head; the test in
tests/evaluation/test_migrations.py fails while ``metadata`` and the migrated schema differ.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

HERE = Path(__file__).parent


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at this package's scripts (and at `url`, for standalone use)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database of `connection` to `revision`, inside the connection's transaction."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Migrate the database of `connection` down to `revision` ("base": no tables)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)
