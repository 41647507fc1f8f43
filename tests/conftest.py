"""Shared fixtures and the rule for tests that need a real service.

Tests talk to the real thing (PostgreSQL, Redis, node + tlock-js, Chromium). When one is missing,
a test skips with the reason printed (`pytest -ra`); under CI=true it fails instead, so a CI run
can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(available: bool, reason: str) -> None:
    """Skip (outside CI) or fail (under CI=true) the calling test unless `available`."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required service missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def need_executable(name: str) -> str:
    """Path of an executable on PATH, or skip/fail naming it."""
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed")
    assert path is not None
    return path


@pytest.fixture
def vectors() -> Path:
    """The published test vectors (tests/vectors/README files name their sources)."""
    return VECTORS
