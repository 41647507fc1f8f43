"""A slow Merkle tree written straight from RFC 9162 section 2.1, used only as a test oracle.

Each function transcribes the RFC's recursive definition (MTH, PATH, PROOF/SUBPROOF) or its
verification algorithm (sections 2.1.3.2 and 2.1.4.2) with no optimisation, so that it is
obviously correct by reading. ``crypto.merkle`` and ``crypto.proof`` are checked against it.
"""

from __future__ import annotations

import hashlib

HASH_SIZE = 32


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1 over raw entries."""
    n = len(entries)
    if n == 0:
        return _hash(b"")
    if n == 1:
        return _hash(b"\x00" + entries[0])
    k = _split(n)
    return _hash(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1 (0 <= m < n)."""
    n = len(entries)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def proof(m: int, entries: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1 (0 < m <= n)."""
    return _subproof(m, entries, True)


def _subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = _split(n)
    if m <= k:
        return _subproof(m, entries[:k], b) + [mth(entries[k:])]
    return _subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def verify_inclusion(leaf_hash: bytes, index: int, size: int, inclusion_path: list[bytes],
                     root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, plus the RFC's data type: every hash is HASH_SIZE bytes."""
    if any(len(h) != HASH_SIZE for h in [leaf_hash, root, *inclusion_path]):
        return False
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in inclusion_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _hash(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _hash(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, consistency_path: list[bytes], first_hash: bytes,
                       second_hash: bytes) -> bool:
    """RFC 9162 section 2.1.4.2 for 0 < first < second.

    Outside that range the RFC defines no proof: equal sizes are consistent exactly when the
    roots are equal and the proof is empty; size 0 or a shrinking tree is never accepted.
    """
    if first == second and first > 0:
        return not consistency_path and first_hash == second_hash
    if not 0 < first < second:
        return False
    if any(len(h) != HASH_SIZE for h in [first_hash, second_hash, *consistency_path]):
        return False
    if not consistency_path:
        return False
    path_ = list(consistency_path)
    if first & (first - 1) == 0:
        path_.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path_[0]
    for c in path_[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _hash(b"\x01" + c + fr)
            sr = _hash(b"\x01" + c + sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _hash(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
