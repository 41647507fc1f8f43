"""age STREAM: the payload cipher, chunk by chunk (C2SP age.md, "Payload").

The plaintext is cut into 64 KiB chunks; chunk i is sealed with ChaCha20-Poly1305 under the
payload key, nonce = uint88_be(i) ‖ last-flag (0x01 on the final chunk), no associated data.
Only the final chunk may be shorter than 64 KiB; it is empty only when the whole plaintext is.
Memory use is two chunks whatever the file size: data moves from a binary reader to a binary
writer through preallocated buffers — or, for a regular file, straight from a read-only mmap
(saving a copy out of the page cache per chunk), whose pages behind the cursor are dropped as it
goes so the resident set stays flat.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.errors import IntegrityError

CHUNK = 64 * 1024
TAG = 16
ENCRYPTED_CHUNK = CHUNK + TAG

Progress = Callable[[int], None]


def read_full(src: BinaryIO, buf: memoryview) -> int:
    """Fill `buf` from `src` unless EOF comes first; return the number of bytes read.

    Readers may return short reads (pipes, sockets); a read of 0 bytes means EOF.
    """
    size = len(buf)
    got = 0
    readinto = getattr(src, "readinto", None)
    while got < size:
        if readinto is not None:
            n = readinto(buf[got:] if got else buf) or 0
        else:
            data = src.read(size - got)
            n = len(data)
            buf[got : got + n] = data
        if not n:
            break
        got += n
    return got


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


MAP_MIN = 1 << 20
"""Regular files at least this large are read through mmap: no copy out of the page cache."""
_DROP_EVERY = 16 << 20
"""Pages behind the cursor are dropped from the map this often, so RSS stays flat."""


def _mapped_rest(src: BinaryIO) -> tuple[mmap.mmap, int] | None:
    """A read-only map of the regular file `src` and its current position, or None if not mappable."""
    try:
        fd = src.fileno()
        info = os.fstat(fd)
        position = src.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size - position < MAP_MIN:
        return None
    try:
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ), position
    except (OSError, ValueError):
        return None


def _mapped_chunks(src: BinaryIO, mm: mmap.mmap, position: int, size: int) -> Iterator[tuple[memoryview, bool]]:
    view = memoryview(mm)
    end, offset, dropped = len(mm), position, 0
    try:
        while True:
            stop = min(offset + size, end)
            last = stop >= end
            yield view[offset:stop], last
            if last:
                return
            offset = stop
            if offset - dropped >= _DROP_EVERY:
                upto = offset - offset % mmap.PAGESIZE
                mm.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
                dropped = upto
    finally:
        # The caller may still hold the last slice: the map closes when that is dropped.
        del view, mm
        src.seek(0, os.SEEK_END)


def _chunks(src: BinaryIO, size: int) -> Iterator[tuple[memoryview, bool]]:
    """Yield (chunk, is_last) of `size` bytes (the final chunk may be full or, alone, empty).

    A regular file is sliced from an mmap (and left positioned at its end); anything else (pipes,
    sockets, unarmoring readers) is read one chunk ahead through two preallocated buffers.
    """
    mapped = _mapped_rest(src)
    if mapped is not None:
        yield from _mapped_chunks(src, mapped[0], mapped[1], size)
        return
    bufs = (bytearray(size), bytearray(size))
    views = (memoryview(bufs[0]), memoryview(bufs[1]))
    cur = 0
    n = read_full(src, views[cur])
    while True:
        # Read one chunk ahead: the current chunk is the last one iff nothing follows it.
        nxt = read_full(src, views[1 - cur]) if n == size else 0
        last = nxt == 0
        yield views[cur][:n], last
        if last:
            return
        cur = 1 - cur
        n = nxt


def encrypt(key: bytes, src: BinaryIO, dst: BinaryIO, progress: Progress | None = None) -> int:
    """Encrypt everything `src` yields into STREAM chunks written to `dst`; return plaintext size.

    Precondition: `key` is the 32-byte payload key. An empty `src` gives one empty final chunk.
    """
    aead = ChaCha20Poly1305(key)
    out_view = memoryview(bytearray(ENCRYPTED_CHUNK))
    total = 0
    for counter, (chunk, last) in enumerate(_chunks(src, CHUNK)):
        n = len(chunk)
        written = aead.encrypt_into(_nonce(counter, last), chunk, None, out_view[: n + TAG])
        dst.write(out_view[:written])
        total += n
        if progress is not None:
            progress(total)
    return total


def decrypt(key: bytes, src: BinaryIO, dst: BinaryIO, progress: Progress | None = None) -> int:
    """Decrypt STREAM chunks from `src` to `dst`; return the plaintext size.

    Raises IntegrityError naming the chunk (counted from 0) for a changed or reordered chunk,
    for truncation (the data ends without a final chunk, or with no chunk at all), for an empty
    final chunk after other chunks, and for data after the final chunk. Plaintext of chunks
    before a bad one has already been written: callers writing files must discard the output
    on error (crypto.tlock.unseal_file does).
    """
    aead = ChaCha20Poly1305(key)
    out_view = memoryview(bytearray(CHUNK))
    total = 0
    for counter, (chunk, last) in enumerate(_chunks(src, ENCRYPTED_CHUNK)):
        n = len(chunk)
        if n == 0:
            raise IntegrityError(
                "payload is missing: the file is truncated, or is an empty file made by tlock-js "
                "(which writes no final chunk; not accepted)"
            )
        if n < TAG:
            raise IntegrityError(f"payload chunk {counter} is truncated ({n} bytes)")
        try:
            written = aead.decrypt_into(_nonce(counter, last), chunk, None, out_view[: n - TAG])
        except InvalidTag:
            raise _chunk_error(aead, counter, chunk, last) from None
        if last and written == 0 and counter > 0:
            raise IntegrityError(f"payload chunk {counter} is an empty final chunk after other chunks")
        dst.write(out_view[:written])
        total += written
        if progress is not None:
            progress(total)
    return total


def _chunk_error(aead: ChaCha20Poly1305, counter: int, chunk: memoryview, last: bool) -> IntegrityError:
    """Explain why a chunk failed: truncation (it is a valid non-final chunk) or a change."""
    if last:
        try:
            aead.decrypt(_nonce(counter, False), chunk, None)
        except InvalidTag:
            pass
        else:
            return IntegrityError(f"payload is truncated: it ends after chunk {counter} without a final chunk")
    else:
        try:
            aead.decrypt(_nonce(counter, True), chunk, None)
        except InvalidTag:
            pass
        else:
            return IntegrityError(f"payload has data after its final chunk {counter}")
    return IntegrityError(f"payload chunk {counter} failed authentication: the file was changed or damaged")
