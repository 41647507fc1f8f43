"""Content-addressed blob store on local disk: ``<root>/sha256/ab/cd/abcd…`` by SHA-256.

Writes stream through a temporary file in ``<root>/tmp`` while hashing, and are renamed into
place only when complete; on any failure the temporary file is removed. Memory use does not
grow with the blob. Blobs are immutable; a blob already present is not written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from evaluation.errors import DomainError, NotFoundError

log = logging.getLogger(__name__)
_HEX = re.compile(r"^[0-9a-f]{64}$")


class TooLarge(DomainError):
    """A blob grew beyond the size it was allowed."""

    status = 413


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when an identical blob was already stored


class BlobWriter:
    """One blob being written: ``write`` chunks, then ``commit`` once, or ``abort``.

    Once a blob passes ``_THREAD_FROM`` bytes, hashing and writing move to a thread of its own
    fed through a short queue, so that the caller (the event loop receiving an upload) goes on
    receiving while they run: both release the GIL (hashlib does for chunks over 2 KiB). The
    bytes, their order, the hash and the size limit are those of a write in place.
    """

    def __init__(self, store: BlobStore, limit: int) -> None:
        self._store = store
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        self._flushed = 0  # bytes handed to the disk's writeback so far
        self._written = 0  # bytes written to the file
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None  # what the thread's write raised
        self._stop = False  # abort: the thread drops what is still queued
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = _mkstemp(store.tmp_dir)
        self._path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append `chunk`. Raises TooLarge (and removes the file) past the limit; a write error
        of an earlier chunk in the thread is raised here or by ``commit``."""
        if self._file is None:
            raise RuntimeError("blob writer is closed")
        self.size += len(chunk)
        if self.size > self._limit:
            self.abort()
            raise TooLarge("投标文件超过本项目的大小上限（{limit} 字节）", limit=self._limit)
        if self._error is not None:
            error = self._error
            self.abort()
            raise error
        if self._queue is None:
            if self.size < _THREAD_FROM:
                self._write_now(chunk)
                return
            self._queue = queue.Queue(_QUEUED_CHUNKS)
            self._thread = threading.Thread(target=self._run, name="blob-writer", daemon=True)
            self._thread.start()
        self._queue.put(chunk)  # waits only while the thread is that many chunks behind

    def _write_now(self, chunk: bytes) -> None:
        assert self._file is not None
        self._hash.update(chunk)
        self._file.write(chunk)
        self._written += len(chunk)
        if self._written - self._flushed >= _WRITEBACK_STEP:
            self._file.flush()
            _start_writeback(self._file.fileno(), self._flushed, self._written - self._flushed)
            self._flushed = self._written

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._error is None and not self._stop:
                try:
                    self._write_now(chunk)
                except Exception as exc:  # noqa: BLE001  (handed to the caller by write or commit)
                    self._error = exc

    def _drain(self) -> None:
        """Wait until the thread has written every queued chunk (and ended); raise its error."""
        if self._thread is not None:
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

    async def commit(self) -> StoredBlob:
        """Flush, fsync and move the blob into place; returns its hash and size."""
        if self._file is None:
            raise RuntimeError("blob writer is closed")
        try:
            await asyncio.to_thread(self._drain)
        except BaseException:
            self.abort()
            raise
        file, self._file = self._file, None
        digest = self._hash.hexdigest()
        target = self._store.path(digest)
        try:
            created = await asyncio.to_thread(_finish, file, self._path, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            raise
        return StoredBlob(digest, self.size, created)

    def commit_sync(self) -> StoredBlob:
        """`commit` for code already running in a worker thread."""
        if self._file is None:
            raise RuntimeError("blob writer is closed")
        try:
            self._drain()
        except BaseException:
            self.abort()
            raise
        file, self._file = self._file, None
        digest = self._hash.hexdigest()
        try:
            created = _finish(file, self._path, self._store.path(digest))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            raise
        return StoredBlob(digest, self.size, created)

    def abort(self) -> None:
        """Drop the partial blob (idempotent). Waits for the thread's current chunk, if any
        (what is still queued is dropped), so the file is closed and removed on return."""
        if self._thread is not None:
            assert self._queue is not None
            self._stop = True
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


_THREAD_FROM = 1 << 20
"""Blobs reaching this size are hashed and written by a thread of their own (smaller ones in place)."""
_QUEUED_CHUNKS = 4
"""Chunks handed to that thread and not yet written, at most (memory: a few chunks per upload)."""
_WRITEBACK_STEP = 8 << 20
"""Every this many bytes written, their writeback to disk is started (not waited for)."""


def _writeback_starter() -> Callable[[int, int, int], object] | None:
    """Linux's sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    call.restype = ctypes.c_int
    return lambda fd, offset, count: call(fd, offset, count, 2)  # SYNC_FILE_RANGE_WRITE


_SYNC_FILE_RANGE = _writeback_starter()


def _start_writeback(fd: int, offset: int, count: int) -> None:
    """Start writing these bytes of the file to disk without waiting, so that the fsync of
    ``commit`` finds most of a large blob already written instead of all of it dirty: the upload
    and the disk work at the same time. Durability still comes from that fsync alone; where the
    call is missing (or fails) nothing else changes."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, count)


def _mkstemp(directory: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)


def _finish(file: BinaryIO, tmp: Path, target: Path) -> bool:
    file.flush()
    os.fsync(file.fileno())
    file.close()
    if target.exists():
        tmp.unlink()
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    return True


class BlobStore:
    """Blobs under `root` (normally ``<data_dir>/blobs``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"

    def path(self, sha256: str) -> Path:
        if not _HEX.match(sha256):
            raise NotFoundError("文件校验值格式不对（收到 {got}）", got=repr(sha256[:70]))
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def writer(self, limit: int) -> BlobWriter:
        """A writer for one new blob of at most `limit` bytes."""
        return BlobWriter(self, limit)

    async def put_file(self, src: BinaryIO, limit: int = 1 << 62) -> StoredBlob:
        """Store everything `src` yields (streamed in 1 MiB chunks)."""
        writer = self.writer(limit)
        try:
            while chunk := src.read(1 << 20):
                writer.write(chunk)
            return await writer.commit()
        except BaseException:
            writer.abort()
            raise

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored blob for reading. Raises NotFoundError if it is not stored."""
        try:
            return open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise NotFoundError("找不到该文件（{sha256}…）", sha256=sha256[:16]) from None

    def delete(self, sha256: str) -> None:
        """Remove a blob (used only to erase ciphertexts that must not outlive their lock)."""
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()
            log.info("blob erased", extra={"sha256": sha256})

    def all_hashes(self) -> list[str]:
        base = self.root / "sha256"
        return sorted(p.name for p in base.glob("*/*/*") if _HEX.match(p.name)) if base.exists() else []
