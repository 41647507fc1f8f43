"""C2SP transparency log checkpoints (c2sp.org/tlog-checkpoint): the body of a signed note.

    <origin>\\n
    <tree size, decimal, no leading zeroes>\\n
    <base64 of the 32-byte RFC 6962 root hash>\\n
    [<extension line>\\n ...]

Parsing is strict so that ``Checkpoint.parse(body).to_bytes() == body`` for every accepted body.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from crypto.errors import FormatError
from crypto.merkle import HASH_SIZE

MAX_SIZE = 2**64 - 1
"""Tree sizes are unsigned 64-bit integers."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size) and the Merkle root."""

    origin: str
    """Log identity, non-empty, e.g. ``example.com/log42``."""
    size: int
    """Number of leaves, 0 <= size < 2**64."""
    root: bytes
    """RFC 6962 / RFC 9162 root hash of the first `size` leaves (32 bytes)."""
    extensions: tuple[str, ...] = ()
    """Opaque, non-empty extra lines (NOT RECOMMENDED by C2SP)."""

    def __post_init__(self) -> None:
        for what, line in [("origin", self.origin), *(("extension line", e) for e in self.extensions)]:
            if not line:
                raise FormatError(f"checkpoint {what} must not be empty")
            if any(ch < " " for ch in line):
                raise FormatError(f"checkpoint {what} must not contain newlines or control characters")
        if not 0 <= self.size <= MAX_SIZE:
            raise FormatError(f"checkpoint size {self.size} is not a 64-bit unsigned integer")
        if len(self.root) != HASH_SIZE:
            raise FormatError(f"checkpoint root is {len(self.root)} bytes, want {HASH_SIZE}")

    @classmethod
    def parse(cls, body: str | bytes) -> Checkpoint:
        """Parse a checkpoint body (the note text). Raises FormatError on anything not C2SP."""
        if isinstance(body, bytes):
            try:
                body = body.decode()
            except UnicodeDecodeError:
                raise FormatError("checkpoint is not valid UTF-8") from None
        if not body.endswith("\n"):
            raise FormatError("checkpoint must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError(f"checkpoint has {len(lines)} lines, want at least 3")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isascii() or not size_text.isdigit():
            raise FormatError(f"checkpoint size {size_text!r} is not a decimal number")
        if size_text != str(int(size_text)):
            raise FormatError(f"checkpoint size {size_text!r} has leading zeroes")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError):
            raise FormatError(f"checkpoint root {root_text!r} is not valid base64") from None
        if base64.b64encode(root).decode() != root_text:
            raise FormatError(f"checkpoint root {root_text!r} is not canonical base64")
        return cls(origin, int(size_text), root, tuple(extensions))

    def to_bytes(self) -> bytes:
        """The checkpoint body, ready to be signed as note text."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode()
