"""crypto.merkle and crypto.proof against the RFC 9162 reference (tests/crypto/merkle_reference.py).

The production code and the reference are run over the same questions: every tree size 0..70
with every leaf index and every older size, then random indices in bigger trees. Published
vectors are in test_proof_vectors.py.
"""

from __future__ import annotations

import random

import pytest

from crypto import merkle
from crypto.merkle import NodeID
from crypto.proof import (
    MalformedProofError,
    RootMismatchError,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests.crypto import merkle_reference as ref
from tests.crypto.merkle_impls import VERIFIERS, ProofVerifier, ReferenceLog, StoredLog

ORACLE_SIZES = 70
ENTRIES = [f"entry {i}".encode() for i in range(3000)]


@pytest.fixture(scope="module")
def stored() -> StoredLog:
    return StoredLog(ENTRIES)


@pytest.fixture(scope="module")
def reference() -> ReferenceLog:
    return ReferenceLog(ENTRIES)


# --- hashing -------------------------------------------------------------------------------


def test_hashes_have_the_rfc_prefixes() -> None:
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.node_hash(a, b) != merkle.node_hash(b, a)
    assert merkle.node_hash(a, b) != merkle.leaf_hash(a + b)  # domain separation


@pytest.mark.parametrize("size", range(ORACLE_SIZES + 1))
def test_root_matches_reference(size: int) -> None:
    entries = ENTRIES[:size]
    want = ref.mth(entries)
    assert merkle.root([merkle.leaf_hash(e) for e in entries]) == want
    assert merkle.root_from_data(entries) == want


# --- node addressing -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 13, 64, 1000, 1_000_000])
def test_range_nodes_cover_the_tree_once(size: int) -> None:
    nodes = merkle.range_nodes(size)
    assert len(nodes) == size.bit_count()
    position = 0
    for node in nodes:
        assert node.begin == position
        position = node.end
    assert position == size
    assert [n.level for n in nodes] == sorted((n.level for n in nodes), reverse=True)


def test_range_nodes_rejects_an_unaligned_start() -> None:
    assert merkle.range_nodes(7, 4) == [NodeID(1, 2), NodeID(0, 6)]
    assert merkle.range_nodes(8, 4) == [NodeID(2, 1)]
    assert merkle.range_nodes(4, 4) == []
    with pytest.raises(ValueError, match="subtree boundary"):
        merkle.range_nodes(9, 4)
    with pytest.raises(ValueError, match="subtree boundary"):
        merkle.range_nodes(7, 2)
    with pytest.raises(ValueError, match="invalid leaf range"):
        merkle.range_nodes(3, 4)


def test_new_nodes_on_append() -> None:
    assert merkle.new_nodes_on_append(0) == [NodeID(0, 0)]
    assert merkle.new_nodes_on_append(1) == [NodeID(0, 1), NodeID(1, 0)]
    assert merkle.new_nodes_on_append(2) == [NodeID(0, 2)]
    assert merkle.new_nodes_on_append(7) == [NodeID(0, 7), NodeID(1, 3), NodeID(2, 1), NodeID(3, 0)]
    assert merkle.new_nodes_on_append(11) == [NodeID(0, 11), NodeID(1, 5), NodeID(2, 2)]
    with pytest.raises(ValueError):
        merkle.new_nodes_on_append(-1)


def test_appends_store_every_complete_subtree_once(stored: StoredLog) -> None:
    size = len(ENTRIES)
    expected = {NodeID(level, i) for level in range(size.bit_length()) for i in range(size >> level)}
    assert set(stored.nodes) == expected
    for node in [NodeID(0, 5), NodeID(3, 7), NodeID(10, 1), NodeID(11, 0)]:
        assert stored.nodes[node] == ref.mth(ENTRIES[node.begin : node.end])
    assert stored.compact == [stored.nodes[n] for n in merkle.range_nodes(size)]


def test_hashes_on_append_checks_the_compact_range() -> None:
    with pytest.raises(ValueError, match="want 2"):
        merkle.hashes_on_append(3, merkle.leaf_hash(b"x"), [merkle.EMPTY_ROOT])


def test_inclusion_nodes_at_a_million_entries() -> None:
    size = 1_000_000
    for index in [0, 1, 499_999, 999_999, 999_423, 983_040]:
        nodes = merkle.inclusion_nodes(index, size)
        assert len(nodes.ids) < 40  # one query for a few dozen known ids at most
        assert len(set(nodes.ids)) == len(nodes.ids)
        assert all(node.end <= size for node in nodes.ids), "only complete subtrees are stored"
        assert len(nodes.rehash([merkle.EMPTY_ROOT] * len(nodes.ids))) <= 20  # tree height
    # A leaf in the last full 2^19 block: the ephemeral sibling [2^19, 10^6) is several nodes.
    nodes = merkle.inclusion_nodes(0, size)
    ephemeral = nodes.ids[nodes.ephemeral_begin : nodes.ephemeral_end]
    assert ephemeral == tuple(merkle.range_nodes(size, 1 << 19))
    assert len(nodes.ids) == 19 + len(ephemeral)


def test_node_preconditions() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 3)]:
        with pytest.raises(ValueError, match="not in a tree"):
            merkle.inclusion_nodes(index, size)
    for size1, size2 in [(0, 5), (6, 5), (-1, 2)]:
        with pytest.raises(ValueError, match="no consistency proof"):
            merkle.consistency_nodes(size1, size2)
    assert merkle.consistency_nodes(9, 9).ids == ()
    with pytest.raises(ValueError, match="got 1 hashes for 2 proof nodes"):
        merkle.inclusion_nodes(0, 3).rehash([merkle.EMPTY_ROOT])


# --- oracle: production vs RFC reference ---------------------------------------------------


@pytest.mark.parametrize("size", range(1, ORACLE_SIZES + 1))
def test_proofs_match_reference_for_every_small_tree(size: int, stored: StoredLog,
                                                     reference: ReferenceLog) -> None:
    root = reference.root(size)
    assert stored.root(size) == root
    for index in range(size):
        path = reference.inclusion(index, size)
        assert stored.inclusion(index, size) == path, index
        leaf = merkle.leaf_hash(ENTRIES[index])
        verify_inclusion(leaf, index, size, path, root)
        assert ref.verify_inclusion(leaf, index, size, path, root)
    for size1 in range(1, size + 1):
        path = reference.consistency(size1, size)
        assert stored.consistency(size1, size) == path, size1
        verify_consistency(size1, size, path, reference.root(size1), root)
        assert ref.verify_consistency(size1, size, path, reference.root(size1), root)


def test_proofs_match_reference_at_random_positions(stored: StoredLog, reference: ReferenceLog) -> None:
    rng = random.Random(9162)
    for _ in range(60):
        size = rng.randrange(ORACLE_SIZES, len(ENTRIES) + 1)
        index = rng.randrange(size)
        size1 = rng.randrange(1, size + 1)
        root = reference.root(size)
        assert stored.root(size) == root
        path = reference.inclusion(index, size)
        assert stored.inclusion(index, size) == path, (index, size)
        verify_inclusion(merkle.leaf_hash(ENTRIES[index]), index, size, path, root)
        cons = reference.consistency(size1, size)
        assert stored.consistency(size1, size) == cons, (size1, size)
        verify_consistency(size1, size, cons, reference.root(size1), root)


@pytest.mark.parametrize("verifier", VERIFIERS.values(), ids=VERIFIERS.keys())
def test_every_corruption_is_rejected(verifier: ProofVerifier, stored: StoredLog) -> None:
    rng = random.Random(6962)
    for _ in range(25):
        size = rng.randrange(2, 300)
        index = rng.randrange(size)
        size1 = rng.randrange(1, size)
        root, root1 = stored.root(size), stored.root(size1)
        leaf = merkle.leaf_hash(ENTRIES[index])
        path = stored.inclusion(index, size)
        cons = stored.consistency(size1, size)
        assert verifier.inclusion(leaf, index, size, path, root)
        assert verifier.consistency(size1, size, cons, root1, root)
        for i in range(len(path)):
            for bit in (0, 77, 255):
                bad = list(path)
                bad[i] = _flip(bad[i], bit)
                assert not verifier.inclusion(leaf, index, size, bad, root)
        for i in range(len(cons)):
            bad = list(cons)
            bad[i] = _flip(bad[i], rng.randrange(256))
            assert not verifier.consistency(size1, size, bad, root1, root)
        assert not verifier.inclusion(_flip(leaf, 3), index, size, path, root)
        assert not verifier.inclusion(leaf, index, size, path, _flip(root, 200))
        assert not verifier.inclusion(leaf, index, size, path[:-1], root)
        assert not verifier.inclusion(leaf, index, size, path + [root], root)
        if index + 1 < size:
            assert not verifier.inclusion(leaf, index + 1, size, path, root)
        assert not verifier.consistency(size1, size, cons, _flip(root1, 9), root)
        assert not verifier.consistency(size1, size, cons, root1, _flip(root, 9))
        assert not verifier.consistency(size1, size, cons + [root], root1, root)
        assert not verifier.consistency(size1, size, cons[1:], root1, root)


def _flip(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


# --- errors --------------------------------------------------------------------------------


def test_errors_are_precise(stored: StoredLog) -> None:
    leaf = merkle.leaf_hash(ENTRIES[5])
    path = stored.inclusion(5, 13)
    root = stored.root(13)
    assert root_from_inclusion_proof(leaf, 5, 13, path) == root

    with pytest.raises(RootMismatchError) as mismatch:
        verify_inclusion(leaf, 5, 13, path, stored.root(12))
    assert mismatch.value.expected == stored.root(12)
    assert mismatch.value.calculated == root
    want = f"calculated root {root.hex()} does not match expected {stored.root(12).hex()}"
    assert str(mismatch.value) == want

    with pytest.raises(MalformedProofError, match=f"^wrong proof size {len(path) - 1}, want {len(path)}$"):
        verify_inclusion(leaf, 5, 13, path[:-1], root)
    with pytest.raises(MalformedProofError, match="^leaf index 13 is beyond tree size 13$"):
        verify_inclusion(leaf, 13, 13, path, root)
    with pytest.raises(MalformedProofError, match="^proof hash 1 is 31 bytes, want 32$"):
        verify_inclusion(leaf, 5, 13, [path[0], path[1][:31], *path[2:]], root)
    with pytest.raises(MalformedProofError, match="^leaf hash is 0 bytes, want 32$"):
        verify_inclusion(b"", 5, 13, path, root)

    cons = stored.consistency(6, 13)
    with pytest.raises(RootMismatchError, match="^calculated root1 ") as old:
        verify_consistency(6, 13, cons, stored.root(5), root)
    assert old.value.what == "root1" and old.value.calculated == stored.root(6)
    with pytest.raises(RootMismatchError, match="^calculated root2 ") as new:
        verify_consistency(6, 13, cons, stored.root(6), stored.root(12))
    assert new.value.calculated == root
    with pytest.raises(MalformedProofError, match="^size1 14 is greater than size2 13$"):
        verify_consistency(14, 13, cons, root, root)
    with pytest.raises(MalformedProofError, match="^size1 must be positive"):
        verify_consistency(0, 13, [], merkle.EMPTY_ROOT, root)
    with pytest.raises(MalformedProofError, match="^wrong proof size 1, want 0 for equal sizes$"):
        verify_consistency(13, 13, [root], root, root)
