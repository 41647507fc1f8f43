"""Verification of RFC 9162 inclusion and consistency proofs: pure functions over bytes.

Proofs list sibling hashes bottom-up, as built by ``crypto.merkle`` and by RFC 6962 / RFC 9162
logs. A proof of leaf `index` in a tree of `size` leaves splits into *inner* hashes (below the
point where the paths to `index` and to the last leaf ``size - 1`` meet; a set bit of `index`
at that level means the sibling is on the left) and *border* hashes (left siblings above it,
one per set bit of the remaining high bits of `index`). That fixes the proof length exactly, so
a proof of the wrong length is rejected before any hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from crypto.errors import IntegrityError
from crypto.merkle import HASH_SIZE


class ProofError(IntegrityError):
    """A Merkle proof does not prove what it was checked against."""


class MalformedProofError(ProofError):
    """The proof cannot belong to these parameters (wrong length, bad hash size, bad sizes)."""


class RootMismatchError(ProofError):
    """The proof is well formed but leads to another root than the one expected."""

    def __init__(self, expected: bytes, calculated: bytes, what: str = "root") -> None:
        self.expected = expected
        self.calculated = calculated
        self.what = what
        super().__init__(f"calculated {what} {calculated.hex()} does not match expected {expected.hex()}")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to for leaf hash `leaf_hash` at `index` in a tree of `size` leaves.

    Requires ``0 <= index < size``, a 32-byte `leaf_hash` and proof hashes, and a proof of exactly
    the length that `index` and `size` imply; raises MalformedProofError otherwise.
    """
    if not 0 <= index < size:
        raise MalformedProofError(f"leaf index {index} is beyond tree size {size}")
    _check_hash(leaf_hash, "leaf hash")
    inner, border = _decompose(index, size)
    _check_proof(proof, inner + border)
    sha256 = hashlib.sha256
    calculated = leaf_hash
    for level in range(inner):
        if index >> level & 1:
            calculated = sha256(b"\x01" + proof[level] + calculated).digest()
        else:
            calculated = sha256(b"\x01" + calculated + proof[level]).digest()
    for sibling in proof[inner:]:
        calculated = sha256(b"\x01" + sibling + calculated).digest()
    return calculated


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`.

    Requires ``0 <= index < size`` (see ``root_from_inclusion_proof``). Returns None on success;
    raises MalformedProofError for a proof of the wrong shape, RootMismatchError otherwise.
    """
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:
        raise RootMismatchError(root, calculated)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of `size1` leaves with `root1` is a prefix of the one of `size2` with `root2`.

    Requires ``0 < size1 <= size2``: a proof from the empty tree proves nothing (RFC 9162 section
    2.1.4). Equal sizes need an empty proof and equal roots. Returns None on success; raises
    MalformedProofError for a proof of the wrong shape, RootMismatchError naming ``root1`` or
    ``root2`` when a recomputed root differs.
    """
    if size1 > size2:
        raise MalformedProofError(f"size1 {size1} is greater than size2 {size2}")
    if size1 <= 0:
        raise MalformedProofError(f"size1 must be positive for a consistency proof, got {size1}")
    if size1 == size2:
        if proof:
            raise MalformedProofError(f"wrong proof size {len(proof)}, want 0 for equal sizes")
        if root1 != root2:
            raise RootMismatchError(root1, root2, "root2")
        return
    _check_hash(root1, "root1")
    # The proof starts from the largest complete subtree ending at size1 (the seed) and is its
    # inclusion proof in the tree of size2, seen at the seed's level.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 >> level) - 1
    inner, border = _decompose(index, ((size2 - 1) >> level) + 1)
    has_seed = index != 0  # when size1 is a power of two, the seed is root1 itself
    _check_proof(proof, has_seed + inner + border)
    sha256 = hashlib.sha256
    seed = proof[0] if has_seed else root1
    path = proof[1:] if has_seed else proof
    old = new = seed
    for i in range(inner):
        sibling = path[i]
        if index >> i & 1:
            old = sha256(b"\x01" + sibling + old).digest()
            new = sha256(b"\x01" + sibling + new).digest()
        else:  # right siblings were appended after size1: only in the new tree
            new = sha256(b"\x01" + new + sibling).digest()
    for sibling in path[inner:]:
        old = sha256(b"\x01" + sibling + old).digest()
        new = sha256(b"\x01" + sibling + new).digest()
    if old != root1:
        raise RootMismatchError(root1, old, "root1")
    if new != root2:
        raise RootMismatchError(root2, new, "root2")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Numbers of inner and border hashes in the proof of `index` in a tree of `size` leaves."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _check_proof(proof: Sequence[bytes], want: int) -> None:
    if len(proof) != want:
        raise MalformedProofError(f"wrong proof size {len(proof)}, want {want}")
    for i, node in enumerate(proof):
        _check_hash(node, f"proof hash {i}")


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise MalformedProofError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")
