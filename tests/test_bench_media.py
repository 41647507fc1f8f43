"""The media benchmark in a short form, so that it cannot rot: it runs and prints each figure next to
its limit (the Janus room part only where janus is installed; it says so otherwise)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_media_short_form_prints_figures_beside_limits() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_media.py"), "--publishers", "2", "--seconds", "2",
         "--hash-mb", "8", "--rounds", "4", "--repeat", "1", "--rooms", "1", "--room-publishers", "2"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    if shutil.which("janus") is None:
        assert re.search(r"^media: janus is not installed", out, re.M), out
    else:
        line = re.search(r"^frames: (\d+) delivered / (\d+) sent = [\d.]+% over", out, re.M)
        assert line is not None and int(line[2]) > 0, out
        assert re.search(r"^recordings: [\d.]+ MB of \.mjr", out, re.M), out
        assert re.search(r"^janus cpu: [\d.]+ s over", out, re.M), out
        rooms = re.search(r"^rooms: 1 recorded rooms x 2 publishers .*: (\d+) frames delivered / (\d+) sent", out, re.M)
        assert rooms is not None and int(rooms[1]) > 0 and int(rooms[2]) > 0, out
        assert re.search(r"^rooms capacity: .* limit: \d+ cores .* about [\d.]+ full rooms", out, re.M), out
    mesh = re.search(r"^mesh: 2 participants in a full mesh .*: (\d+) frames delivered / (\d+) sent .* 1 video copies", out, re.M)
    assert mesh is not None and int(mesh[1]) > 0 and int(mesh[2]) > 0, out
    if shutil.which("janus") is not None:
        assert re.search(r"^mesh vs sfu: upstream copies per participant 1 vs 1; upstream \d+ vs \d+ kbit/s", out, re.M), out
    line = re.search(r"^checkpoint hashing: ([\d.]+) MB/s .* in memory ([\d.]+) MB/s, (\d+)%\)", out, re.M)
    assert line is not None, out
    assert float(line[1]) > 0 and float(line[2]) > 0
    assert re.search(r"^checkpoint cost: 13 publishers at an assumed [\d.]+ Mbit/s", out, re.M), out
