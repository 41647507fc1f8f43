"""BLS layer: schemes, round messages, GT bytes, beacon verification, keys, fixed-base tables."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
from pathlib import Path

import pytest
from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

from crypto import bls
from crypto.chain import ChainInfo
from crypto.errors import BadSignatureError, FormatError

VECTORS = Path(__file__).parent.parent / "vectors" / "tlock"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())["vectors"]
SCHEME_IDS = ["bls-unchained-g1-rfc9380", "bls-unchained-on-g1", "pedersen-bls-unchained"]


def made_up_chain(scheme_id: str, secret: bytes) -> ChainInfo:
    """A chain for `secret` whose hash matches its fields."""
    info = ChainInfo(
        public_key=bls.public_key(bls.scheme_for(scheme_id), secret),
        period=3,
        genesis_time=1_700_000_000,
        hash="0" * 64,
        group_hash=bytes(range(32)),
        scheme_id=scheme_id,
        beacon_id="test",
    )
    return dataclasses.replace(info, hash=info.computed_hash())


def vector_chain(name: str) -> ChainInfo:
    return ChainInfo.from_json((VECTORS / name / "chain-info.json").read_text())


def test_group_order_is_the_scalar_field_modulus() -> None:
    assert bls.GROUP_ORDER.bit_length() == 255
    assert Scalar(bls.GROUP_ORDER) == Scalar(0)
    assert G2Point() * Scalar(bls.GROUP_ORDER - 1) == -G2Point()
    assert G1Point() * Scalar(bls.GROUP_ORDER - 1) == -G1Point()


@pytest.mark.parametrize("scheme_id", SCHEME_IDS)
def test_supported_schemes(scheme_id: str) -> None:
    scheme = bls.scheme_for(scheme_id)
    assert scheme.id == scheme_id
    assert (scheme.sig_len, scheme.key_len) == ((48, 96) if scheme.sig_on_g1 else (96, 48))


def test_scheme_dsts() -> None:
    assert bls.scheme_for("bls-unchained-g1-rfc9380").dst == b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
    # fastnet hashes onto G1 with the G2 tag (not RFC-compliant, but what the chain signs)
    assert bls.scheme_for("bls-unchained-on-g1").dst == b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
    assert bls.scheme_for("pedersen-bls-unchained").dst == b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"


def test_chained_scheme_is_refused_with_reason() -> None:
    with pytest.raises(FormatError, match="chained.*cannot be used for timelock") as info:
        bls.scheme_for("pedersen-bls-chained")
    assert "\n" not in str(info.value)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(FormatError, match="unsupported drand scheme 'bls-bn254-unchained-on-g1'"):
        bls.scheme_for("bls-bn254-unchained-on-g1")


def test_round_message_is_sha256_of_uint64_big_endian() -> None:
    assert bls.round_message(1) == hashlib.sha256(b"\x00" * 7 + b"\x01").digest()
    assert bls.round_message(0x0102030405060708) == hashlib.sha256(bytes([1, 2, 3, 4, 5, 6, 7, 8])).digest()
    with pytest.raises(ValueError):
        bls.round_message(1 << 64)
    with pytest.raises(ValueError):
        bls.round_message(-1)


def test_gt_bytes_follow_the_go_kilic_order() -> None:
    vector = json.loads((VECTORS / "gt-serialization.json").read_text())
    e = GT.pairing(G1Point(), G2Point())
    assert bls.gt_bytes(e).hex() == vector["pairing_g1_g2_kilic_hex"]
    assert bls.gt_bytes(e * e).hex() == vector["pairing_squared_kilic_hex"]
    digest = hashlib.sha256(b"IBE-H2" + bls.gt_bytes(e)).digest()[:16]
    assert digest.hex() == vector["gt_to_hash_16_hex"]


def test_pairing_puts_arguments_in_group_order() -> None:
    g1, g2 = G1Point(), G2Point()
    on_g1 = bls.scheme_for("bls-unchained-g1-rfc9380")
    on_g2 = bls.scheme_for("pedersen-bls-unchained")
    assert bls.pairing(on_g1, g1, g2) == GT.pairing(g1, g2)
    assert bls.pairing(on_g2, g2, g1) == GT.pairing(g1, g2)


SIGNED = [v for v in MANIFEST if v.get("signature")]


@pytest.mark.parametrize("vector", SIGNED, ids=[v["name"] for v in SIGNED])
def test_published_beacons_verify(vector: dict[str, object]) -> None:
    chain = vector_chain(str(vector["name"]))
    chain.check_hash()
    assert chain.hash == vector["chain_hash"] and chain.scheme_id == vector["scheme"]
    bls.verify_beacon(chain, int(str(vector["round"])), bytes.fromhex(str(vector["signature"])))


@pytest.mark.parametrize("vector", SIGNED[:4], ids=[v["name"] for v in SIGNED[:4]])
def test_published_beacon_fails_for_other_round_and_flipped_byte(vector: dict[str, object]) -> None:
    chain = vector_chain(str(vector["name"]))
    round = int(str(vector["round"]))
    signature = bytes.fromhex(str(vector["signature"]))
    with pytest.raises(BadSignatureError, match=f"not the beacon for round {round + 1} of chain {chain.hash[:16]}"):
        bls.verify_beacon(chain, round + 1, signature)
    for position in (1, len(signature) // 2, len(signature) - 1):
        flipped = bytearray(signature)
        flipped[position] ^= 0x01
        with pytest.raises(BadSignatureError, match=f"round {round}"):
            bls.verify_beacon(chain, round, bytes(flipped))


@pytest.mark.parametrize("scheme_id", SCHEME_IDS)
def test_sign_and_verify_with_a_fresh_key(scheme_id: str) -> None:
    secret = bls.generate_secret()
    chain = made_up_chain(scheme_id, secret)
    scheme = bls.scheme_for(scheme_id)
    sig = bls.sign_round(scheme, secret, 77)
    assert len(sig) == scheme.sig_len and len(chain.public_key) == scheme.key_len
    bls.verify_beacon(chain, 77, sig)
    with pytest.raises(BadSignatureError):
        bls.verify_beacon(chain, 78, sig)
    other = made_up_chain(scheme_id, bls.generate_secret())
    with pytest.raises(BadSignatureError):
        bls.verify_beacon(other, 77, sig)


def test_malformed_signatures_are_refused() -> None:
    secret = bls.generate_secret()
    chain = made_up_chain("bls-unchained-g1-rfc9380", secret)
    sig = bls.sign_round(bls.scheme_for(chain.scheme_id), secret, 5)
    with pytest.raises(BadSignatureError, match=r"malformed \(47 bytes, expected 48\) for round 5"):
        bls.verify_beacon(chain, 5, sig[:-1])
    with pytest.raises(BadSignatureError, match="malformed"):
        bls.verify_beacon(chain, 5, b"\xff" * 48)
    infinity = G1Point.identity().to_compressed_bytes()
    with pytest.raises(BadSignatureError, match="not the beacon"):
        bls.verify_beacon(chain, 5, infinity)


def _point_outside_subgroup() -> bytes:
    """A compressed G1 curve point that is not in the prime-order subgroup."""
    while True:
        data = bytearray(os.urandom(48))
        data[0] = (data[0] & 0x1F) | 0x80
        try:
            point = G1Point.from_compressed_bytes_unchecked(bytes(data))
        except ValueError:
            continue
        if not point.is_in_subgroup():
            return bytes(data)


def test_points_outside_the_subgroup_are_refused() -> None:
    data = _point_outside_subgroup()
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    with pytest.raises(ValueError, match="subgroup"):
        bls.decode_sig_group(scheme, data)
    chain = made_up_chain(scheme.id, bls.generate_secret())
    with pytest.raises(BadSignatureError, match="malformed"):
        bls.verify_beacon(chain, 3, data)


def test_public_key_at_infinity_is_refused() -> None:
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    with pytest.raises(FormatError, match="point at infinity"):
        bls.decode_public_key(scheme, G2Point.identity().to_compressed_bytes())


def test_generate_secret_is_a_nonzero_scalar() -> None:
    seen = {bls.generate_secret() for _ in range(50)}
    assert len(seen) == 50
    for secret in seen:
        assert len(secret) == 32 and 0 < int.from_bytes(secret, "big") < bls.GROUP_ORDER


def test_bad_secret_is_refused() -> None:
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    with pytest.raises(ValueError):
        bls.public_key(scheme, bytes(32))
    with pytest.raises(ValueError):
        bls.public_key(scheme, bls.GROUP_ORDER.to_bytes(32, "big"))


@pytest.mark.parametrize("base", [G1Point(), G2Point()], ids=["G1", "G2"])
def test_fixed_base_matches_scalar_multiplication(base: G1Point | G2Point) -> None:
    table = bls.FixedBase(base)
    for k in [0, 1, 2, 15, 16, 17, bls.GROUP_ORDER - 1] + [secrets.randbelow(bls.GROUP_ORDER) for _ in range(10)]:
        assert table.mul(k) == base * Scalar(k)  # type: ignore[operator]
    with pytest.raises(ValueError):
        table.mul(bls.GROUP_ORDER)
