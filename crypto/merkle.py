"""RFC 9162 Merkle tree hashing and the shape of proofs, without storage.

A tree of ``size`` leaves is the left-balanced binary tree of RFC 9162 section 2.1.1. Every
*complete* subtree (a perfect subtree whose leaves are all present) has a permanent address,
``NodeID(level, index)``: level 0 holds the leaf hashes, and node ``(level, index)`` covers the
leaves ``[index << level, (index + 1) << level)``. Nodes on the right border of a tree whose size
is not a power of two are *ephemeral*: they cover ``[begin, size)`` and are rehashed from the
complete subtrees that make up that range.

A storage layer keeps the hash of every complete subtree (``new_nodes_on_append`` says which ones
appear when a leaf is added, ``hashes_on_append`` computes them). To serve a proof it asks
``inclusion_nodes`` / ``consistency_nodes`` which ids it needs, fetches them in one query and
folds the ephemeral ones with ``ProofNodes.rehash``. The verifier side is ``crypto.proof``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given all its leaf hashes, in order.

    Hashes level by level; an odd node at the end of a level moves up unchanged, which yields
    exactly the left-balanced RFC 9162 tree. Returns ``EMPTY_ROOT`` for no leaves.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    level = list(leaf_hashes)
    while len(level) > 1:
        pairs = iter(level)
        upper = [sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs)]
        if len(level) & 1:
            upper.append(level[-1])
        level = upper
    return level[0]


def root_from_data(entries: Sequence[bytes]) -> bytes:
    """MTH of the tree whose leaves are `entries` (raw leaf data, hashed here)."""
    sha256 = hashlib.sha256
    return root([sha256(b"\x00" + entry).digest() for entry in entries])


@dataclass(frozen=True, order=True, slots=True)
class NodeID:
    """Address of a complete subtree: it covers leaves ``[index << level, (index + 1) << level)``.

    Stored nodes are keyed by ``(level, index)``; ``astuple`` gives that key.
    """

    level: int
    index: int

    def astuple(self) -> tuple[int, int]:
        """``(level, index)``, e.g. for a database key."""
        return (self.level, self.index)

    @property
    def begin(self) -> int:
        """First leaf covered."""
        return self.index << self.level

    @property
    def end(self) -> int:
        """One past the last leaf covered."""
        return (self.index + 1) << self.level


def range_nodes(size: int, begin: int = 0) -> list[NodeID]:
    """The complete subtrees that make up the leaves ``[begin, size)``, left to right, largest first.

    Requires ``0 <= begin <= size`` and `begin` a multiple of the smallest power of two not less
    than ``size - begin`` (always true for ``begin == 0``), so that the range is one subtree of
    the RFC 9162 tree. Their hashes folded with ``fold_range`` give the MTH of that range; for
    ``begin == 0`` that is the root of the tree of `size` leaves.
    """
    if not 0 <= begin <= size:
        raise ValueError(f"invalid leaf range [{begin}, {size})")
    width = size - begin
    if width and begin & ((1 << (width - 1).bit_length()) - 1):
        raise ValueError(f"leaf range [{begin}, {size}) does not start on a subtree boundary")
    nodes: list[NodeID] = []
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append(NodeID(level, begin >> level))
            begin += 1 << level
    return nodes


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its ``range_nodes``, left to right (folded right to left).

    Returns ``EMPTY_ROOT`` for an empty list.
    """
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


def new_nodes_on_append(index: int) -> list[NodeID]:
    """The complete subtrees that become complete when leaf `index` is appended, bottom-up.

    Requires ``index >= 0``. The first is the leaf itself ``(0, index)``; node ``(level, i)`` for
    level > 0 is ``node_hash((level - 1, 2i), (level - 1, 2i + 1))`` where the right child is the
    previous node of this list.
    """
    if index < 0:
        raise ValueError(f"leaf index must not be negative, got {index}")
    count = ((index + 1) & -(index + 1)).bit_length()  # trailing zeros of index + 1, plus one
    return [NodeID(level, index >> level) for level in range(count)]


def hashes_on_append(index: int, leaf: bytes, range_hashes: Sequence[bytes]) -> list[bytes]:
    """Hashes of ``new_nodes_on_append(index)``, bottom-up, for the leaf hash `leaf`.

    Requires `range_hashes` to be the hashes of ``range_nodes(index)`` (the tree before the
    append), left to right: the left children needed are the last of them. The compact range of
    the grown tree is ``range_hashes`` minus those children plus the last hash returned.
    """
    expected = index.bit_count()
    if len(range_hashes) != expected:
        raise ValueError(
            f"got {len(range_hashes)} range hashes for a tree of {index} leaves, want {expected}"
        )
    hashes = [leaf]
    for left in reversed(range_hashes[expected - len(new_nodes_on_append(index)) + 1 :]):
        hashes.append(node_hash(left, hashes[-1]))
    return hashes


@dataclass(frozen=True)
class ProofNodes:
    """Which node hashes make up a proof, in proof order.

    ``ids[ephemeral_begin:ephemeral_end]`` (possibly an empty slice) are the complete subtrees of
    one ephemeral right-border node; ``rehash`` folds their hashes into that node's hash.
    """

    ids: tuple[NodeID, ...]
    ephemeral_begin: int = 0
    ephemeral_end: int = 0

    def rehash(self, hashes: Sequence[bytes]) -> list[bytes]:
        """The proof, from the hashes of ``ids`` in the same order.

        Requires ``len(hashes) == len(ids)``.
        """
        if len(hashes) != len(self.ids):
            raise ValueError(f"got {len(hashes)} hashes for {len(self.ids)} proof nodes")
        begin, end = self.ephemeral_begin, self.ephemeral_end
        if end - begin < 2:
            return list(hashes)
        return [*hashes[:begin], fold_range(hashes[begin:end]), *hashes[end:]]


def inclusion_nodes(index: int, size: int) -> ProofNodes:
    """The nodes of the inclusion proof of leaf `index` in the tree of `size` leaves.

    Requires ``0 <= index < size``. The proof lists, bottom-up, the sibling of each node on the
    path from the leaf to the root (RFC 9162 section 2.1.3.1, PATH).
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _path(NodeID(0, index), size, [])


def consistency_nodes(size1: int, size2: int) -> ProofNodes:
    """The nodes of the consistency proof from the tree of `size1` leaves to that of `size2`.

    Requires ``0 < size1 <= size2`` (RFC 9162 section 2.1.4.1); equal sizes give an empty proof.
    The proof is the largest complete subtree ending at `size1` (left out when `size1` is a power
    of two: it is then the old root itself) followed by that subtree's path in the new tree.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return ProofNodes(())
    level = (size1 & -size1).bit_length() - 1
    seed = NodeID(level, (size1 >> level) - 1)
    return _path(seed, size2, [seed] if seed.index else [])


def _path(node: NodeID, size: int, ids: list[NodeID]) -> ProofNodes:
    """Append to `ids` the siblings of `node` and of its ancestors in the tree of `size` leaves."""
    level, index = node.level, node.index
    height = (size - 1).bit_length()
    begin = end = 0
    while level < height:
        sibling = index ^ 1
        first = sibling << level
        if first < size:
            if first + (1 << level) <= size:
                ids.append(NodeID(level, sibling))
            else:  # the sibling straddles the right border: an ephemeral node
                begin = len(ids)
                ids.extend(range_nodes(size, first))
                end = len(ids)
        level += 1
        index >>= 1
    return ProofNodes(tuple(ids), begin, end)
