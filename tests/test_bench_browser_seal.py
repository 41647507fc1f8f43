"""The browser sealing benchmark in a short form, so that it cannot rot: it runs to the end in
headless Chromium and prints each figure next to its limit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import need_executable

ROOT = Path(__file__).resolve().parents[1]


def test_bench_browser_seal_short_form_prints_figures_beside_limits() -> None:
    need_executable("chromium")
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_browser_seal.py"), "--mb", "16", "--repeat", "1"],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    aead = re.search(r"^raw AEAD \(ChaCha20-Poly1305, worker\): 16 MiB in [\d.]+ s = ([\d.]+) MiB/s", out, re.MULTILINE)
    seal = re.search(r"^seal \(streamed seal pass, worker, no upload\): .* = ([\d.]+) MiB/s; (\d+)% of raw AEAD \(limit 70%\)",
                     out, re.MULTILINE)
    assert aead is not None and seal is not None, out
    assert float(aead[1]) > 0 and float(seal[1]) > 0
    assert re.search(r"^bid page .* stored 167\d{5} bytes$", out, re.MULTILINE), out  # 16 MiB + header + tags
    assert re.search(r"^long tasks on the page's main thread while sealing: \d+ over 50 ms, \d+ over 100 ms", out, re.MULTILINE), out
    found = re.search(r"^memory \(RSS from /proc\): tab renderer idle (\d+) MB, .* \(limit 400 MB\)", out, re.MULTILINE)
    assert found is not None and int(found[1]) > 0, out
