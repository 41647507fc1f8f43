"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.procs import Launcher


@pytest.fixture(scope="session")
def launcher() -> Iterator[Launcher]:
    """Forks `pingbiao serve` processes (tests/faults/procs.py)."""
    made = Launcher()
    yield made
    made.close()
