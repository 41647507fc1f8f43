"""Benchmark the JSON reading rule (evaluation/inputs.py) on hostile 1 MiB bodies.

Run from the repository root:  python bench/bench_inputs.py

Each figure is printed next to its limit measured in the same run: the standard library's
json.loads of the same bytes (what reading the body cost before the rule). The best of five runs
is reported, to damp noise from other load on the machine. Bodies over 64 KiB are parsed in a
worker thread by web/api/body.py, so these figures are not time the event loop stands still.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation.inputs import MAX_JSON_BYTES, InputError, parse_json  # noqa: E402

N = MAX_JSON_BYTES
BODIES = {
    "500k integers": b"[" + b"1," * (N // 2 - 2) + b"1]",
    "250k strings": b"[" + b'"a",' * (N // 4 - 2) + b'"a"]',
    "350k empty lists": b"[" + b"[]," * (N // 3 - 2) + b"[]]",
    "130k small objects": b"[" + b'{"a":1},' * (N // 8 - 2) + b"{}]",
    "1 MiB of escapes": b'"' + b"\\u00e9" * (N // 6 - 1) + b'"',
    "1 M open brackets": b"[" * (N - 1),
}


def best(run: Callable[[], object], times: int = 5) -> float:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        try:
            run()
        except (InputError, ValueError, RecursionError):
            pass
        out.append(time.perf_counter() - start)
    return min(out)


def main() -> None:
    print(f"{'body':22s} {'parse_json':>11s} {'json.loads (limit)':>19s}")
    for name, raw in BODIES.items():
        ours = best(lambda: parse_json(raw))
        limit = best(lambda: json.loads(raw))
        print(f"{name:22s} {ours * 1000:9.1f} ms {limit * 1000:16.1f} ms")


if __name__ == "__main__":
    main()
