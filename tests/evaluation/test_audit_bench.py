"""bench/bench_audit.py in a short form, so that it cannot rot: every part runs on tiny sizes, on
SQLite and (when reachable) PostgreSQL. No timing is asserted: only that each figure is printed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.evaluation.conftest import PG_URL

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_audit.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_audit", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_audit"] = module
    spec.loader.exec_module(module)
    return module


async def test_the_audit_bench_runs_in_short(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    await bench.main(["--entries", "3000", "--sizes", "300,2000", "--appends", "200", "--bare", "500", "--rss-sizes", "1500",
                      "--pg", PG_URL])
    out = capsys.readouterr().out
    assert "sqlite: bare INSERT same rows:" in out and "verification runs at" in out
    assert "base64 of the same leaves" in out and "--strict" in out
    assert "1,500 entries (" in out and "peak" in out.split("verify memory")[1].splitlines()[1]
    databases = ["sqlite"] + ([] if "postgresql: skipped" in out else ["postgresql"])
    for label in databases:
        table = out[out.index(f"{label}: audit log growth") :].splitlines()
        assert "inclusion ms med/p99" in table[1] and "full check s" in table[1]
        assert table[2].split("|")[0].strip() == "300" and table[3].split("|")[0].strip() == "2,000"
    assert "2,200 entries: export" in out and "verify" in out and "peak" in out
