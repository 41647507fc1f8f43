"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> <base64(key ID || signature)>``. The key ID of an Ed25519 key is the first four
bytes of SHA-256(name || 0x0A || 0x01 || public key). Key texts follow Go's
golang.org/x/mod/sumdb/note: a verifier key is ``<name>+<hex key ID>+<base64(0x01 || public key)>``
and a signer key is ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.errors import FormatError, IntegrityError

ED25519 = 0x01
"""Signature type byte of Ed25519 keys."""
MAX_SIGNATURES = 100
"""Notes with more signature lines are rejected (C2SP requires accepting at least 16)."""

_SIG_PREFIX = "— "  # em dash U+2014, space
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class InvalidNoteSignatureError(IntegrityError):
    """A signature from a known key does not verify: the note was altered or forged."""


class UnverifiedNoteError(IntegrityError):
    """No signature on the note is from a known key, so its text must be ignored."""


def key_id(name: str, public_key: bytes) -> int:
    """The C2SP key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty, without Unicode spaces or '+' (C2SP signed-note, Format)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


class Signer:
    """An Ed25519 note signing key with its name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise FormatError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
        self.name = name
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_id = key_id(name, self.public_key)

    @classmethod
    def from_key_text(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``; raises FormatError."""
        if not text.startswith(_PRIVATE_PREFIX):
            raise FormatError("signer key must start with PRIVATE+KEY+")
        name, kid, key = _parse_key_text(text[len(_PRIVATE_PREFIX) :], "signer key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(key))
        if signer.key_id != kid:
            raise FormatError(f"signer key ID {kid:08x} does not match its key ({signer.key_id:08x})")
        return signer

    def to_key_text(self) -> str:
        """The signer key text, a secret."""
        seed = self._private_key.private_bytes_raw()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id:08x}+{_b64(bytes([ED25519]) + seed)}"

    def verifier(self) -> Verifier:
        """The verifier for this key."""
        return Verifier(self.name, Ed25519PublicKey.from_public_bytes(self.public_key))

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of `message` (deterministic, RFC 8032)."""
        return self._private_key.sign(message)


class Verifier:
    """An Ed25519 note verifier key with its name."""

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        if not is_valid_key_name(name):
            raise FormatError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
        self.name = name
        self._public_key = public_key
        self.public_key = public_key.public_bytes_raw()
        self.key_id = key_id(name, self.public_key)

    @classmethod
    def from_key_text(cls, text: str) -> Verifier:
        """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>``; raises FormatError."""
        name, kid, key = _parse_key_text(text, "verifier key")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(key))
        if verifier.key_id != kid:
            raise FormatError(f"verifier key ID {kid:08x} does not match its key ({verifier.key_id:08x})")
        return verifier

    def to_key_text(self) -> str:
        """The verifier key text, safe to publish."""
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (raw, without key ID) is this key's signature of `message`."""
        try:
            self._public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def generate_key(name: str) -> tuple[str, str]:
    """A new Ed25519 key for `name`: (signer key text, verifier key text)."""
    signer = Signer(name, Ed25519PrivateKey.generate())
    return signer.to_key_text(), signer.verifier().to_key_text()


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    key_id: int
    base64: str
    """base64(key ID || signature), as on the line."""


@dataclass(frozen=True)
class Note:
    """An opened note: its text and which signatures were verified."""

    text: str
    """The signed text, ending in a newline."""
    sigs: tuple[Signature, ...]
    """Signatures by known keys, all verified, in note order."""
    unverified_sigs: tuple[Signature, ...] = ()
    """Signatures by keys not given to ``open_note``; their lines were not checked."""


def sign_note(text: str | bytes, signers: Sequence[Signer]) -> bytes:
    """The signed note: `text`, a blank line, and one signature line per signer, in order.

    Requires `text` to be valid note text (UTF-8 ending in a newline, no control characters
    other than newline) and at least one signer with distinct (name, key ID); raises FormatError.
    """
    raw = text.encode() if isinstance(text, str) else text
    _check_text(raw)
    if not raw.endswith(b"\n"):
        raise FormatError("note text must end with a newline")
    if not signers:
        raise FormatError("a note needs at least one signer")
    if len({(s.name, s.key_id) for s in signers}) != len(signers):
        raise FormatError("the same key is given twice to sign the note")
    lines = [
        f"{_SIG_PREFIX}{s.name} {_b64(s.key_id.to_bytes(4, 'big') + s.sign(raw))}\n" for s in signers
    ]
    return raw + b"\n" + "".join(lines).encode()


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse `note` and verify its signatures by the given keys.

    Signatures whose (name, key ID) matches no verifier are kept as unverified and otherwise
    ignored, as C2SP requires. Raises FormatError for a malformed note,
    InvalidNoteSignatureError when a known key's signature fails, and UnverifiedNoteError when
    no known key signed it.
    """
    raw = note.encode() if isinstance(note, str) else note
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        if (verifier.name, verifier.key_id) in known:
            raise ValueError(f"two verifiers for key {verifier.name}+{verifier.key_id:08x}")
        known[(verifier.name, verifier.key_id)] = verifier

    _check_text(raw)
    split = raw.rfind(b"\n\n")
    if split < 0:
        raise FormatError("malformed note: no blank line before the signatures")
    text, block = raw[: split + 1], raw[split + 2 :]
    if not block.endswith(b"\n"):
        raise FormatError("malformed note: it must end with a signature line and a newline")
    lines = block.decode().split("\n")[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(f"note has {len(lines)} signatures, more than the {MAX_SIGNATURES} accepted")

    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    for number, line in enumerate(lines, start=1):
        name, kid, sig_b64, signature = _parse_signature_line(line, number)
        found = known.get((name, kid))
        if found is None:
            if Signature(name, kid, sig_b64) not in unverified:  # repeated lines count once
                unverified.append(Signature(name, kid, sig_b64))
            continue
        if (name, kid) in seen:
            raise FormatError(f"malformed note: two signatures by key {name}+{kid:08x}")
        seen.add((name, kid))
        if not found.verify(text, signature):
            raise InvalidNoteSignatureError(f"signature by key {name}+{kid:08x} does not verify")
        verified.append(Signature(name, kid, sig_b64))

    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in unverified)
        raise UnverifiedNoteError(f"note has no signature by a known key (signed by {names})")
    return Note(text.decode(), tuple(verified), tuple(unverified))


def _parse_signature_line(line: str, number: int) -> tuple[str, int, str, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise FormatError(f"malformed note: signature line {number} does not start with '— '")
    name, space, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not space or not is_valid_key_name(name):
        raise FormatError(f"malformed note: signature line {number} has no valid key name")
    try:
        sig = _b64decode(sig_b64)
    except ValueError:
        raise FormatError(f"malformed note: signature line {number} is not valid base64") from None
    if len(sig) < 5:
        raise FormatError(f"malformed note: signature line {number} is too short")
    return name, int.from_bytes(sig[:4], "big"), sig_b64, sig[4:]


def _parse_key_text(text: str, what: str) -> tuple[str, int, bytes]:
    parts = text.split("+", 2)  # base64 may contain "+", names and IDs cannot
    if len(parts) != 3:
        raise FormatError(f"{what} must be <name>+<key ID>+<key>")
    name, kid_hex, key_b64 = parts
    if not is_valid_key_name(name):
        raise FormatError(f"{what} has an invalid name {name!r}")
    if len(kid_hex) != 8 or any(c not in "0123456789abcdefABCDEF" for c in kid_hex):
        raise FormatError(f"{what} ID must be 8 hex digits, got {kid_hex!r}")
    try:
        key = _b64decode(key_b64)
    except ValueError:
        raise FormatError(f"{what} is not valid base64") from None
    if len(key) != 33 or key[0] != ED25519:
        raise FormatError(f"{what} is not an Ed25519 key (want type 0x01 and 32 bytes)")
    return name, int(kid_hex, 16), key[1:]


def _check_text(raw: bytes) -> None:
    try:
        decoded = raw.decode()
    except UnicodeDecodeError:
        raise FormatError("malformed note: not valid UTF-8") from None
    if any(ch < " " and ch != "\n" for ch in decoded):
        raise FormatError("malformed note: control characters other than newline")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64decode(text: str) -> bytes:
    """Standard base64 with padding, canonical only (re-encodes to the same text)."""
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
    if _b64(data) != text:
        raise ValueError("non-canonical base64")
    return data
