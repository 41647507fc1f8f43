"""Boneh–Franklin IBE with the FO transform (tlock's key encapsulation)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from crypto import bls, ibe
from crypto.errors import BadSignatureError, FormatError, IntegrityError

RAW = Path(__file__).parent.parent / "vectors" / "tlock" / "fastnet-r1000-raw-ibe-16-zero-bytes"
SCHEME_IDS = ["bls-unchained-g1-rfc9380", "bls-unchained-on-g1", "pedersen-bls-unchained"]


def test_raw_ibe_vector_decrypts() -> None:
    scheme = bls.scheme_for("bls-unchained-on-g1")
    body = bytes.fromhex((RAW / "ibe-body.hex").read_text().strip())
    signature = bytes.fromhex((RAW / "signature.hex").read_text().strip())
    assert len(body) == 128
    assert ibe.decrypt(scheme, signature, body) == (RAW / "expected-plaintext.bin").read_bytes()


def test_raw_ibe_vector_with_another_rounds_key_fails_the_proof() -> None:
    scheme = bls.scheme_for("bls-unchained-on-g1")
    body = bytes.fromhex((RAW / "ibe-body.hex").read_text().strip())
    secret = bls.generate_secret()
    with pytest.raises(IntegrityError, match="invalid proof: rP check failed"):
        ibe.decrypt(scheme, bls.sign_round(scheme, secret, 1000), body)


@pytest.mark.parametrize("scheme_id", SCHEME_IDS)
def test_round_trip(scheme_id: str) -> None:
    scheme = bls.scheme_for(scheme_id)
    secret = bls.generate_secret()
    key = bytes(range(16))
    body = ibe.encrypt(scheme, bls.public_key(scheme, secret), 9, key)
    assert len(body) == scheme.key_len + 32
    assert ibe.decrypt(scheme, bls.sign_round(scheme, secret, 9), body) == key
    # fresh randomness every time
    assert ibe.encrypt(scheme, bls.public_key(scheme, secret), 9, key) != body


@pytest.mark.parametrize("scheme_id", SCHEME_IDS)
def test_wrong_round_key_fails_the_proof(scheme_id: str) -> None:
    scheme = bls.scheme_for(scheme_id)
    secret = bls.generate_secret()
    body = ibe.encrypt(scheme, bls.public_key(scheme, secret), 9, b"k" * 16)
    with pytest.raises(IntegrityError, match="rP check failed"):
        ibe.decrypt(scheme, bls.sign_round(scheme, secret, 10), body)


@pytest.mark.parametrize("part", ["U", "V", "W"])
def test_changed_ciphertext_fails(part: str) -> None:
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    secret = bls.generate_secret()
    body = bytearray(ibe.encrypt(scheme, bls.public_key(scheme, secret), 3, b"k" * 16))
    index = {"U": 40, "V": 96 + 3, "W": 112 + 5}[part]
    body[index] ^= 0x04
    with pytest.raises(IntegrityError):
        ibe.decrypt(scheme, bls.sign_round(scheme, secret, 3), bytes(body))


def test_messages_of_other_lengths() -> None:
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    secret = bls.generate_secret()
    pk, sig = bls.public_key(scheme, secret), bls.sign_round(scheme, secret, 4)
    for n in (1, 31, 32):
        assert ibe.decrypt(scheme, sig, ibe.encrypt(scheme, pk, 4, b"m" * n)) == b"m" * n
    for n in (0, 33):
        with pytest.raises(ValueError):
            ibe.encrypt(scheme, pk, 4, b"m" * n)


def test_body_shape_is_checked() -> None:
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    sig = bls.sign_round(scheme, bls.generate_secret(), 1)
    for size in (96, 97, 127, 96 + 66):
        with pytest.raises(FormatError, match=f"body has {size} bytes"):
            ibe.decrypt(scheme, sig, bytes(size))


def test_malformed_signature_is_refused() -> None:
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    with pytest.raises(BadSignatureError, match="malformed"):
        ibe.decrypt(scheme, b"\x01" * 48, bytes(128))


def test_h3_reads_big_endian_after_a_little_endian_counter() -> None:
    sigma, message = b"s" * 16, b"m" * 16
    h = hashlib.sha256(b"IBE-H3" + sigma + message).digest()
    first = bytearray(hashlib.sha256(struct.pack("<H", 1) + h).digest())
    first[0] >>= 1
    candidate = int.from_bytes(first, "big")
    r = ibe.h3(sigma, message)
    assert 0 <= r < bls.GROUP_ORDER
    if candidate < bls.GROUP_ORDER:
        assert r == candidate


def test_h2_and_h4_are_tagged_prefixes() -> None:
    assert ibe.h2(b"g" * 576, 16) == hashlib.sha256(b"IBE-H2" + b"g" * 576).digest()[:16]
    assert ibe.h4(b"s" * 16, 16) == hashlib.sha256(b"IBE-H4" + b"s" * 16).digest()[:16]
