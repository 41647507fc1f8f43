"""Merkle hashing throughput against the hashlib limit, and proof costs at 1,000,000 entries.

Run: python bench/bench_merkle.py [leaves]
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crypto import merkle  # noqa: E402
from crypto.proof import verify_inclusion  # noqa: E402


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """Smallest wall time of `runs` calls, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def per_call_us(fn: Callable[[], object], calls: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    # 63-byte entries: leaf inputs are 64 bytes, node inputs 65 bytes.
    entries = [os.urandom(63) for _ in range(n)]
    blocks = [os.urandom(64) for _ in range(n)]

    sha256 = hashlib.sha256
    limit_s = best_of(3, lambda: [sha256(b).digest() for b in blocks])
    limit = n / limit_s
    print(f"hashlib SHA-256, 64-byte inputs:     {limit / 1e6:6.2f} M hashes/s (the limit)")

    root_s = best_of(3, lambda: merkle.root_from_data(entries))
    rate = (2 * n - 1) / root_s
    print(f"root of {n:,} leaves from data:  {root_s:6.3f} s, {rate / 1e6:.2f} M leaf+node hashes/s "
          f"= {100 * rate / limit:.0f}% of the limit")

    # Proofs at this size: a node store as the database keeps it (every complete subtree).
    leaf_hashes = [merkle.leaf_hash(e) for e in entries]
    nodes: dict[merkle.NodeID, bytes] = {}
    level = leaf_hashes
    height = 0
    while level:
        nodes.update((merkle.NodeID(height, i), h) for i, h in enumerate(level))
        pairs = iter(level)
        level = [merkle.node_hash(a, b) for a, b in zip(pairs, pairs)]
        height += 1
    root = merkle.fold_range([nodes[i] for i in merkle.range_nodes(n)])
    assert root == merkle.root(leaf_hashes)

    index = n * 2 // 3 + 1
    proof_nodes = merkle.inclusion_nodes(index, n)
    hashes = [nodes[i] for i in proof_nodes.ids]
    proof = proof_nodes.rehash(hashes)
    verify_inclusion(leaf_hashes[index], index, n, proof, root)

    build_us = per_call_us(lambda: merkle.inclusion_nodes(index, n).rehash(hashes))
    verify_us = per_call_us(lambda: verify_inclusion(leaf_hashes[index], index, n, proof, root))
    print(f"inclusion_nodes + rehash at {n:,}:  {build_us:6.1f} us ({len(proof_nodes.ids)} ids, "
          f"{len(proof)} proof hashes)")
    print(f"verify_inclusion at {n:,}:          {verify_us:6.1f} us")


if __name__ == "__main__":
    main()
