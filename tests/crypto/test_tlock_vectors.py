"""Every published vector in tests/vectors/tlock/manifest.json behaves as recorded."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from crypto import bls, ibe, tlock
from crypto.chain import ChainInfo
from crypto.errors import BadSignatureError, IntegrityError

VECTORS = Path(__file__).parent.parent / "vectors" / "tlock"
MANIFEST: list[dict[str, Any]] = json.loads((VECTORS / "manifest.json").read_text())["vectors"]
KNOWN_EXPECTATIONS = {"ok", "fail:rP-check", "beacon-verifies"}


def _chain(vector: dict[str, Any]) -> ChainInfo:
    chain = ChainInfo.from_json((VECTORS / vector["name"] / "chain-info.json").read_text())
    chain.check_hash()
    assert chain.hash == vector["chain_hash"] and chain.scheme_id == vector["scheme"]
    return chain


def _files_agree_with_manifest(vector: dict[str, Any]) -> None:
    folder = VECTORS / vector["name"]
    assert int((folder / "round.txt").read_text().strip()) == vector["round"]
    assert (folder / "signature.hex").read_text().strip() == vector["signature"]


def test_manifest_only_uses_known_expectations() -> None:
    assert MANIFEST and {v["expect"] for v in MANIFEST} <= KNOWN_EXPECTATIONS


@pytest.mark.parametrize("vector", MANIFEST, ids=[v["name"] for v in MANIFEST])
def test_vector(vector: dict[str, Any]) -> None:
    _files_agree_with_manifest(vector)
    chain = _chain(vector)
    folder = VECTORS / vector["name"]
    signature = bytes.fromhex(vector["signature"])
    round = vector["round"]
    bls.verify_beacon(chain, round, signature)  # every vector's signature is a real beacon

    if vector["expect"] == "beacon-verifies":
        assert vector["ciphertext_file"] is None
        flipped = bytearray(signature)
        flipped[len(flipped) // 3] ^= 0x20
        with pytest.raises(BadSignatureError):
            bls.verify_beacon(chain, round, bytes(flipped))
        with pytest.raises(BadSignatureError, match=f"round {round - 1} "):
            bls.verify_beacon(chain, round - 1, signature)
        return

    source = folder / vector["ciphertext_file"]
    if source.suffix == ".hex":  # a raw IBE body
        body = bytes.fromhex(source.read_text().strip())
        plain = ibe.decrypt(bls.scheme_for(chain.scheme_id), signature, body)
    else:
        header = tlock.inspect(io.BytesIO(source.read_bytes()))
        assert header.recipients == [tlock.TlockRecipient(round, chain.hash)]
        out = io.BytesIO()
        if vector["expect"] == "fail:rP-check":
            with pytest.raises(IntegrityError, match="invalid proof: rP check failed"):
                tlock.unseal(io.BytesIO(source.read_bytes()), out, chain, signature)
            assert out.getvalue() == b""
            return
        tlock.unseal(io.BytesIO(source.read_bytes()), out, chain, signature)
        plain = out.getvalue()
    assert vector["expect"] == "ok"
    assert plain == (folder / vector["expected_plaintext_file"]).read_bytes()


def test_grease_stanza_is_counted_but_not_a_recipient() -> None:
    source = VECTORS / "fastnet-r1000-100-zero-bytes-rust" / "ciphertext.age"
    header = tlock.inspect(io.BytesIO(source.read_bytes()))
    assert header.stanza_count == 2 and len(header.recipients) == 1 and header.armored
