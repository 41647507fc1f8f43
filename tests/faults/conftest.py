"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.faults.installs import Copier
from tests.faults.procs import Launcher
from tests.pg import ScratchDatabases, reachable_admin


@pytest.fixture(scope="session")
def launcher() -> Iterator[Launcher]:
    """Forks `pingbiao serve` processes (tests/faults/procs.py)."""
    made = Launcher()
    yield made
    made.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def copier(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Copier]:
    """Copies of one installation (tests/faults/installs.py), on SQLite or on scratch PostgreSQL databases."""
    if request.param == "sqlite":
        yield Copier(tmp_path, None)
        return
    admin = await reachable_admin(isolation_level="AUTOCOMMIT")
    made = Copier(tmp_path, admin, ScratchDatabases.url)
    try:
        yield made
    finally:
        try:
            await made.drop_all()
        finally:
            await admin.dispose()
