"""age's ASCII armor (strict PEM), streaming both ways (FiloSottile/age ``armor/armor.go``).

    -----BEGIN AGE ENCRYPTED FILE-----
    <standard base64 with padding, 64 columns; last line 1..64 characters>
    -----END AGE ENCRYPTED FILE-----

Decoding accepts LF or CRLF line ends and up to 1024 bytes of whitespace before the BEGIN line
and after the END line; nothing else (no headers, no empty or overlong lines, padding only at
the very end). ``open_maybe_armored`` sniffs whether a stream is armored.
"""

from __future__ import annotations

import binascii
import io
from typing import BinaryIO

from crypto.errors import FormatError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
_COLUMNS = 64
_LINE_BYTES = 48  # bytes per full 64-column line
_MAX_WHITESPACE = 1024
_WHITESPACE = b" \t\r\n"
_READ_SIZE = 65 * 1024  # armored bytes read at a time (1024 full lines)


class ArmorWriter(io.RawIOBase):
    """A writable stream that armors what is written to it onto `dst`.

    Call ``finish()`` (or ``close()``) once at the end to write the last line and the END
    line; `dst` itself is never closed.
    """

    def __init__(self, dst: BinaryIO) -> None:
        super().__init__()
        self._dst = dst
        self._pending = bytearray()
        self._finished = False
        dst.write(BEGIN + b"\n")

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._finished:
            raise ValueError("armor already finished")
        self._pending += data
        block = len(self._pending) - len(self._pending) % (_LINE_BYTES * 64)
        if block:
            self._emit(bytes(self._pending[:block]))
            del self._pending[:block]
        return len(data)

    def _emit(self, data: bytes) -> None:
        text = binascii.b2a_base64(data, newline=False)
        self._dst.write(b"".join(text[i : i + _COLUMNS] + b"\n" for i in range(0, len(text), _COLUMNS)))

    def finish(self) -> None:
        """Write the remaining data and the END line. Idempotent."""
        if self._finished:
            return
        self._finished = True
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending.clear()
        self._dst.write(END + b"\n")

    def close(self) -> None:
        if not self.closed:
            self.finish()
        super().close()


class ArmorReader(io.RawIOBase):
    """A readable stream of the bytes inside the armor of `src`.

    Reads `src` in bounded blocks; raises FormatError on the first deviation from strict armor.
    Precondition: `src` is positioned at the start of the armored text.
    """

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src = src
        self._carry = b""  # armored text not yet split into complete lines
        self._out = bytearray()  # decoded, not yet returned
        self._state = "body"  # body -> end (expecting END) -> done
        self._tail = b""  # text after the END line (must be a little whitespace)
        self._checked_tail = False
        self._read_begin()

    def readable(self) -> bool:
        return True

    def _read_begin(self) -> None:
        skipped = 0
        while True:
            byte = self._src.read(1)
            if not byte:
                raise FormatError("armor is empty: no BEGIN line")
            if byte not in _WHITESPACE:
                break
            skipped += 1
            if skipped > _MAX_WHITESPACE:
                raise FormatError("too much whitespace before the armor BEGIN line")
        line = byte + self._src.readline(len(BEGIN) + 1)
        if line not in (BEGIN + b"\n", BEGIN + b"\r\n"):
            raise FormatError("armor does not start with -----BEGIN AGE ENCRYPTED FILE-----")

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._out and self._state != "done":
            self._fill()
        if not self._out and not self._checked_tail:
            self._check_tail()
        n = min(len(buf), len(self._out))
        buf[:n] = self._out[:n]
        del self._out[:n]
        return n

    def _fill(self) -> None:
        data = self._src.read(_READ_SIZE)
        if not data:
            if self._carry:  # an unterminated last line
                lines = [self._carry]
                self._carry = b""
                self._lines(lines)
            if self._state != "done":
                raise FormatError("armor is truncated: no END line")
            return
        text = self._carry + data
        if b"\r" in text:
            if text.endswith(b"\r"):
                text, self._carry = text[:-1], b"\r"
            else:
                self._carry = b""
            text = text.replace(b"\r\n", b"\n")
        else:
            self._carry = b""
        cut = text.rfind(b"\n")
        if cut < 0:
            self._carry = text + self._carry
            if len(self._carry) > 2 * _READ_SIZE:
                raise FormatError("armor line is too long")
            return
        self._carry = text[cut + 1 :] + self._carry
        block = text[: cut + 1]
        n = len(block) // (_COLUMNS + 1)
        if (
            self._state == "body"
            and len(block) == n * (_COLUMNS + 1)
            and block.count(b"\n") == n
            and block[_COLUMNS :: _COLUMNS + 1] == b"\n" * n
            and b"=" not in block
            and b"-" not in block
        ):
            # Fast path: only full 64-column lines without padding. The very last full line
            # might be the final one; that is fine: END may follow any full line.
            self._decode(block.replace(b"\n", b""))
            return
        self._lines(block.split(b"\n")[:-1])

    def _check_tail(self) -> None:
        """After END: at most 1024 bytes of whitespace may follow, then EOF."""
        self._checked_tail = True
        tail = self._tail + self._carry
        tail += self._src.read(max(0, _MAX_WHITESPACE + 1 - len(tail)))
        if tail.strip(_WHITESPACE) or len(tail) > _MAX_WHITESPACE:
            raise FormatError("unexpected data after the armor END line")

    def _decode(self, text: bytes) -> None:
        try:
            self._out += binascii.a2b_base64(text, strict_mode=True)
        except binascii.Error:
            raise FormatError("armor contains invalid base64") from None

    def _lines(self, lines: list[bytes]) -> None:
        batch: list[bytes] = []
        for line in lines:
            if self._state == "done":
                self._tail += line + b"\n"
                continue
            if line == END:
                self._state = "done"
                continue
            if self._state == "end":
                raise FormatError("armor line after the last base64 line is not the END line")
            if not line:
                raise FormatError("armor has an empty line")
            if len(line) > _COLUMNS:
                raise FormatError("armor line is longer than 64 columns")
            if len(line) < _COLUMNS or line.endswith(b"="):
                if len(line) % 4:
                    raise FormatError("armor's last base64 line has a bad length")
                self._state = "end"
            batch.append(line)
        if batch:
            self._decode(b"".join(batch))


def sniff_armored(prefix: bytes) -> bool:
    """True if `prefix` (the first bytes of a file) starts an armored age file."""
    return prefix.lstrip(_WHITESPACE).startswith(b"-----BEGIN")


class _Prefixed(io.RawIOBase):
    """`prefix` then the rest of `src`, as one raw stream."""

    def __init__(self, prefix: bytes, src: BinaryIO) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._src = src

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buf), len(self._prefix))
            buf[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        readinto = getattr(self._src, "readinto", None)
        if readinto is not None:
            return int(readinto(buf) or 0)
        data = self._src.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def open_maybe_armored(src: BinaryIO) -> tuple[io.BufferedReader, bool]:
    """A buffered reader of the binary age file in `src`, unarmoring if needed; and whether it was.

    Precondition: `src` is positioned at the start of the file. Malformed armor raises
    FormatError when read.
    """
    prefix = b""
    while len(prefix) < _MAX_WHITESPACE + len(BEGIN):
        more = src.read(_MAX_WHITESPACE + len(BEGIN) - len(prefix))
        if not more:
            break
        prefix += more
        if len(prefix.lstrip(_WHITESPACE)) >= len(b"-----BEGIN"):
            break  # enough to decide
    # All whitespace up to the limit: let the armor reader report it.
    armored = sniff_armored(prefix) or (len(prefix) > _MAX_WHITESPACE and not prefix.strip(_WHITESPACE))
    raw: io.RawIOBase = _Prefixed(prefix, src)
    if armored:
        raw = ArmorReader(io.BufferedReader(raw))  # type: ignore[arg-type]
    return io.BufferedReader(raw, buffer_size=64 * 1024), armored
