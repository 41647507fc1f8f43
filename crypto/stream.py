"""age STREAM: the payload cipher, chunk by chunk (C2SP age.md, "Payload").

The plaintext is cut into 64 KiB chunks; chunk i is sealed with ChaCha20-Poly1305 under the
payload key, nonce = uint88_be(i) ‖ last-flag (0x01 on the final chunk), no associated data.
Only the final chunk may be shorter than 64 KiB; it is empty only when the whole plaintext is.
Memory use is two chunks whatever the file size: data moves from a binary reader to a binary
writer through preallocated buffers — or, for a regular file, straight from read-only maps of
8 MiB windows of it (saving a copy out of the page cache per chunk; on Linux each window's pages
are mapped in one call instead of faulted in one by one), so the resident set stays flat.
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
    return (counter << 8 | last).to_bytes(12, "big")


MAP_MIN = 1 << 20
"""Regular files at least this large are read through mmap: no copy out of the page cache."""
_WINDOW = 8 << 20
"""Bytes of the file mapped at a time: the resident set stays at about two windows."""
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
"""Linux: a window's pages are mapped when it is (one call), not faulted in page by page."""


def _mapped_rest(src: BinaryIO) -> tuple[int, int, int] | None:
    """(descriptor, current position, size) of the regular file `src` if it can be mapped, else None."""
    try:
        fd = src.fileno()
        info = os.fstat(fd)
        position = src.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size - position < MAP_MIN:
        return None
    try:
        mmap.mmap(fd, mmap.PAGESIZE, access=mmap.ACCESS_READ).close()
    except (OSError, ValueError):
        return None
    return fd, position, info.st_size


def _mapped_chunks(src: BinaryIO, fd: int, position: int, end: int, size: int) -> Iterator[tuple[memoryview, bool]]:
    """Chunks sliced from read-only maps of the file, one window after the other; a window is
    unmapped when the last slice of it is dropped."""
    pos = position
    try:
        while True:
            base = pos - pos % mmap.ALLOCATIONGRANULARITY
            top = min(end, base + _WINDOW)
            flags = mmap.MAP_SHARED | _POPULATE
            view = memoryview(mmap.mmap(fd, top - base, flags=flags, prot=mmap.PROT_READ, offset=base))
            while True:
                stop = min(pos + size, end)
                if stop > top:  # the chunk runs past this window: the next one is mapped from it
                    break
                last = stop >= end
                yield view[pos - base : stop - base], last
                if last:
                    return
                pos = stop
            del view
    finally:
        src.seek(0, os.SEEK_END)


def _chunks(src: BinaryIO, size: int) -> Iterator[tuple[memoryview, bool]]:
    """Yield (chunk, is_last) of `size` bytes (the final chunk may be full or, alone, empty).

    A regular file is sliced from an mmap (and left positioned at its end); anything else (pipes,
    sockets, unarmoring readers) is read one chunk ahead through two preallocated buffers.
    """
    mapped = _mapped_rest(src)
    if mapped is not None:
        yield from _mapped_chunks(src, *mapped, size)
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
    encrypt_into, write = aead.encrypt_into, dst.write
    out_view = memoryview(bytearray(ENCRYPTED_CHUNK))
    total = 0
    for counter, (chunk, last) in enumerate(_chunks(src, CHUNK)):
        n = len(chunk)
        out = out_view if n == CHUNK else out_view[: n + TAG]  # a full chunk fills the whole buffer
        encrypt_into((counter << 8 | last).to_bytes(12, "big"), chunk, None, out)
        write(out)
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
    decrypt_into, write = aead.decrypt_into, dst.write
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
        out = out_view if n == ENCRYPTED_CHUNK else out_view[: n - TAG]  # a full chunk fills the whole buffer
        try:
            decrypt_into((counter << 8 | last).to_bytes(12, "big"), chunk, None, out)
        except InvalidTag:
            raise _chunk_error(aead, counter, chunk, last) from None
        written = n - TAG
        if last and written == 0 and counter > 0:
            raise IntegrityError(f"payload chunk {counter} is an empty final chunk after other chunks")
        write(out)
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
