"""`pingbiao audit verify BUNDLE --recordings DIR`: the booth's recordings against the checkpoints
the verified bundle logged (docs/media.md).

DIR holds one directory per booth room (``eval-<tender>/``) with Janus's ``.mjr`` files, the layout
of the setting ``recordings_dir``. Every file a ``booth.recording_checkpoint`` entry names must be
there and its first `length` bytes must hash to the logged SHA-256, for every checkpoint of it; a
``.mjr`` file that no checkpoint names is reported too. The first problem is named with its room,
file and byte range (the bytes after the last checkpoint that still matches).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from evaluation.audit.bundle import ENTRIES_FILE
from evaluation.audit.entry import decode_leaf
from signaling.janus.checkpoints import Checkpoint, parse_name, verify

CHECKPOINT_KIND = "booth.recording_checkpoint"


@dataclass(frozen=True)
class RecordingReport:
    ok: bool
    text: str


def logged_checkpoints(bundle: Path) -> dict[str, list[Checkpoint]]:
    """The recording checkpoints of a (verified) bundle, by room."""
    rooms: dict[str, list[Checkpoint]] = {}
    with open(bundle / ENTRIES_FILE, "rb") as lines:
        for line in lines:
            obj = json.loads(line)
            entry = decode_leaf(base64.b64decode(obj["leaf"]))
            if entry.kind != CHECKPOINT_KIND:
                continue
            room = str(entry.payload["room"])
            for f in entry.payload.get("files", []):
                parsed = parse_name(str(f["file"])) or ("", str(f.get("account", "")), str(f["stream"]))
                rooms.setdefault(room, []).append(Checkpoint(
                    str(f["file"]), parsed[0], parsed[1], str(f["stream"]), int(f["length"]), str(f["sha256"]),
                    bool(entry.payload.get("final"))))
    return rooms


def check_recordings(bundle: Path, recordings: Path) -> RecordingReport:
    rooms = logged_checkpoints(bundle)
    files = 0
    count = sum(len(c) for c in rooms.values())
    for room in sorted(rooms):
        cps = rooms[room]
        bad = verify(recordings / room, cps)
        if bad is not None:
            return RecordingReport(False, (
                f"录像与审计日志不符 recording does not match the log: {room}/{bad.file} bytes {bad.start}–{bad.end}: "
                f"{bad.reason}"))
        named = {c.file for c in cps}
        files += len(named)
        extra = sorted(p.name for p in (recordings / room).glob("*.mjr") if p.name not in named)
        if extra:
            return RecordingReport(False, (
                f"录像不在审计日志中 recording not covered by any logged checkpoint: {room}/{extra[0]}"))
    if count == 0:
        return RecordingReport(True, "ok: the log has no recording checkpoints (nothing was recorded)")
    return RecordingReport(True, f"ok: {files} recordings in {len(rooms)} booth rooms match {count} logged checkpoints")
