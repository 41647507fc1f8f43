"""The blob writer hands large blobs to a thread of its own: the stored bytes and hash, the size
limit and the clean-up on abort are those of a write in place."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from evaluation.tenders import blobstore
from evaluation.tenders.blobstore import BlobStore, TooLarge


def chunks(total: int, size: int) -> list[bytes]:
    data = os.urandom(total)
    return [data[i : i + size] for i in range(0, total, size)]


def test_a_large_blob_written_through_the_thread_is_stored_whole(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    parts = chunks(3 * blobstore._THREAD_FROM + 12345, 100_000)
    writer = store.writer(1 << 30)
    for part in parts:
        writer.write(part)
    assert writer._thread is not None  # (the thread did the writing)
    stored = asyncio.run(writer.commit())
    data = b"".join(parts)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    with store.open(stored.sha256) as f:
        assert f.read() == data
    assert list(store.tmp_dir.iterdir()) == []


def test_past_the_limit_and_on_abort_nothing_is_left(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer(2 * blobstore._THREAD_FROM)
    with pytest.raises(TooLarge):
        for part in chunks(3 * blobstore._THREAD_FROM, 65536):
            writer.write(part)
    assert list(store.tmp_dir.iterdir()) == []
    writer = store.writer(1 << 30)
    for part in chunks(2 * blobstore._THREAD_FROM, 65536):
        writer.write(part)
    writer.abort()
    writer.abort()
    assert list(store.tmp_dir.iterdir()) == [] and store.all_hashes() == []
