"""The soak in its short form (bench/bench_soak.py --short), so that it cannot rot: a real
`pingbiao serve` on a scratch PostgreSQL database, booths churning, an opening and scoring at once.
Correctness only — every figure's speed depends on the machine, so none is asserted: no error
anywhere, nothing delivered across rooms or to the wrong peer or lost, every bid opened, every
evaluation through to review, and the server's memory not running away (end < 2 × middle)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import reachable_admin

ROOT = Path(__file__).resolve().parents[1]


async def _postgres() -> None:
    admin = await reachable_admin()  # skips (fails under CI) without the test PostgreSQL
    await admin.dispose()


@pytest.mark.timeout(600)
def test_bench_soak_short_form_is_correct() -> None:
    asyncio.run(_postgres())
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_soak.py"), "--short"],
                          check=False, capture_output=True, text=True, timeout=600, cwd=ROOT)
    out = done.stdout
    lines = [line for line in out.splitlines() if line.startswith("summary ")]
    assert lines, out + done.stderr[-3000:]
    s = json.loads(lines[-1].removeprefix("summary "))
    assert (s["errors"], s["bare_errors"]) == (0, 0), out
    assert (s["cross_room"], s["misdelivered"], s["lost"]) == (0, 0, 0), out
    assert s["relays"] > 0 and s["joins"] > 44 and s["leaves"] + s["drops"] > 0, out  # churn happened
    assert s["bids"] == s["opened"] == s["rows"] == 10, out
    assert (s["scored"], s["idle_scored"]) == (1, 1), out
    assert s["rss_end_kb"] < 2 * s["rss_middle_kb"], out
    assert done.returncode == 0, out
    for figure in ("message latency p99, ms", "relays/s", "opening of 10 bids", "scoring request p99, ms",
                   "server RSS start / middle / end", "errors"):
        assert figure in out, out
