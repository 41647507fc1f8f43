"""crypto.tiles against tlog-tiles/layout.json.

Source (tests/vectors/merkle/README.md): C2SP/C2SP tlog-tiles.md @5ba5ee83.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crypto.tiles import TileCount, entries_path, index_path, tile_path, tiles_for_size
from tests.conftest import VECTORS

LAYOUT: dict[str, Any] = json.loads((VECTORS / "merkle" / "tlog-tiles" / "layout.json").read_text())


@pytest.mark.parametrize("example", LAYOUT["index_path_examples"], ids=lambda e: str(e["n"]))
def test_index_path_vector(example: dict[str, Any]) -> None:
    assert index_path(example["n"]) == example["path_element"]


@pytest.mark.parametrize("example", LAYOUT["tree_size_examples"], ids=lambda e: str(e["size"]))
def test_tile_counts_vector(example: dict[str, Any]) -> None:
    want = [TileCount(t["level"], t["full"], t["partial_width"]) for t in example["tiles"]]
    assert tiles_for_size(example["size"]) == want


def test_paths() -> None:
    assert index_path(0) == "000"
    assert index_path(999) == "999"
    assert index_path(1000) == "x001/000"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(2, 0, 1) == "tile/2/000.p/1"
    assert entries_path(273, 112) == "tile/entries/273.p/112"
    assert tiles_for_size(0) == []
    with pytest.raises(ValueError, match="must not be negative"):
        index_path(-1)
    with pytest.raises(ValueError, match="level must be 0..63"):
        tile_path(64, 0)
    with pytest.raises(ValueError, match="width must be 1..256"):
        tile_path(0, 0, 0)
    with pytest.raises(ValueError, match="width must be 1..256"):
        entries_path(0, 257)
