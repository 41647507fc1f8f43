"""age STREAM payload: chunking, nonces, last-chunk rules, truncation and tampering."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto import stream
from crypto.errors import IntegrityError

KEY = bytes(range(32))
SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536 + 5]


def _encrypt(data: bytes) -> bytes:
    out = io.BytesIO()
    assert stream.encrypt(KEY, io.BytesIO(data), out) == len(data)
    return out.getvalue()


def _decrypt(data: bytes) -> bytes:
    out = io.BytesIO()
    stream.decrypt(KEY, io.BytesIO(data), out)
    return out.getvalue()


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_chunk_layout(size: int) -> None:
    data = os.urandom(size)
    sealed = _encrypt(data)
    chunks = max(1, -(-size // stream.CHUNK))
    assert len(sealed) == size + chunks * stream.TAG
    assert _decrypt(sealed) == data


@pytest.mark.parametrize("size", SIZES)
def test_nonces_follow_age(size: int) -> None:
    """Decrypt independently: nonce = 11-byte big-endian counter ‖ 0x01 on the last chunk only."""
    data = os.urandom(size)
    sealed = _encrypt(data)
    aead = ChaCha20Poly1305(KEY)
    pieces = [sealed[i : i + stream.ENCRYPTED_CHUNK] for i in range(0, len(sealed), stream.ENCRYPTED_CHUNK)]
    plain = b""
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        plain += aead.decrypt(i.to_bytes(11, "big") + (b"\x01" if last else b"\x00"), piece, None)
    assert plain == data


class Trickle(io.RawIOBase):
    """A reader that returns at most 1000 bytes per call, like a pipe or socket."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buf)[:1000]
        return self._src.readinto(view)


def test_short_reads_are_handled() -> None:
    data = os.urandom(3 * 65536 + 5)
    sealed = io.BytesIO()
    stream.encrypt(KEY, Trickle(data), sealed)  # type: ignore[arg-type]
    out = io.BytesIO()
    stream.decrypt(KEY, Trickle(sealed.getvalue()), out)  # type: ignore[arg-type]
    assert out.getvalue() == data


def test_progress_reports_running_totals() -> None:
    seen: list[int] = []
    size = 2 * 65536 + 10
    stream.encrypt(KEY, io.BytesIO(bytes(size)), io.BytesIO(), seen.append)
    assert seen == [65536, 131072, size]


def test_missing_payload() -> None:
    with pytest.raises(IntegrityError, match="payload is missing"):
        _decrypt(b"")


def test_dropped_final_chunk_is_truncation() -> None:
    sealed = _encrypt(os.urandom(2 * 65536 + 5))
    with pytest.raises(IntegrityError, match="truncated: it ends after chunk 1 without a final chunk"):
        _decrypt(sealed[: 2 * stream.ENCRYPTED_CHUNK])


def test_cut_chunk_fails() -> None:
    sealed = _encrypt(os.urandom(65536 + 100))
    with pytest.raises(IntegrityError, match="chunk 1"):
        _decrypt(sealed[:-10])
    with pytest.raises(IntegrityError, match="chunk 1 is truncated"):
        _decrypt(sealed[: stream.ENCRYPTED_CHUNK + 5])


@pytest.mark.parametrize("position", [0, 100, 65551, 65552, 65552 + 30000, -1])
def test_changed_byte_names_its_chunk(position: int) -> None:
    sealed = bytearray(_encrypt(os.urandom(2 * 65536 + 5)))
    sealed[position] ^= 0x80
    chunk = (position % len(sealed)) // stream.ENCRYPTED_CHUNK
    with pytest.raises(IntegrityError, match=f"payload chunk {chunk} failed authentication"):
        _decrypt(bytes(sealed))


def test_data_after_final_chunk_is_refused() -> None:
    aead = ChaCha20Poly1305(KEY)
    final = aead.encrypt(bytes(11) + b"\x01", bytes(65536), None)
    extra = aead.encrypt((1).to_bytes(11, "big") + b"\x01", b"more", None)
    assert _decrypt(final) == bytes(65536)  # a full-size final chunk is fine
    with pytest.raises(IntegrityError, match="data after its final chunk 0"):
        _decrypt(final + extra)


def test_reordered_chunks_fail() -> None:
    sealed = _encrypt(os.urandom(3 * 65536))
    c = stream.ENCRYPTED_CHUNK
    with pytest.raises(IntegrityError, match="chunk 0"):
        _decrypt(sealed[c : 2 * c] + sealed[:c] + sealed[2 * c :])


def test_empty_final_chunk_after_data_is_refused() -> None:
    aead = ChaCha20Poly1305(KEY)
    first = aead.encrypt(bytes(12), bytes(65536), None)
    empty_last = aead.encrypt((1).to_bytes(11, "big") + b"\x01", b"", None)
    with pytest.raises(IntegrityError, match="empty final chunk"):
        _decrypt(first + empty_last)


def test_empty_plaintext_is_one_empty_final_chunk() -> None:
    sealed = _encrypt(b"")
    assert sealed == ChaCha20Poly1305(KEY).encrypt(bytes(11) + b"\x01", b"", None)
    assert _decrypt(sealed) == b""


@pytest.mark.parametrize("window", [3 * 65536, 5 * 65536 + 4096])
def test_files_read_through_map_windows(tmp_path, monkeypatch: pytest.MonkeyPatch, window: int) -> None:  # noqa: ANN001
    """Regular files are read through windows of a map: chunks that straddle two windows, a
    payload starting at an odd offset (after a header) and a changed byte in a later window."""
    monkeypatch.setattr(stream, "_WINDOW", window)
    monkeypatch.setattr(stream, "MAP_MIN", 1)
    data = os.urandom(17 * stream.CHUNK + 123)
    plain, sealed = tmp_path / "plain", tmp_path / "sealed"
    plain.write_bytes(b"header\n" + data)
    with open(plain, "rb") as src, open(sealed, "wb") as dst:
        assert src.read(7) == b"header\n"
        assert stream.encrypt(KEY, src, dst) == len(data)
        assert src.read() == b""  # left at the end, as a read would be
    assert _decrypt(sealed.read_bytes()) == data
    sealed.write_bytes(b"xyz" + sealed.read_bytes())
    out = io.BytesIO()
    with open(sealed, "rb") as src:
        src.read(3)
        assert stream.decrypt(KEY, src, out) == len(data)
    assert out.getvalue() == data
    changed = bytearray(sealed.read_bytes())
    changed[3 + 11 * stream.ENCRYPTED_CHUNK + 5] ^= 1
    sealed.write_bytes(bytes(changed))
    with open(sealed, "rb") as src, pytest.raises(IntegrityError, match="chunk 11 failed"):
        src.read(3)
        stream.decrypt(KEY, src, io.BytesIO())
