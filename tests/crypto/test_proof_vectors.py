"""Published Merkle vectors, run over both implementations (tests/crypto/merkle_impls.py).

Sources (tests/vectors/merkle/README.md):
* transparency-dev-merkle/testdata: transparency-dev/merkle testdata/ @417fb0c3 (cmd/proofgen).
* rfc6962-8leaf: transparency-dev/merkle testonly/constants.go and cmd/proofgen/main.go @417fb0c3.
* rolling-130: transparency-dev/merkle testonly/vectors_test.go @417fb0c3 (the "Subtree Test
  Vectors" of draft-ietf-plants-merkle-tree-certs).
* ct-argon2020: golang/mod sumdb/tlog/testdata/argon2020 and ct_test.go @b5136e5b; log key from
  google/certificate-transparency-go testdata/loglist3.json @56578481.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import merkle
from crypto.merkle import NodeID
from tests.conftest import VECTORS
from tests.crypto import merkle_reference as ref
from tests.crypto.merkle_impls import LOGS, VERIFIERS, LogClass, ProofVerifier, ReferenceLog, StoredLog

MERKLE = VECTORS / "merkle"
PROBES = MERKLE / "transparency-dev-merkle" / "testdata"
PROBE_FILES = sorted(PROBES.rglob("*.json"))

verifiers = pytest.mark.parametrize("verifier", VERIFIERS.values(), ids=VERIFIERS.keys())
logs = pytest.mark.parametrize("log_class", LOGS.values(), ids=LOGS.keys())


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


# --- transparency-dev/merkle probes --------------------------------------------------------


def test_all_probes_are_present() -> None:
    assert len(PROBE_FILES) == 196
    outcomes = [_load(p)["wantErr"] for p in PROBE_FILES]
    assert outcomes.count(False) == 12  # 10 happy paths + 2 trivially true probes


@verifiers
@pytest.mark.parametrize("path", PROBE_FILES, ids=[str(p.relative_to(PROBES)) for p in PROBE_FILES])
def test_transparency_dev_probe(path: Path, verifier: ProofVerifier) -> None:
    probe = _load(path)
    proof = [_b64(h) for h in probe["proof"] or []]
    if "leafIdx" in probe:
        ok = verifier.inclusion(_b64(probe["leafHash"]), probe["leafIdx"], probe["treeSize"], proof,
                                _b64(probe["root"]))
    else:
        ok = verifier.consistency(probe["size1"], probe["size2"], proof, _b64(probe["root1"]),
                                  _b64(probe["root2"]))
    assert ok is not probe["wantErr"], probe["desc"]


# --- RFC 6962 8-leaf tree ------------------------------------------------------------------

TREE = _load(MERKLE / "rfc6962-8leaf" / "tree.json")
PROOFS = _load(MERKLE / "rfc6962-8leaf" / "proofs.json")
LEAVES = [bytes.fromhex(h) for h in TREE["leaf_inputs_hex"]]
ROOTS = [bytes.fromhex(h) for h in TREE["root_by_tree_size_hex"]]


def test_8leaf_complete_subtrees() -> None:
    stored = StoredLog(LEAVES)
    for level, hexes in enumerate(TREE["node_hashes_by_level_hex"]):
        for index, want in enumerate(hexes):
            assert stored.nodes[NodeID(level, index)].hex() == want
    assert len(stored.nodes) == sum(len(h) for h in TREE["node_hashes_by_level_hex"])


@logs
def test_8leaf_roots(log_class: LogClass) -> None:
    log = log_class(LEAVES)
    assert [log.root(size) for size in range(9)] == ROOTS
    assert merkle.root_from_data(LEAVES[:5]) == ROOTS[5]


@logs
@verifiers
@pytest.mark.parametrize("case", PROOFS["inclusion"], ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}")
def test_8leaf_inclusion(case: dict[str, Any], log_class: LogClass, verifier: ProofVerifier) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    want = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert log_class(LEAVES).inclusion(index, size) == want
    assert verifier.inclusion(merkle.leaf_hash(LEAVES[index]), index, size, want, ROOTS[size])
    assert not verifier.inclusion(merkle.leaf_hash(LEAVES[index]), index, size, want, ROOTS[size - 1])


@logs
@verifiers
@pytest.mark.parametrize("case", PROOFS["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_8leaf_consistency(case: dict[str, Any], log_class: LogClass, verifier: ProofVerifier) -> None:
    size1, size2 = case["size1"], case["size2"]
    want = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert log_class(LEAVES).consistency(size1, size2) == want
    assert verifier.consistency(size1, size2, want, ROOTS[size1], ROOTS[size2])
    if size1 != size2:
        assert not verifier.consistency(size1, size2, want, ROOTS[size1 - 1], ROOTS[size2])


# --- rolling digests over every aligned subtree of a 130-leaf tree -------------------------

ROLLING = _load(MERKLE / "rolling-130" / "vectors.json")
D130 = [bytes([i]) for i in range(130)]


def _valid_subtrees(n: int) -> list[tuple[int, int]]:
    out = []
    for end in range(n + 1):
        for start in range(end + 1):
            width = end - start
            if start == 0 or start == end or start % (1 << (width - 1).bit_length()) == 0:
                out.append((start, end))
    return out


def _want(name: str) -> str:
    return str(next(v["want_sha256_hex"] for v in ROLLING["vectors"] if v["name"] == name))


def _subtree_root(log: StoredLog | ReferenceLog, start: int, end: int) -> bytes:
    if isinstance(log, ReferenceLog):
        return ref.mth(D130[start:end])
    return merkle.fold_range([log.nodes[i] for i in merkle.range_nodes(end, start)])


def _subtree_path(log: StoredLog | ReferenceLog, index: int, start: int, end: int) -> list[bytes]:
    if isinstance(log, ReferenceLog):
        return ref.path(index - start, D130[start:end])
    # A valid subtree is the tree of end - start leaves with node ids shifted by start.
    nodes = merkle.inclusion_nodes(index - start, end - start)
    return nodes.rehash([log.nodes[NodeID(n.level, n.index + (start >> n.level))] for n in nodes.ids])


@logs
def test_rolling_subtree_hashes(log_class: LogClass) -> None:
    log = log_class(D130)
    digest = hashlib.sha256()
    for start, end in _valid_subtrees(130):
        digest.update(b"[%d, %d) %s\n" % (start, end, _subtree_root(log, start, end).hex().encode()))
    assert digest.hexdigest() == _want("subtree_hash")


@logs
def test_rolling_subtree_inclusion_proofs(log_class: LogClass) -> None:
    log = log_class(D130)
    digest = hashlib.sha256()
    for start, end in _valid_subtrees(130):
        for index in range(start, end):
            line = b"%d [%d, %d)" % (index, start, end)
            for node in _subtree_path(log, index, start, end):
                line += b" " + node.hex().encode()
            digest.update(line + b"\n")
    assert digest.hexdigest() == _want("subtree_inclusion_proof")


# --- a real CT log: Google Argon2020 -------------------------------------------------------

ARGON = MERKLE / "ct-argon2020"
META = _load(ARGON / "meta.json")
STH = _load(ARGON / "sth.json")


def test_argon2020_tree_head_is_signed_by_the_log() -> None:
    key = serialization.load_der_public_key(_b64(META["log_public_key_der_b64"]))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert hashlib.sha256(_b64(META["log_public_key_der_b64"])).digest() == _b64(META["log_id_b64"])
    signed = struct.pack(">BBQQ", 0, 1, STH["timestamp"], STH["tree_size"]) + _b64(STH["sha256_root_hash"])
    sig = _b64(STH["tree_head_signature"])
    assert sig[:2] == b"\x04\x03"  # SHA-256, ECDSA
    (length,) = struct.unpack(">H", sig[2:4])
    key.verify(sig[4 : 4 + length], signed, ec.ECDSA(hashes.SHA256()))


@verifiers
def test_argon2020_inclusion_of_entry_10000(verifier: ProofVerifier) -> None:
    entry = _load(ARGON / "entries.json")["entries"][0]
    proof = _load(ARGON / "proof.json")
    index, size, root = META["leaf_index"], STH["tree_size"], _b64(STH["sha256_root_hash"])
    assert proof["leaf_index"] == index == 10000
    path = [_b64(h) for h in proof["audit_path"]]
    assert len(path) == 30
    leaf = merkle.leaf_hash(_b64(entry["leaf_input"]))
    assert verifier.inclusion(leaf, index, size, path, root)
    assert not verifier.inclusion(leaf, index + 1, size, path, root)
    assert not verifier.inclusion(merkle.leaf_hash(b"forged"), index, size, path, root)
    # The proof's shape is what inclusion_nodes predicts for this position.
    nodes = merkle.inclusion_nodes(index, size)
    assert len(nodes.rehash([merkle.EMPTY_ROOT] * len(nodes.ids))) == 30


@verifiers
def test_argon2020_consistency_to_961984013(verifier: ProofVerifier) -> None:
    path = [_b64(h) for h in _load(ARGON / "consistency.json")["consistency"]]
    size1, root1 = META["old_tree_size"], _b64(META["old_root_hash_b64"])
    size2, root2 = STH["tree_size"], _b64(STH["sha256_root_hash"])
    assert size2 == 961_984_013 and len(path) == 30
    assert verifier.consistency(size1, size2, path, root1, root2)
    assert not verifier.consistency(size1 + 1, size2, path, root1, root2)
    assert not verifier.consistency(size1, size2, path, root2, root2)
    nodes = merkle.consistency_nodes(size1, size2)
    assert len(nodes.rehash([merkle.EMPTY_ROOT] * len(nodes.ids))) == 30
