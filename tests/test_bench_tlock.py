"""The timelock benchmark in a short form, so that it cannot rot: it runs, round-trips the file
byte for byte, and prints each figure next to its limit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_tlock_short_form_prints_figures_beside_limits() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_tlock.py"), "--size-mb", "4", "--bids", "3", "--ibe", "2", "--repeat", "1"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    assert "output identical" in out
    for op in ("seal", "unseal"):
        line = re.search(rf"^{op}: ([\d.]+) MB/s \(raw AEAD on the same data in memory ([\d.]+) MB/s, (\d+)%", out, re.M)
        assert line is not None, out
        rate, limit, percent = float(line[1]), float(line[2]), int(line[3])
        assert rate > 0 and limit > 0 and abs(percent - 100 * rate / limit) <= 1
        beside = re.search(rf"^  {op}: reading the file alone .* AEAD plus that reading ([\d.]+) MB/s, {op} at (\d+)% of it", out, re.M)
        assert beside is not None, out
        assert float(beside[1]) < limit  # the reading adds to the cipher's time, never takes from it
    assert re.search(r"^seal peak RSS: [\d.]+ MB", out, re.M)
    assert re.search(r"^opening: 3 armored bids", out, re.M)
