"""The age v1 header: version line, recipient stanzas, HMAC (C2SP age.md).

    age-encryption.org/v1
    -> <type> <arg>…
    <body: base64 without padding, 64-column lines, last line shorter than 64 (maybe empty)>
    --- <base64 of HMAC-SHA-256, 43 characters>

The MAC key is HKDF-SHA-256(ikm = file key, salt = empty, info = "header"); it covers the
header from the version line up to and including ``---`` (not the space after it). Parsing is
strict (canonical base64, exact line shapes) because a header can be re-encoded in many ways
otherwise. Unknown stanza types are kept; identities skip them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Protocol

from crypto.errors import FormatError, IntegrityError

VERSION_LINE = b"age-encryption.org/v1\n"
FILE_KEY_SIZE = 16
MAC_SIZE = 32
_COLUMNS = 64
_MAX_LINE = 4096  # a stanza argument line; real ones are < 200 bytes
_MAX_HEADER = 64 * 1024
_ARG_CHARS = frozenset(range(0x21, 0x7F))


class LineReader(Protocol):
    """What header parsing needs from a binary stream."""

    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: ``-> type args…`` and its binary body."""

    type: str
    args: tuple[str, ...]
    body: bytes


@dataclass(frozen=True)
class Header:
    """A parsed header. ``mac_input`` is exactly the bytes the MAC covers."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes


def b64_encode_raw(data: bytes) -> bytes:
    """Standard base64 without padding."""
    return base64.b64encode(data).rstrip(b"=")


def b64_decode_raw(text: bytes) -> bytes:
    """Strict, canonical, unpadded standard base64. Raises ValueError."""
    if len(text) % 4 == 1 or b"=" in text:
        raise ValueError("bad base64 length or padding")
    try:
        data = binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
    if b64_encode_raw(data) != text:  # unused trailing bits must be zero
        raise ValueError("non-canonical base64")
    return data


def _hkdf(ikm: bytes, salt: bytes | None, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA-256 (RFC 5869) with the standard library's HMAC: the same bytes as any HKDF, without
    the first-use set-up of another library's HKDF object (about a millisecond per process)."""
    prk = hmac.digest(salt or bytes(32), ikm, "sha256")  # no salt: a string of HashLen zeros
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.digest(prk, block + info + bytes((counter,)), "sha256")
        okm += block
    return okm[:length]


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA-256 of the header bytes under the file key's header MAC key."""
    return hmac.digest(_hkdf(file_key, None, b"header"), mac_input, "sha256")


def verify_mac(header: Header, file_key: bytes) -> None:
    """Raise IntegrityError unless the header MAC matches under `file_key`."""
    if not hmac.compare_digest(header_mac(file_key, header.mac_input), header.mac):
        raise IntegrityError("header MAC does not match: the file header was changed")


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The STREAM key: HKDF-SHA-256(ikm = file key, salt = 16-byte nonce, info = "payload")."""
    return _hkdf(file_key, nonce, b"payload")


def _stanza_bytes(stanza: Stanza) -> bytes:
    for word in (stanza.type, *stanza.args):
        if not word or any(ord(c) not in _ARG_CHARS for c in word):
            raise ValueError(f"invalid stanza argument {word!r}")
    out = [b"-> " + " ".join((stanza.type, *stanza.args)).encode("ascii") + b"\n"]
    text = b64_encode_raw(stanza.body)
    for i in range(0, len(text) + 1, _COLUMNS):  # +1: a final short (possibly empty) line
        out.append(text[i : i + _COLUMNS] + b"\n")
    return b"".join(out)


def encode_header(stanzas: list[Stanza] | tuple[Stanza, ...], file_key: bytes) -> bytes:
    """The complete header, MAC line and final newline included.

    Preconditions: at least one stanza; arguments are non-empty printable ASCII without spaces;
    `file_key` is 16 bytes.
    """
    if not stanzas:
        raise ValueError("an age header needs at least one stanza")
    mac_input = VERSION_LINE + b"".join(_stanza_bytes(s) for s in stanzas) + b"---"
    return mac_input + b" " + b64_encode_raw(header_mac(file_key, mac_input)) + b"\n"


def _line(src: LineReader, total: int) -> bytes:
    if total > _MAX_HEADER:
        raise FormatError("age header is too long")
    line = src.readline(_MAX_LINE + 1)
    if not line:
        raise FormatError("age header is truncated")
    if not line.endswith(b"\n"):
        raise FormatError("age header is truncated" if len(line) <= _MAX_LINE else "age header line is too long")
    return line


def read_header(src: LineReader) -> Header:
    """Parse the header from `src`, consuming exactly through the MAC line's newline.

    Raises FormatError for anything that is not a well-formed age v1 header.
    """
    first = src.readline(len(VERSION_LINE))
    if first != VERSION_LINE:
        if first.startswith(b"age-encryption.org/"):
            raise FormatError(f"unsupported age version {first.strip()[:40]!r}")
        raise FormatError("not an age file (no age-encryption.org/v1 line)")
    raw = bytearray(first)
    stanzas: list[Stanza] = []
    line = _line(src, len(raw))
    while True:
        if line.startswith(b"---"):
            raw += b"---"
            if not line.startswith(b"--- ") or len(line) != 4 + 43 + 1:
                raise FormatError("age header MAC line is malformed")
            try:
                mac = b64_decode_raw(line[4:-1])
            except ValueError:
                raise FormatError("age header MAC line is malformed") from None
            if not stanzas:
                raise FormatError("age header has no recipient stanza")
            return Header(tuple(stanzas), mac, bytes(raw))
        if not line.startswith(b"-> "):
            raise FormatError("age header line is neither a stanza nor the MAC line")
        raw += line
        words = line[3:-1].split(b" ")
        if any(not w or any(c not in _ARG_CHARS for c in w) for w in words):
            raise FormatError("age stanza has an empty or non-printable argument")
        body_text = bytearray()
        while True:
            body_line = _line(src, len(raw))
            raw += body_line
            content = body_line[:-1]
            if len(content) > _COLUMNS:
                raise FormatError("age stanza body line is longer than 64 columns")
            body_text += content
            if len(content) < _COLUMNS:
                break
        try:
            body = b64_decode_raw(bytes(body_text))
        except ValueError as exc:
            raise FormatError(f"age stanza body is not canonical base64: {exc}") from None
        texts = [w.decode("ascii") for w in words]
        stanzas.append(Stanza(texts[0], tuple(texts[1:]), body))
        line = _line(src, len(raw))
