"""Members' signing keys: ECDSA P-256 with SHA-256, made in the booth with WebCrypto.

The browser keeps a non-extractable private key in IndexedDB and registers the public key as
SPKI (DER), base64. WebCrypto signatures are IEEE P1363 (``r ‖ s``, 32 bytes each), base64; they
are converted to DER for `cryptography`. DER signatures are accepted too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from evaluation.errors import InvalidRequest, Text


class BadSignature(InvalidRequest):
    """A signature does not verify with the member's registered key."""


WHAT = {"public_key": Text("签名公钥"), "signature": Text("签名")}


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not text or len(text) > 4096:
        raise InvalidRequest("{what}须为 base64 文本", what=WHAT.get(what, what))
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("{what}不是有效的 base64", what=WHAT.get(what, what)) from None


def load_public_key(spki_b64: object) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a base64 SPKI. Raises InvalidRequest for anything else."""
    der = _b64(spki_b64, "public_key")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise InvalidRequest("签名公钥格式无效") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InvalidRequest("签名公钥须为 ECDSA P-256 密钥")
    return key


def key_fingerprint(spki_b64: str) -> str:
    """SHA-256 (hex) of the SPKI bytes: how pages and the report name a key."""
    return hashlib.sha256(base64.b64decode(spki_b64)).hexdigest()


def verify(spki_b64: str, message: bytes, signature_b64: object) -> None:
    """Raise BadSignature unless `signature_b64` (P1363 or DER) signs `message` (ECDSA P-256 SHA-256)."""
    key = load_public_key(spki_b64)
    raw = _b64(signature_b64, "signature")
    if len(raw) == 64:
        raw = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise BadSignature("签名与您登记的签名密钥不符") from None
