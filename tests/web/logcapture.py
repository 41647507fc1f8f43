"""The platform's JSON log lines, read back: web/logs.py set up as `pingbiao serve` sets it up,
its stream pointed at a buffer. Use as a fixture: ``from tests.web.logcapture import stderr_json``."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from web.logs import setup_logging


@pytest.fixture
def stderr_json() -> Any:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    setup_logging("json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]

    yield lines
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
