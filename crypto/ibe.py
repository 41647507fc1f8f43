"""Boneh–Franklin identity-based encryption with the Fujisaki–Okamoto transform, as in tlock.

The identity is a drand round; its private key is the round's beacon signature, which nobody
has before the round. For a G1-signature scheme (quicknet), with P the G2 generator,
Q = H_G1(round_message(round)):

    encrypt: σ random, r = H3(σ, M), U = r·P, V = σ ⊕ H2(e(Q, PK)^r), W = M ⊕ H4(σ)
    decrypt: σ = V ⊕ H2(e(sig, U)), M = W ⊕ H4(σ), accept only if H3(σ, M)·P == U

For G2-signature schemes the groups swap. e(Q, PK)^r is computed as e(Q, r·PK) (bilinearity).
Sources: drand/kyber ``encrypt/ibe/ibe.go``; Gailly, Melissaris, Romailler, IACR eprint 2023/189.
"""

from __future__ import annotations

import hashlib
import os
import struct

from py_arkworks_bls12381 import Scalar

from crypto import bls
from crypto.bls import Scheme
from crypto.errors import FormatError, IntegrityError

#: Longest message the IBE carries (one SHA-256 output); tlock always uses 16 bytes.
MAX_MESSAGE = 32


def h2(gt: bytes, n: int) -> bytes:
    """H2: SHA-256("IBE-H2" ‖ GT bytes in kilic order), first n bytes."""
    return hashlib.sha256(b"IBE-H2" + gt).digest()[:n]


def h3(sigma: bytes, message: bytes) -> int:
    """H3: a scalar in [0, q) from σ and M, by rejection sampling.

    h = SHA-256("IBE-H3" ‖ σ ‖ M); for i = 1, 2, …: d = SHA-256(uint16_le(i) ‖ h) with the top
    bit of d[0] cleared; the first big-endian value below q is returned (never reduced mod q).
    """
    h = hashlib.sha256(b"IBE-H3" + sigma + message).digest()
    for i in range(1, 65535):
        d = bytearray(hashlib.sha256(struct.pack("<H", i) + h).digest())
        d[0] >>= 1
        r = int.from_bytes(d, "big")
        if r < bls.GROUP_ORDER:
            return r
    raise IntegrityError("H3 found no scalar below the group order")  # probability ~2^-65000


def h4(sigma: bytes, n: int) -> bytes:
    """H4: SHA-256("IBE-H4" ‖ σ), first n bytes."""
    return hashlib.sha256(b"IBE-H4" + sigma).digest()[:n]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def encrypt(scheme: Scheme, public_key: bytes, round: int, message: bytes) -> bytes:
    """Encrypt `message` (1..32 bytes) to `round` of the chain with `public_key`; returns U‖V‖W.

    Raises FormatError if the public key is malformed or the point at infinity.
    """
    if not 0 < len(message) <= MAX_MESSAGE:
        raise ValueError(f"IBE message must be 1..{MAX_MESSAGE} bytes, got {len(message)}")
    pk = bls.decode_public_key(scheme, bytes(public_key))
    q_id = bls.hash_to_sig_group(scheme, bls.round_message(round))
    sigma = os.urandom(len(message))
    r = Scalar(h3(sigma, message))
    u = bls.key_generator(scheme) * r  # type: ignore[operator]
    g_id_r = bls.pairing(scheme, q_id, pk * r)  # type: ignore[operator]
    v = _xor(sigma, h2(bls.gt_bytes(g_id_r), len(sigma)))
    w = _xor(message, h4(sigma, len(message)))
    return bytes(u.to_compressed_bytes()) + v + w


def split_body(scheme: Scheme, body: bytes) -> tuple[bytes, bytes, bytes]:
    """Split U‖V‖W; V and W are the two equal halves after U. Raises FormatError if impossible."""
    rest = len(body) - scheme.key_len
    if rest <= 0 or rest % 2 or rest // 2 > MAX_MESSAGE:
        raise FormatError(
            f"tlock ciphertext body has {len(body)} bytes; expected {scheme.key_len} + 2×n "
            f"(n ≤ {MAX_MESSAGE}) for {scheme.id}"
        )
    n = rest // 2
    return body[: scheme.key_len], body[scheme.key_len : scheme.key_len + n], body[scheme.key_len + n :]


def decrypt(scheme: Scheme, signature: bytes, body: bytes) -> bytes:
    """Recover the message from U‖V‖W with the round's beacon signature.

    Precondition: the caller has verified `signature` for the round the body was sealed to
    (crypto.bls.verify_beacon); a wrong signature only shows up here as a failed proof.
    Raises FormatError for a malformed body, BadSignatureError for a malformed signature and
    IntegrityError when the Fujisaki–Okamoto check fails (wrong key or changed ciphertext).
    """
    u_bytes, v, w = split_body(scheme, bytes(body))
    sig = bls.decode_beacon(scheme, bytes(signature))
    try:
        # Unchecked is safe here: U is accepted below only if its bytes are exactly the
        # canonical encoding of r·P, which is in the subgroup.
        u = bls.decode_key_group_unchecked(scheme, u_bytes)
    except ValueError as exc:
        raise IntegrityError(f"invalid tlock ciphertext: U is not a valid point ({exc})") from None
    sigma = _xor(v, h2(bls.gt_bytes(bls.pairing(scheme, sig, u)), len(v)))
    message = _xor(w, h4(sigma, len(w)))
    r = h3(sigma, message)
    if bls.key_generator_mul(scheme, r).to_compressed_bytes() != u_bytes:
        raise IntegrityError("invalid proof: rP check failed (wrong beacon or changed ciphertext)")
    return message
