"""The two Merkle implementations the shared tests run over: production and RFC reference.

``StoredLog`` uses crypto.merkle the way the storage layer does: it keeps the hash of every
complete subtree (filled by ``new_nodes_on_append`` / ``hashes_on_append``), serves proofs by
looking up ``inclusion_nodes`` / ``consistency_nodes`` ids and ``rehash``, and computes roots
from ``range_nodes``. ``ReferenceLog`` recomputes everything from the entries with the RFC
recursions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from crypto import merkle, proof
from tests.crypto import merkle_reference as ref


class StoredLog:
    """Append-only log over a dict of complete-subtree hashes, as a database would hold them."""

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        self.nodes: dict[merkle.NodeID, bytes] = {}
        self.compact: list[bytes] = []  # hashes of range_nodes(size)
        self.size = 0
        for entry in entries:
            self.append(entry)

    def append(self, entry: bytes) -> None:
        index = self.size
        ids = merkle.new_nodes_on_append(index)
        hashes = merkle.hashes_on_append(index, merkle.leaf_hash(entry), self.compact)
        self.nodes.update(zip(ids, hashes))
        self.compact = self.compact[: len(self.compact) - (len(ids) - 1)] + [hashes[-1]]
        self.size += 1

    def _fetch(self, ids: Sequence[merkle.NodeID]) -> list[bytes]:
        return [self.nodes[node] for node in ids]

    def root(self, size: int) -> bytes:
        return merkle.fold_range(self._fetch(merkle.range_nodes(size)))

    def inclusion(self, index: int, size: int) -> list[bytes]:
        nodes = merkle.inclusion_nodes(index, size)
        return nodes.rehash(self._fetch(nodes.ids))

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        nodes = merkle.consistency_nodes(size1, size2)
        return nodes.rehash(self._fetch(nodes.ids))


class ReferenceLog:
    """The same questions answered by the RFC 9162 recursions over the raw entries."""

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        self.entries = list(entries)

    def root(self, size: int) -> bytes:
        return ref.mth(self.entries[:size])

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return ref.path(index, self.entries[:size])

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return ref.proof(size1, self.entries[:size2])


class ProofVerifier(Protocol):
    def inclusion(self, leaf_hash: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool: ...
    def consistency(self, size1: int, size2: int, path: list[bytes], root1: bytes, root2: bytes) -> bool: ...


class FastVerifier:
    """crypto.proof, reduced to accept/reject."""

    def inclusion(self, leaf_hash: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
        try:
            proof.verify_inclusion(leaf_hash, index, size, path, root)
        except proof.ProofError:
            return False
        return True

    def consistency(self, size1: int, size2: int, path: list[bytes], root1: bytes, root2: bytes) -> bool:
        try:
            proof.verify_consistency(size1, size2, path, root1, root2)
        except proof.ProofError:
            return False
        return True


class ReferenceVerifier:
    """The RFC 9162 verification algorithms."""

    def inclusion(self, leaf_hash: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
        return ref.verify_inclusion(leaf_hash, index, size, path, root)

    def consistency(self, size1: int, size2: int, path: list[bytes], root1: bytes, root2: bytes) -> bool:
        return ref.verify_consistency(size1, size2, path, root1, root2)


LogClass = type[StoredLog] | type[ReferenceLog]
LOGS: dict[str, LogClass] = {"stored": StoredLog, "reference": ReferenceLog}
VERIFIERS: dict[str, ProofVerifier] = {"fast": FastVerifier(), "reference": ReferenceVerifier()}
