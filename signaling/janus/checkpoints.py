"""Recording checkpoints: per .mjr file, the byte length so far and the SHA-256 of that prefix.

Janus only appends to its recordings, so a checkpoint (length, SHA-256 of the first `length`
bytes) taken while a file grows stays valid for the finished file; a later cut, splice or edit is
located to within one interval. The hasher keeps one hashlib state per file and reads only the
bytes added since the last pass, never a whole file again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^videoroom-(?P<room>[^-]+)-user-(?P<feed>[^-]+)-(?P<start>\d+)-(?P<stream>.+)\.mjr$")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Checkpoint:
    file: str          # name inside the recording directory
    room: str
    participant: str   # the publisher's feed id in the room
    stream: str        # e.g. "video-0", "audio-1"
    length: int
    sha256: str
    final: bool = False


@dataclass
class _State:
    digest: "hashlib._Hash"
    length: int = 0
    reported: int = -1


def parse_name(name: str) -> tuple[str, str, str] | None:
    m = NAME.match(name)
    return (m["room"], m["feed"], m["stream"]) if m else None


class RecordingHasher:
    """Incremental SHA-256 of every recording in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._files: dict[str, _State] = {}

    def scan(self, final: bool = False) -> list[Checkpoint]:
        """Hash the bytes added since the last scan; one checkpoint per file that grew (all if final)."""
        out: list[Checkpoint] = []
        for path in sorted(self.directory.glob("*.mjr")):
            parsed = parse_name(path.name)
            if parsed is None:
                continue
            st = self._files.setdefault(path.name, _State(hashlib.sha256()))
            with open(path, "rb") as f:
                f.seek(st.length)
                while chunk := f.read(CHUNK):
                    st.digest.update(chunk)
                    st.length += len(chunk)
            if st.length != st.reported or final:
                st.reported = st.length
                out.append(Checkpoint(path.name, *parsed, st.length, st.digest.hexdigest(), final))
        return out

    def current(self) -> list[Checkpoint]:
        """Every file hashed so far: its length and the SHA-256 of that prefix (nothing is read)."""
        out = []
        for name, st in sorted(self._files.items()):
            parsed = parse_name(name)
            if parsed is not None:
                out.append(Checkpoint(name, *parsed, st.length, st.digest.hexdigest()))
        return out


async def checkpoint_loop(directory: Path, on_checkpoint: Callable[[Checkpoint], Awaitable[None]],
                          stop: asyncio.Event, interval: float = 10.0) -> RecordingHasher:
    """Every `interval` seconds (≤ 10) and once more when `stop` is set, pass checkpoints on."""
    if not 0 < interval <= 10:
        raise ValueError("checkpoint interval must be in (0, 10] seconds")
    hasher = RecordingHasher(directory)
    while True:
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
        final = stop.is_set()
        for cp in await asyncio.to_thread(hasher.scan, final):
            await on_checkpoint(cp)
        if final:
            return hasher


def prefix_sha256(path: Path, length: int) -> str:
    """A fresh SHA-256 of the first `length` bytes of a file (for verification)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = length
        while left > 0 and (chunk := f.read(min(CHUNK, left))):
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Mismatch:
    file: str
    start: int  # the differing bytes lie in [start, end): after the last good checkpoint
    end: int
    reason: str


def verify(directory: Path, checkpoints: list[Checkpoint]) -> Mismatch | None:
    """Check recordings against logged checkpoints; the first file and byte range that differs.

    Checkpoints of one file are checked in order of length with one running hash, so the files are
    read once. A file shorter than a checkpoint, or missing, is a mismatch too.
    """
    by_file: dict[str, list[Checkpoint]] = {}
    for cp in checkpoints:
        by_file.setdefault(cp.file, []).append(cp)
    for name in sorted(by_file):
        path = Path(directory) / name
        good = 0
        if not path.exists():
            return Mismatch(name, 0, max(c.length for c in by_file[name]), "file missing")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for cp in sorted(by_file[name], key=lambda c: c.length):
                want = cp.length - good
                while want > 0 and (chunk := f.read(min(CHUNK, want))):
                    h.update(chunk)
                    want -= len(chunk)
                if want > 0:
                    return Mismatch(name, good, cp.length, "file shorter than its checkpoint")
                if h.hexdigest() != cp.sha256:
                    return Mismatch(name, good, cp.length, "content differs")
                good = cp.length
    return None
