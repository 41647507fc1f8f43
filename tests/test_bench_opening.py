"""The opening and upload benchmark in a short form, so that it cannot rot: it runs to the end
and prints each figure next to its limit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_opening_short_form_prints_figures_beside_limits() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_opening.py"), "--bids", "3", "--bid-mb", "1", "--upload-mb", "8"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    assert re.search(r"^opening: 3 bids in the record .* \(limit 3\.0 s\)", out, re.MULTILINE), out
    found = re.search(r"^upload: 8 MB in [\d.]+ s = (\d+) MB/s .* \(shutil.copyfile \+ fsync .* (\d+) MB/s; upload at (\d+)% of it\)",
                      out, re.MULTILINE)
    assert found is not None, out
    assert int(found[1]) > 0 and int(found[2]) > 0
