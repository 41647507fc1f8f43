"""crypto.checkpoint against checkpoint-parse/cases.json, using the strict `c2sp_valid` verdict.

Source (tests/vectors/merkle/README.md): transparency-dev/formats log/checkpoint_test.go @7a6ef700;
C2SP/C2SP tlog-checkpoint.md for the stricter rules.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from crypto.checkpoint import Checkpoint
from crypto.errors import FormatError
from tests.conftest import VECTORS

CASES: list[dict[str, Any]] = json.loads(
    (VECTORS / "merkle" / "checkpoint-parse" / "cases.json").read_text()
)["cases"]
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize("case", CASES, ids=[c["desc"] for c in CASES])
def test_upstream_case(case: dict[str, Any]) -> None:
    if case["c2sp_valid"]:
        assert Checkpoint.parse(case["text"]).to_bytes() == case["text"].encode()
    else:
        with pytest.raises(FormatError):
            Checkpoint.parse(case["text"])


def test_upstream_verdicts_are_all_rejections() -> None:
    # None of the upstream cases has a 32-byte root, so C2SP rejects them all; the positive
    # cases below use real roots.
    assert not any(c["c2sp_valid"] for c in CASES)
    assert sum(c["formats_valid"] for c in CASES) == 2


@pytest.mark.parametrize(
    "body",
    [
        f"example.com/log\n0\n{ROOT_B64}\n",
        f"example.com/log\n20852163\n{ROOT_B64}\n",
        f"go.sum database tree\n18446744073709551615\n{ROOT_B64}\n",
        f"example.com/log\n7\n{ROOT_B64}\nextension one\nextension two\n",
    ],
)
def test_round_trip(body: str) -> None:
    checkpoint = Checkpoint.parse(body)
    assert checkpoint.root == ROOT
    assert checkpoint.to_bytes() == body.encode()
    assert Checkpoint.parse(body.encode()) == checkpoint


def test_fields() -> None:
    checkpoint = Checkpoint.parse(f"example.com/log\n42\n{ROOT_B64}\next\n")
    assert checkpoint == Checkpoint("example.com/log", 42, ROOT, ("ext",))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"example.com/log\n007\n{ROOT_B64}\n", "leading zeroes"),
        (f"example.com/log\n+7\n{ROOT_B64}\n", "not a decimal number"),
        (f"example.com/log\n٣\n{ROOT_B64}\n", "not a decimal number"),
        (f"example.com/log\n18446744073709551616\n{ROOT_B64}\n", "64-bit"),
        (f"example.com/log\n1\n{ROOT_B64[:-2]}\n", "not valid base64"),
        (f"example.com/log\n1\n{ROOT_B64[:-2]}F=\n", "not canonical base64"),
        (f"example.com/log\n1\n{base64.b64encode(bytes(31)).decode()}\n", "31 bytes, want 32"),
        (f"example.com/log\n1\n{ROOT_B64}\n\n", "extension line must not be empty"),
        (f"example.com/log\n1\n{ROOT_B64}\nx\r\n", "control characters"),
        (f"\n1\n{ROOT_B64}\n", "origin must not be empty"),
        (f"example.com/log\n1\n{ROOT_B64}", "must end with a newline"),
        ("example.com/log\n1\n", "want at least 3"),
    ],
)
def test_rejects(body: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        Checkpoint.parse(body)


def test_not_utf8() -> None:
    with pytest.raises(FormatError, match="not valid UTF-8"):
        Checkpoint.parse(b"\xff\n1\n" + ROOT_B64.encode() + b"\n")
