"""BLS12-381 for drand beacons and tlock: schemes, round messages, signatures, pairings, GT bytes.

drand's unchained schemes sign ``round_message(round) = SHA-256(uint64_be(round))``; the
signature of a round is ``sk · H(round_message)`` where H hashes onto the *signature group*
(RFC 9380, SSWU, random oracle) with the scheme's DST. The public key lives in the other
group (the *key group*). A beacon signature is also the IBE decryption key of that round
(crypto/ibe.py).

Arithmetic comes from py-arkworks-bls12381 (compiled arkworks). GT bytes are produced in the
Go/kilic order that tlock hashes (``gt_bytes``); this depends on the pinned library version,
see docs/timelock.md.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Union

from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

from crypto.errors import BadSignatureError, FormatError

if TYPE_CHECKING:
    from crypto.chain import ChainInfo

#: Order q of the BLS12-381 groups G1, G2 and GT.
GROUP_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001

_DST_G1 = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
_DST_G2 = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"

Point = Union[G1Point, G2Point]


@dataclass(frozen=True)
class Scheme:
    """A drand signature scheme usable for timelock (unchained: the message is the round only).

    ``sig_on_g1``: signatures (and hashed round ids) are in G1 and public keys in G2; otherwise
    the other way round. ``dst``: the hash-to-curve domain separation tag. ``sig_len`` and
    ``key_len``: compressed sizes in bytes of a signature and a public key.
    """

    id: str
    sig_on_g1: bool
    dst: bytes
    sig_len: int
    key_len: int


_SCHEMES: dict[str, Scheme] = {
    # quicknet: G1 signatures hashed with the RFC 9380 G1 tag.
    "bls-unchained-g1-rfc9380": Scheme("bls-unchained-g1-rfc9380", True, _DST_G1, 48, 96),
    # fastnet (deprecated): G1 signatures, but hashed with the *G2* tag (not RFC-compliant).
    "bls-unchained-on-g1": Scheme("bls-unchained-on-g1", True, _DST_G2, 48, 96),
    # older unchained testnets: G2 signatures, G1 public keys.
    "pedersen-bls-unchained": Scheme("pedersen-bls-unchained", False, _DST_G2, 96, 48),
}

_CHAINED = {"pedersen-bls-chained"}


def scheme_for(scheme_id: str) -> Scheme:
    """The Scheme for a drand ``schemeID``. Raises FormatError for chained or unknown schemes."""
    scheme = _SCHEMES.get(scheme_id)
    if scheme is not None:
        return scheme
    if scheme_id in _CHAINED or "chained" in scheme_id and "unchained" not in scheme_id:
        raise FormatError(
            f"drand scheme {scheme_id!r} is chained (each signature covers the previous one) "
            "and cannot be used for timelock"
        )
    supported = ", ".join(sorted(_SCHEMES))
    raise FormatError(f"unsupported drand scheme {scheme_id!r} (supported: {supported})")


def round_message(round: int) -> bytes:
    """SHA-256 of the round as uint64 big-endian: the message drand signs, and the IBE identity.

    Precondition: 0 <= round < 2**64 (ValueError otherwise).
    """
    if not 0 <= round < 1 << 64:
        raise ValueError(f"round {round} does not fit in an unsigned 64-bit integer")
    return hashlib.sha256(struct.pack(">Q", round)).digest()


# --- group helpers ------------------------------------------------------------------------


def sig_generator(scheme: Scheme) -> Point:
    """The generator of the signature group."""
    return G1Point() if scheme.sig_on_g1 else G2Point()


def key_generator(scheme: Scheme) -> Point:
    """The generator of the key group (P in the IBE; U = r·P lives here)."""
    return G2Point() if scheme.sig_on_g1 else G1Point()


@lru_cache(maxsize=256)
def hash_to_sig_group(scheme: Scheme, message: bytes) -> Point:
    """H(message) in the signature group, with the scheme's DST (cached: ids repeat per round)."""
    if scheme.sig_on_g1:
        return G1Point.hash_to_curve(message, scheme.dst)
    return G2Point.hash_to_curve(message, scheme.dst)


def _decode(on_g1: bool, data: bytes) -> Point:
    """Checked decompression: canonical, on the curve, in the prime-order subgroup.

    Raises ValueError. (arkworks' ``from_compressed_bytes`` performs the subgroup check;
    tests/crypto/test_bls.py keeps that true.)
    """
    try:
        point: Point = G1Point.from_compressed_bytes(data) if on_g1 else G2Point.from_compressed_bytes(data)
    except ValueError:
        raise ValueError("not a valid compressed point in the prime-order subgroup") from None
    if point.to_compressed_bytes() != data:  # e.g. infinity flag with stray bits set
        raise ValueError("not a canonical point encoding")
    return point


def decode_key_group_unchecked(scheme: Scheme, data: bytes) -> Point:
    """Decompress a key-group point skipping the subgroup check (half the cost).

    Only for values that are checked afterwards by comparing canonical encodings with a point
    known to be in the subgroup (the IBE's U = r·P check). Raises ValueError.
    """
    if len(data) != scheme.key_len:
        raise ValueError(f"expected {scheme.key_len} bytes, got {len(data)}")
    try:
        if scheme.sig_on_g1:
            return G2Point.from_compressed_bytes_unchecked(bytes(data))
        return G1Point.from_compressed_bytes_unchecked(bytes(data))
    except ValueError:
        raise ValueError("not a valid compressed point") from None


class FixedBase:
    """Multiples of one point precomputed for fast multiplication by *public* scalars.

    With 4-bit windows, ``k·base`` costs 64 point additions instead of a full scalar
    multiplication (≈4× faster for G2). Not constant-time: use it only where the scalar is not
    secret (checking r·P == U when opening: r is known to whoever holds the round's beacon).
    """

    WINDOW = 4

    def __init__(self, base: Point) -> None:
        digits = 1 << self.WINDOW
        self._identity: Point = base - base
        self._table: list[list[Point]] = []
        step = base
        for _ in range((GROUP_ORDER.bit_length() + self.WINDOW - 1) // self.WINDOW):
            row = [self._identity, step]
            for _ in range(digits - 2):
                row.append(row[-1] + step)  # type: ignore[operator]
            self._table.append(row)
            step = row[-1] + step  # type: ignore[operator]
        self._mask = digits - 1

    def mul(self, k: int) -> Point:
        """k·base. Precondition: 0 <= k < q."""
        if not 0 <= k < GROUP_ORDER:
            raise ValueError("scalar out of range")
        acc = self._identity
        for row in self._table:
            digit = k & self._mask
            if digit:
                acc = acc + row[digit]  # type: ignore[operator]
            k >>= self.WINDOW
        return acc


@lru_cache(maxsize=2)
def _key_generator_table(sig_on_g1: bool) -> FixedBase:
    return FixedBase(G2Point() if sig_on_g1 else G1Point())


_ONE_MUL_DONE: set[bool] = set()
"""Key groups (by ``sig_on_g1``) that had one multiplication without a table."""


def key_generator_mul(scheme: Scheme, k: int) -> Point:
    """k·P for the key-group generator P and a public scalar k (see FixedBase).

    The first multiplication in a group is a plain one: building the table costs several of them
    (for G2 about 4), which a process that opens one file (``pingbiao unseal``) would pay for
    nothing; the table is built at the second, for an opening of many bids. Same point either way.
    """
    if scheme.sig_on_g1 not in _ONE_MUL_DONE:
        _ONE_MUL_DONE.add(scheme.sig_on_g1)
        if not 0 <= k < GROUP_ORDER:
            raise ValueError("scalar out of range")
        return (G2Point() if scheme.sig_on_g1 else G1Point()) * Scalar(k)
    return _key_generator_table(scheme.sig_on_g1).mul(k)


def decode_sig_group(scheme: Scheme, data: bytes) -> Point:
    """Decode a compressed signature-group point. Raises ValueError if malformed."""
    if len(data) != scheme.sig_len:
        raise ValueError(f"expected {scheme.sig_len} bytes, got {len(data)}")
    return _decode(scheme.sig_on_g1, bytes(data))


def decode_key_group(scheme: Scheme, data: bytes) -> Point:
    """Decode a compressed key-group point (public key, IBE U). Raises ValueError if malformed."""
    if len(data) != scheme.key_len:
        raise ValueError(f"expected {scheme.key_len} bytes, got {len(data)}")
    return _decode(not scheme.sig_on_g1, bytes(data))


@lru_cache(maxsize=64)
def decode_public_key(scheme: Scheme, public_key: bytes) -> Point:
    """The chain public key as a point. Raises FormatError if malformed or the point at infinity."""
    try:
        point = decode_key_group(scheme, public_key)
    except ValueError as exc:
        raise FormatError(f"chain public key is not a valid {scheme.id} key: {exc}") from None
    identity = G2Point.identity() if scheme.sig_on_g1 else G1Point.identity()
    if point == identity:
        raise FormatError("chain public key is the point at infinity")
    return point


def pairing(scheme: Scheme, sig_point: Point, key_point: Point) -> GT:
    """e(sig-group point, key-group point), arguments put in (G1, G2) order for the scheme."""
    if scheme.sig_on_g1:
        return GT.pairing(sig_point, key_point)  # type: ignore[arg-type]
    return GT.pairing(key_point, sig_point)  # type: ignore[arg-type]


def gt_bytes(value: GT) -> bytes:
    """576 bytes of a GT element in the Go/kilic order tlock hashes.

    arkworks serialises Fp12 as c0.c0.c0 … c1.c2.c1, each Fp 48 bytes little-endian;
    kilic/bls12-381 (and tlock-js) write c1.c2.c1 … c0.c0.c0, each big-endian: exactly the
    byte-reversal. ``str(GT)`` is the hex of arkworks' serialisation in py-arkworks-bls12381
    0.5.0 (pinned; tests/vectors/tlock/gt-serialization.json guards it).
    """
    raw = bytes.fromhex(str(value))
    if len(raw) != 576:
        raise RuntimeError(f"unexpected GT encoding length {len(raw)} from py-arkworks-bls12381")
    return raw[::-1]


def _scalar(secret: bytes) -> Scalar:
    """A secret key as a Scalar. Precondition: 32 bytes big-endian, 0 < value < q."""
    if len(secret) != 32:
        raise ValueError("a secret key is 32 bytes")
    value = int.from_bytes(secret, "big")
    if not 0 < value < GROUP_ORDER:
        raise ValueError("a secret key must be in [1, q)")
    return Scalar(value)


# --- beacons ------------------------------------------------------------------------------


def generate_secret() -> bytes:
    """A fresh secret key: 32-byte big-endian scalar, uniform in [1, q)."""
    return (secrets.randbelow(GROUP_ORDER - 1) + 1).to_bytes(32, "big")


def public_key(scheme: Scheme, secret: bytes) -> bytes:
    """The compressed public key ``secret · generator`` of the key group."""
    return (key_generator(scheme) * _scalar(secret)).to_compressed_bytes()


def sign_round(scheme: Scheme, secret: bytes, round: int) -> bytes:
    """The compressed beacon signature of `round`: ``secret · H(round_message(round))``."""
    return (hash_to_sig_group(scheme, round_message(round)) * _scalar(secret)).to_compressed_bytes()


def verify_beacon(chain: ChainInfo, round: int, signature: bytes) -> None:
    """Raise BadSignatureError unless `signature` is the chain's beacon signature of `round`.

    Malformed, wrong-length and out-of-subgroup signatures are refused with the same error
    class. Results are cached: opening many bids of one round verifies the signature once.
    Raises FormatError if the chain's scheme or public key is unusable.
    """
    scheme = scheme_for(chain.scheme_id)
    decode_public_key(scheme, chain.public_key)  # FormatError for a bad key, before blaming the beacon
    problem = _beacon_problem(scheme, bytes(chain.public_key), round, bytes(signature))
    if problem:
        raise BadSignatureError(f"{problem} for round {round} of chain {chain.hash[:16]}…")


@lru_cache(maxsize=1024)
def _beacon_problem(scheme: Scheme, public_key: bytes, round: int, signature: bytes) -> str:
    """'' if the signature verifies, else what is wrong with it (without the round/chain suffix)."""
    if len(signature) != scheme.sig_len:
        return f"beacon signature is malformed ({len(signature)} bytes, expected {scheme.sig_len})"
    try:
        sig = decode_sig_group(scheme, signature)
    except ValueError:
        return "beacon signature is malformed (not a valid compressed point)"
    if round < 1 or round >= 1 << 64:
        return "signature is not the beacon"
    key = decode_public_key(scheme, public_key)
    hashed = hash_to_sig_group(scheme, round_message(round))
    # e(sig, P) == e(H(m), PK)  <=>  e(sig, -P) · e(H(m), PK) == 1
    neg_gen = -key_generator(scheme)
    if scheme.sig_on_g1:
        ok = GT.pairing_check([sig, hashed], [neg_gen, key])  # type: ignore[list-item]
    else:
        ok = GT.pairing_check([neg_gen, key], [sig, hashed])  # type: ignore[list-item]
    return "" if ok else "signature is not the beacon"


def clear_caches() -> None:
    """Forget cached verifications, decoded beacons and hashed rounds (benchmarks, tests)."""
    _beacon_problem.cache_clear()
    _decode_beacon_cached.cache_clear()
    hash_to_sig_group.cache_clear()
    decode_public_key.cache_clear()


def decode_beacon(scheme: Scheme, signature: bytes) -> Point:
    """A beacon signature as a point (the IBE key). Raises BadSignatureError if malformed."""
    return _decode_beacon_cached(scheme, bytes(signature))


@lru_cache(maxsize=64)
def _decode_beacon_cached(scheme: Scheme, signature: bytes) -> Point:
    try:
        return decode_sig_group(scheme, signature)
    except ValueError as exc:
        raise BadSignatureError(f"beacon signature is malformed: {exc}") from None
