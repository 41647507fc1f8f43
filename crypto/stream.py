"""age STREAM: the payload cipher, chunk by chunk (C2SP age.md, "Payload").

The plaintext is cut into 64 KiB chunks; chunk i is sealed with ChaCha20-Poly1305 under the
payload key, nonce = uint88_be(i) ‖ last-flag (0x01 on the final chunk), no associated data.
Only the final chunk may be shorter than 64 KiB; it is empty only when the whole plaintext is.
Memory use is two chunks whatever the file size: data moves from a binary reader to a binary
writer through preallocated buffers.
"""

from __future__ import annotations

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


def encrypt(key: bytes, src: BinaryIO, dst: BinaryIO, progress: Progress | None = None) -> int:
    """Encrypt everything `src` yields into STREAM chunks written to `dst`; return plaintext size.

    Precondition: `key` is the 32-byte payload key. An empty `src` gives one empty final chunk.
    """
    aead = ChaCha20Poly1305(key)
    bufs = (bytearray(CHUNK), bytearray(CHUNK))
    views = (memoryview(bufs[0]), memoryview(bufs[1]))
    out = bytearray(ENCRYPTED_CHUNK)
    out_view = memoryview(out)
    cur = 0
    n = read_full(src, views[cur])
    counter = 0
    total = 0
    while True:
        # Read one chunk ahead: the current chunk is the last one iff nothing follows it.
        nxt = 0
        if n == CHUNK:
            nxt = read_full(src, views[1 - cur])
        last = nxt == 0
        written = aead.encrypt_into(_nonce(counter, last), views[cur][:n], None, out_view[: n + TAG])
        dst.write(out_view[:written])
        total += n
        if progress is not None:
            progress(total)
        if last:
            return total
        counter += 1
        cur = 1 - cur
        n = nxt


def decrypt(key: bytes, src: BinaryIO, dst: BinaryIO, progress: Progress | None = None) -> int:
    """Decrypt STREAM chunks from `src` to `dst`; return the plaintext size.

    Raises IntegrityError naming the chunk (counted from 0) for a changed or reordered chunk,
    for truncation (the data ends without a final chunk, or with no chunk at all), for an empty
    final chunk after other chunks, and for data after the final chunk. Plaintext of chunks
    before a bad one has already been written: callers writing files must discard the output
    on error (crypto.tlock.unseal_file does).
    """
    aead = ChaCha20Poly1305(key)
    bufs = (bytearray(ENCRYPTED_CHUNK), bytearray(ENCRYPTED_CHUNK))
    views = (memoryview(bufs[0]), memoryview(bufs[1]))
    out = bytearray(CHUNK)
    out_view = memoryview(out)
    cur = 0
    n = read_full(src, views[cur])
    if n == 0:
        raise IntegrityError(
            "payload is missing: the file is truncated, or is an empty file made by tlock-js "
            "(which writes no final chunk; not accepted)"
        )
    counter = 0
    total = 0
    while True:
        nxt = 0
        if n == ENCRYPTED_CHUNK:
            nxt = read_full(src, views[1 - cur])
        last = nxt == 0
        if n < TAG:
            raise IntegrityError(f"payload chunk {counter} is truncated ({n} bytes)")
        chunk = views[cur][:n]
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
        if last:
            return total
        counter += 1
        cur = 1 - cur
        n = nxt


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
