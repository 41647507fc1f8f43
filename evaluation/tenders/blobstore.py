"""Content-addressed blob store on local disk: ``<root>/sha256/ab/cd/abcd…`` by SHA-256.

Writes stream through a temporary file in ``<root>/tmp`` while hashing, and are renamed into
place only when complete; on any failure the temporary file is removed. Memory use does not
grow with the blob. Blobs are immutable; a blob already present is not written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
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
    """One blob being written: ``write`` chunks, then ``commit`` once, or ``abort``."""

    def __init__(self, store: BlobStore, limit: int) -> None:
        self._store = store
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = _mkstemp(store.tmp_dir)
        self._path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append `chunk`. Raises TooLarge (and removes the file) past the limit."""
        if self._file is None:
            raise RuntimeError("blob writer is closed")
        self.size += len(chunk)
        if self.size > self._limit:
            self.abort()
            raise TooLarge(f"投标文件超过本项目的大小上限 bid is larger than this tender's limit of {self._limit} bytes")
        self._hash.update(chunk)
        self._file.write(chunk)

    async def commit(self) -> StoredBlob:
        """Flush, fsync and move the blob into place; returns its hash and size."""
        if self._file is None:
            raise RuntimeError("blob writer is closed")
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
        """Drop the partial blob (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


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
            raise NotFoundError(f"文件校验值格式不对 {sha256[:70]!r} is not a SHA-256 hex digest")
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
            raise NotFoundError(f"找不到该文件 blob {sha256[:16]}… is not stored") from None

    def delete(self, sha256: str) -> None:
        """Remove a blob (used only to erase ciphertexts that must not outlive their lock)."""
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()
            log.info("blob erased", extra={"sha256": sha256})

    def all_hashes(self) -> list[str]:
        base = self.root / "sha256"
        return sorted(p.name for p in base.glob("*/*/*") if _HEX.match(p.name)) if base.exists() else []
