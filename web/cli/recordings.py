"""`pingbiao recordings list|archive` and `pingbiao audit verify BUNDLE --recordings DIR`: the booth's recordings against the checkpoints
the verified bundle logged (docs/media.md).

DIR holds one directory per booth room (``eval-<tender>/``) with Janus's ``.mjr`` files, the layout
of the setting ``recordings_dir``. Every file a ``booth.recording_checkpoint`` entry names must be
there and its first `length` bytes must hash to the logged SHA-256, for every checkpoint of it; a
``.mjr`` file that no checkpoint names is reported too. The first problem is named with its room,
file and byte range (the bytes after the last checkpoint that still matches).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.audit.bundle import ENTRIES_FILE
from evaluation.audit.entry import decode_leaf
from signaling.janus.checkpoints import Checkpoint, parse_name, verify
from web.config import Settings

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


# -- the archive: playable copies (web/booth/archive.py) ------------------------------------------

ARCHIVED_KIND = "booth.recording_archived"


def logged_archives(bundle: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    """The latest `booth.recording_archived` payload of each room in a (verified) bundle."""
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    with open(bundle / ENTRIES_FILE, "rb") as lines:
        for line in lines:
            entry = decode_leaf(base64.b64decode(json.loads(line)["leaf"]))
            if entry.kind == ARCHIVED_KIND:
                out[str(entry.payload["room"])] = dict(entry.payload)
    return out


def check_archive(bundle: Path, archive: Path) -> RecordingReport:
    """Each room's latest logged archive against the files in `archive`: the manifest and every
    playable file must hash to what the log says."""
    from web.booth.archive import sha256_file

    logged = logged_archives(bundle)
    files = 0
    for room in sorted(logged):
        payload = logged[room]
        manifest = archive / str(payload["manifest"])
        if not manifest.is_file():
            return RecordingReport(False, f"归档清单缺失 archive manifest missing: {payload['manifest']}")
        if sha256_file(manifest) != payload["manifest_sha256"]:
            return RecordingReport(False, f"归档清单与审计日志不符 archive manifest does not match the log: {payload['manifest']}")
        for f in payload.get("files", []):
            path = manifest.parent / str(f["file"])
            if not path.is_file():
                return RecordingReport(False, f"归档录像缺失 archived recording missing: {room}/{f['file']}")
            if path.stat().st_size != int(f["size"]) or sha256_file(path) != f["sha256"]:
                return RecordingReport(False, f"归档录像与审计日志不符 archived recording does not match the log: "
                                              f"{room}/{f['file']}: content differs")
            files += 1
    return RecordingReport(True, f"ok: {files} archived files match {len(logged)} logged archive manifests")


def add_recordings_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    rec = sub.add_parser("recordings", help="the booth's recordings: list them, archive them as playable files (录音录像)")
    rsub = rec.add_subparsers(dest="recordings_command", required=True, metavar="ACTION")
    p = rsub.add_parser("list", help="one line per recording: tender, room, participant, source, start, duration, size, archived")
    add_common(p)
    p.add_argument("tender", nargs="?", metavar="TENDER", help="only this tender's recordings")
    p = rsub.add_parser("archive", help="convert a tender's recordings into playable files with a manifest (docs/media.md)")
    add_common(p)
    p.add_argument("tender", metavar="TENDER", help="the tender id")


def run_recordings_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.recordings_command == "archive":
        return asyncio.run(_archive(args.tender, settings))
    return asyncio.run(_list(args.tender, settings))


async def _archive(tender: str, settings: Settings) -> int:
    from evaluation.errors import NotFoundError
    from web.booth.archive import ArchiveError, archive_rooms, recordings_root, rooms_of_tender, tools_missing
    from web.cli.installation import existing_log, installation

    rooms = rooms_of_tender(recordings_root(settings), tender)
    if not rooms:
        raise NotFoundError("该项目没有录音录像：{path} 中没有项目 {tender} 的录像", path=recordings_root(settings),
                            tender=repr(tender))
    if (missing := tools_missing()) is not None:
        raise ArchiveError(missing)
    async with existing_log(settings):
        pass  # a data directory without a log is an error, not a new log
    async with installation(settings) as (_engine, log):
        manifests = await archive_rooms(log, settings, rooms)
    for m in manifests:
        print(f"archived {m['room']}: {len(m['recordings'])} playable files, retained until {m['retain_until']}, "
              f"manifest {m['tender']}/{m['room']}/manifest.json")
    return 0


@dataclass(frozen=True)
class Row:
    tender: str
    title: str
    room: str
    name: str
    source: str
    start_us: int
    duration: float | None
    size: int
    archived: bool


def _rtp_duration(path: Path) -> float | None:
    """Seconds between a recording's first and last frame (MJR00002 frames: MEET, 4-byte ms, 2-byte length)."""
    last = 0
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"MJR00002":
                return None
            (n,) = struct.unpack(">H", f.read(2))
            f.seek(n, 1)
            while (head := f.read(10)) and len(head) == 10 and head[:4] == b"MEET":
                ms, length = struct.unpack(">IH", head[4:])
                last = max(last, ms)
                f.seek(length, 1)
    except OSError:
        return None
    return last / 1000


async def _list(tender: str | None, settings: Settings) -> int:
    import sqlalchemy as sa

    from evaluation.accounts.tables import account_table
    from evaluation.tenders.store import tender_table
    from web.booth.archive import (
        archive_root,
        group,
        participants_from_checkpoints,
        read_manifest,
        recordings_in,
        recordings_root,
        tender_of_room,
    )
    from web.cli.installation import existing_log
    from web.formatting import local_time

    root = recordings_root(settings)
    rooms = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if tender is not None:
        rooms = [r for r in rooms if tender_of_room(r) == tender]
    rows: list[Row] = []
    async with existing_log(settings) as (engine, log, _vkey):
        for room in rooms:
            t = tender_of_room(room)
            who = participants_from_checkpoints(await log.entries_for_tender(t, kinds=[CHECKPOINT_KIND]), room)
            manifest = read_manifest(archive_root(settings) / t / room) or {}
            archived = {m["file"]: m["length"] for e in manifest.get("recordings", []) for m in e["mjr"]}
            durations = {m["file"]: e["duration"] for e in manifest.get("recordings", []) for m in e["mjr"]}
            title = ""
            names: dict[str, str] = {}
            try:
                async with engine.connect() as conn:
                    spec = (await conn.execute(sa.select(tender_table.c.spec).where(tender_table.c.id == t))).scalar()
                    title = str(json.loads(spec).get("title", "")) if spec else ""
                    ids = [a for a, _ in who.values()]
                    for row in (await conn.execute(sa.select(account_table.c.id, account_table.c.display_name)
                                                   .where(account_table.c.id.in_(ids)))).all():
                        names[row.id] = row.display_name
            except sa.exc.SQLAlchemyError:
                pass  # a database without the tables: ids only
            for recs in group(recordings_in(root / room)):
                account, source = who.get(recs[0].feed, ("", ""))
                done = all(archived.get(r.name) == r.path.stat().st_size for r in recs)
                duration = durations.get(recs[0].name) if done else max(
                    (d for r in recs if (d := _rtp_duration(r.path)) is not None), default=None)
                rows.append(Row(t, title, room, names.get(account, account or f"feed {recs[0].feed}"),
                                source or "camera", min(r.first_us for r in recs), duration,
                                sum(r.path.stat().st_size for r in recs), done))
    if not rows:
        print("没有录音录像 no recordings" + (f" for tender {tender}" if tender else ""))
        return 0
    head = ("tender", "title", "room", "participant", "source", f"start ({settings.time_zone})", "duration", "size",
            "archived")
    table = [head] + [(r.tender, r.title or "-", r.room, r.name, r.source,
                       local_time(r.start_us / 1e6, settings.time_zone),
                       "-" if r.duration is None else f"{r.duration:.1f} s", _size(r.size),
                       "yes" if r.archived else "no") for r in sorted(rows, key=lambda r: (r.tender, r.room, r.start_us))]
    widths = [max(_width(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths)).rstrip())
    return 0


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)



def export_recordings(out: Path, settings: Settings) -> str:
    """Copy (hard-link where the file system allows) the recordings of every room the bundle's
    checkpoints name into OUT/recordings/<room>/, and those rooms' archive into OUT/archive/."""
    import os
    import shutil

    from web.booth.archive import archive_root, recordings_root, tender_of_room

    def put(src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    rooms = sorted(logged_checkpoints(out))
    files = archived = 0
    for room in rooms:
        for src in sorted((recordings_root(settings) / room).glob("*.mjr")):
            put(src, out / "recordings" / room / src.name)
            files += 1
        tender = tender_of_room(room)
        adir = archive_root(settings) / tender / room
        if adir.is_dir():
            for src in sorted(p for p in adir.iterdir() if p.is_file() and not p.name.startswith(".")):
                put(src, out / "archive" / tender / room / src.name)
                archived += 1
    return (f"copied {files} recordings of {len(rooms)} booth rooms to {out / 'recordings'} and {archived} archive "
            f"files to {out / 'archive'}")
