"""Chain info parsing, hashing and round/time arithmetic (drand common/time.go semantics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crypto.chain import ChainInfo
from crypto.errors import FormatError
from tests.conftest import VECTORS

CHAIN_FILES = sorted((VECTORS / "tlock").glob("*/chain-info.json"))


@pytest.mark.parametrize("path", CHAIN_FILES, ids=lambda p: p.parent.name)
def test_published_chain_hashes_recompute(path: Path) -> None:
    info = ChainInfo.from_json(path.read_text())
    assert info.computed_hash() == info.hash
    info.check_hash()


@pytest.mark.parametrize("path", CHAIN_FILES[:1], ids=lambda p: p.parent.name)
def test_round_trip_json(path: Path) -> None:
    info = ChainInfo.from_json(path.read_text())
    assert ChainInfo.from_json(json.dumps(info.to_json())) == info


def test_changed_field_breaks_hash() -> None:
    info = ChainInfo.from_json((VECTORS / "tlock/quicknet-r1000-beacon-only/chain-info.json").read_text())
    forged = ChainInfo.from_json({**info.to_json(), "period": 30})
    with pytest.raises(FormatError, match="does not match its hash"):
        forged.check_hash()


def test_quicknet_rounds_and_times() -> None:
    info = ChainInfo.from_json((VECTORS / "tlock/quicknet-r1000-beacon-only/chain-info.json").read_text())
    g, p = info.genesis_time, info.period
    assert info.time_of(1) == g
    assert info.round_at(g - 1) == 0
    assert info.round_at(g) == 1
    assert info.round_at(g + p - 0.001) == 1
    assert info.round_at(g + p) == 2
    # "not before T": first round whose time is >= T.
    assert info.round_not_before(g + p) == 2
    assert info.round_not_before(g + p + 0.5) == 3
    assert info.time_of(info.round_not_before(g + 1000.2)) >= g + 1000.2
    assert info.time_of(info.round_not_before(g + 1000.2) - 1) < g + 1000.2


@pytest.mark.parametrize(
    "doc",
    ["not json", "[]", json.dumps({"period": 3}), json.dumps({"public_key": "zz", "period": 3, "genesis_time": 1, "hash": "00" * 32})],
)
def test_malformed_info_is_a_format_error(doc: str) -> None:
    with pytest.raises(FormatError):
        ChainInfo.from_json(doc)
