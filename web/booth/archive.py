"""The booth's recordings after the session (docs/media.md, "Archive"): playable copies of Janus's
``.mjr`` files, one per participant and source, with a manifest that ties each copy to the original
files the audit log's checkpoints cover.

When a room's recording ends (the platform shuts down, or ``pingbiao recordings archive TENDER``),
every recording of the room is converted with ``janus-pp-rec`` (VP8/VP9 → WebM, H.264 → MP4, Opus →
Ogg) and ffmpeg puts a participant's picture and sound into one file without re-encoding
(``-c copy``). The layout under the setting ``recordings_archive_dir`` (default
``<data_dir>/archive``)::

    <tender>/<room>/<account>-<source>-<start>.webm     one per published camera or screen
    <tender>/<room>/manifest.json                       what each file is, its hashes, its retention

``<start>`` is the UTC time of the first recorded packet (the playable file's 0 s), ``20261203T092800Z``. The manifest lists,
per file: account, source, feed, start (µs and ISO UTC), duration (seconds, by ffprobe), size and
SHA-256 of the playable file, and the original ``.mjr`` files it was made from with their length and
SHA-256 — the hashes `pingbiao audit verify --recordings` checks against the log. The originals are
kept: they are what the checkpoints cover; the archive adds, it never replaces. Archiving again
converts only what changed (a file that grew, a new reconnect) and logs one
``booth.recording_archived`` entry when the manifest changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.audit.entry import EntryDraft
from evaluation.audit.events import KINDS, register_kind
from evaluation.errors import DomainError, Text
from signaling.janus.checkpoints import NAME
from web.config import Settings

log = logging.getLogger("pingbiao.archive")

ARCHIVED = "booth.recording_archived"
ARCHIVED_DOC = (
    "The recordings of a booth room were archived as playable files (录音录像归档). Payload: room, manifest "
    "(path inside recordings_archive_dir), manifest_sha256, retain_until, files: [{file, account, source, start_us, "
    "duration_ms, size, sha256, mjr: [{file, length, sha256}]}]."
)
MANIFEST = "manifest.json"
FORMAT = 1
PAIR_WINDOW_US = 5_000_000  # a participant's audio and video recordings that start this close belong together
CHUNK = 1 << 20


def register() -> None:
    if ARCHIVED not in KINDS:
        register_kind(ARCHIVED, ARCHIVED_DOC)


register()


class ArchiveError(DomainError):
    """A recording could not be archived or read (one line, Chinese first; the CLI prints it as it is)."""


def archive_root(settings: Settings) -> Path:
    return Path(settings.recordings_archive_dir) if settings.recordings_archive_dir else settings.data_dir / "archive"


def recordings_root(settings: Settings) -> Path:
    return Path(settings.recordings_dir) if settings.recordings_dir else settings.data_dir / "recordings"


def tools_missing() -> Text | None:
    """Why nothing can be converted here (None when janus-pp-rec, ffmpeg and ffprobe are installed)."""
    missing = [t for t in ("janus-pp-rec", "ffmpeg", "ffprobe") if shutil.which(t) is None]
    if not missing:
        return None
    return Text("未安装录像转换工具 {tools}（Debian 软件包 janus-tools、ffmpeg）", tools=", ".join(missing))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Recording:
    """One ``.mjr`` file: one stream of one publisher."""

    path: Path
    feed: str
    start_us: int     # from Janus's file name
    stream: str       # video-0, audio-1…
    kind: str         # "video", "audio" (data channels are not archived)
    codec: str
    first_us: int     # when its first packet was written (the header's "u"), for aligning audio and video

    @property
    def name(self) -> str:
        return self.path.name


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a Janus recording (``MJR00002`` + 2-byte length + JSON)."""
    with open(path, "rb") as f:
        magic = f.read(8)
        if magic != b"MJR00002":
            raise ArchiveError("不是 Janus 录像文件（MJR00002）：{name}", name=path.name)
        (length,) = struct.unpack(">H", f.read(2))
        try:
            return json.loads(f.read(length))
        except ValueError:
            raise ArchiveError("录像文件头无法读取：{name}", name=path.name) from None


def recordings_in(directory: Path) -> list[Recording]:
    out = []
    for path in sorted(directory.glob("*.mjr")):
        m = NAME.match(path.name)
        if m is None or path.stat().st_size <= 10:
            continue
        head = read_header(path)
        kind = {"v": "video", "a": "audio"}.get(str(head.get("t")), "")
        if not kind:
            continue
        out.append(Recording(path, m["feed"], int(m["start"]), m["stream"], kind, str(head.get("c", "")),
                             int(head.get("u") or head.get("s") or m["start"])))
    return out


def group(recordings: Iterable[Recording]) -> list[list[Recording]]:
    """The recordings of one publication: same feed, started within PAIR_WINDOW_US of each other;
    at most one video and one audio each (a reconnect starts new files and so a new group)."""
    groups: list[list[Recording]] = []
    for rec in sorted(recordings, key=lambda r: (r.feed, r.start_us, r.kind)):
        for g in groups:
            if (g[0].feed == rec.feed and abs(g[0].start_us - rec.start_us) <= PAIR_WINDOW_US
                    and all(r.kind != rec.kind for r in g)):
                g.append(rec)
                break
        else:
            groups.append([rec])
    return groups


def stamp(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_SAFE = re.compile(r"[^A-Za-z0-9_.]+")


def _safe(text: str) -> str:
    return _SAFE.sub("_", text).strip("._") or "unknown"


def _retain_until(start_us: int, years: int) -> str:
    start = dt.datetime.fromtimestamp(start_us / 1e6, dt.UTC).date()
    try:
        return start.replace(year=start.year + years).isoformat()
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28).isoformat()


async def _run(*cmd: str) -> str:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        last = (err or out).decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise ArchiveError("录像转换失败：{tool}：{output}", tool=Path(cmd[0]).name, output=last[0][:200])
    return out.decode(errors="replace")


def _extension(video: Recording | None) -> str:
    return ".mp4" if video is not None and video.codec in ("h264", "h265", "av1") else ".webm"


async def probe_duration(path: Path) -> tuple[float, list[str]]:
    """Seconds of a playable file and the kinds of its streams, as ffprobe reads them."""
    info = json.loads(await _run("ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)))
    kinds = [s.get("codec_type", "") for s in info.get("streams", [])]
    try:
        duration = float(info.get("format", {}).get("duration", 0.0))
    except ValueError:
        duration = 0.0
    return duration, kinds


async def convert(recs: list[Recording], out: Path) -> None:
    """One playable file from a publication's recordings: janus-pp-rec each, ffmpeg -c copy them together
    (the later stream delayed by the difference of their first packets)."""
    video = next((r for r in recs if r.kind == "video"), None)
    audio = next((r for r in recs if r.kind == "audio"), None)
    with tempfile.TemporaryDirectory(prefix=".archive-", dir=out.parent) as tmp:
        inputs: list[tuple[Path, int]] = []
        if video is not None:
            v = Path(tmp) / ("v.mp4" if _extension(video) == ".mp4" else "v.webm")
            await _run("janus-pp-rec", str(video.path), str(v))
            inputs.append((v, video.first_us))
        if audio is not None:
            a = Path(tmp) / ("a.opus" if audio.codec == "opus" else "a.wav")
            await _run("janus-pp-rec", str(audio.path), str(a))
            inputs.append((a, audio.first_us))
        first = min(us for _, us in inputs)
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        for path, us in inputs:
            if us - first > 0:
                cmd += ["-itsoffset", f"{(us - first) / 1e6:.6f}"]
            cmd += ["-i", str(path)]
        for i in range(len(inputs)):
            cmd += ["-map", str(i)]
        tmp_out = Path(tmp) / f"out{out.suffix}"
        await _run(*cmd, "-c", "copy", str(tmp_out))
        os.replace(tmp_out, out)


def _same_sources(old: dict[str, Any], recs: list[Recording]) -> bool:
    return sorted((m["file"], m["length"]) for m in old.get("mjr", [])) == sorted(
        (r.name, r.path.stat().st_size) for r in recs)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise ArchiveError("归档清单无法读取：{path}", path=directory / MANIFEST) from None


async def archive_room(room: str, tender: str, source: Path, target: Path,
                       participants: Mapping[str, tuple[str, str]], retention_years: int,
                       ) -> tuple[dict[str, Any], bool]:
    """Archive the recordings of `room` (in `source`, Janus's directory for the room) into `target`
    (<archive>/<tender>/<room>). `participants` maps a feed id to (account, source). Returns the
    manifest and whether it changed."""
    missing = tools_missing()
    if missing is not None:
        raise ArchiveError(missing)
    target.mkdir(parents=True, exist_ok=True)
    old = read_manifest(target) or {}
    before = {e["file"]: e for e in old.get("recordings", [])}
    entries: list[dict[str, Any]] = []
    used: set[str] = set()
    for recs in group(await asyncio.to_thread(recordings_in, source)):
        feed = recs[0].feed
        account, src = participants.get(feed, ("", ""))
        start_us = min(r.first_us for r in recs)  # the playable file's 0 s: its first recorded packet
        base = f"{_safe(account) if account else 'feed' + _safe(feed)}-{_safe(src) or 'camera'}-{stamp(start_us)}"
        video = next((r for r in recs if r.kind == "video"), None)
        name = base + _extension(video)
        n = 1
        while name in used:
            n += 1
            name = f"{base}-{n}{_extension(video)}"
        used.add(name)
        out = target / name
        prev = before.get(name)
        if prev is not None and out.exists() and _same_sources(prev, recs) and out.stat().st_size == prev["size"]:
            entries.append(prev)
            continue
        await convert(recs, out)
        duration, kinds = await probe_duration(out)
        mjr = []
        for r in sorted(recs, key=lambda r: r.name):
            mjr.append({"file": r.name, "stream": r.stream, "kind": r.kind, "codec": r.codec,
                        "length": r.path.stat().st_size, "sha256": await asyncio.to_thread(sha256_file, r.path)})
        entries.append({
            "file": name, "account": account, "source": src or "camera", "feed": feed,
            "start_us": start_us, "start": iso(start_us), "duration": round(duration, 3),
            "streams": sorted(set(kinds)), "size": out.stat().st_size,
            "sha256": await asyncio.to_thread(sha256_file, out), "mjr": mjr,
        })
    entries.sort(key=lambda e: (e["start_us"], e["file"]))
    last_start = max((e["start_us"] for e in entries), default=0)
    manifest = {
        "format": FORMAT, "tender": tender, "room": room, "retention_years": retention_years,
        "retain_until": _retain_until(last_start, retention_years) if entries else "",
        "recordings": entries,
    }
    changed = {k: v for k, v in old.items() if k != "archived_at"} != manifest
    if changed:
        manifest["archived_at"] = iso(int(dt.datetime.now(dt.UTC).timestamp() * 1e6))
        text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)
        tmp = target / (MANIFEST + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target / MANIFEST)
    else:
        manifest["archived_at"] = old.get("archived_at", "")
    return manifest, changed


def participants_from_checkpoints(entries: Iterable[Any], room: str) -> dict[str, tuple[str, str]]:
    """feed id → (account, source), as the room's logged checkpoints name them."""
    out: dict[str, tuple[str, str]] = {}
    for e in entries:
        if getattr(e, "kind", "") != "booth.recording_checkpoint" or e.payload.get("room") != room:
            continue
        for f in e.payload.get("files", []):
            m = NAME.match(str(f.get("file", "")))
            if m and f.get("account"):
                out[m["feed"]] = (str(f["account"]), str(f.get("source") or "camera"))
    return out


def archived_draft(manifest: dict[str, Any], archive: Path) -> EntryDraft:
    room_dir = archive / manifest["tender"] / manifest["room"]
    files = [{"file": e["file"], "account": e["account"], "source": e["source"], "start_us": e["start_us"],
              "duration_ms": round(e["duration"] * 1000), "size": e["size"], "sha256": e["sha256"],
              "mjr": [{"file": m["file"], "length": m["length"], "sha256": m["sha256"]} for m in e["mjr"]]}
             for e in manifest["recordings"]]
    return EntryDraft(ARCHIVED, {
        "room": manifest["room"], "manifest": f"{manifest['tender']}/{manifest['room']}/{MANIFEST}",
        "manifest_sha256": sha256_file(room_dir / MANIFEST), "retain_until": manifest["retain_until"],
        "files": files}, manifest["tender"])


def rooms_of_tender(recordings: Path, tender: str) -> list[str]:
    """The booth rooms of a tender that have recordings (its room is ``eval-<tender>``)."""
    return [f"eval-{tender}"] if (recordings / f"eval-{tender}").is_dir() else []


def tender_of_room(room: str) -> str:
    """The tender the media plane logs a room's entries under (web/booth/media.py)."""
    return room.removeprefix("eval-")


async def archive_rooms(log: Any, settings: Settings, rooms: Iterable[str]) -> list[dict[str, Any]]:
    """Archive each room's recordings and log ``booth.recording_archived`` for each manifest that changed."""
    archive = archive_root(settings)
    recordings = recordings_root(settings)
    out = []
    for room in rooms:
        tender = tender_of_room(room)
        entries = await log.entries_for_tender(tender, kinds=["booth.recording_checkpoint"])
        manifest, changed = await archive_room(
            room, tender, recordings / room, archive / tender / room,
            participants_from_checkpoints(entries, room), settings.recording_retention_years)
        if changed and manifest["recordings"]:
            await log.append(archived_draft(manifest, archive))
        out.append(manifest)
    return out


async def recording_ended(app: Any, rooms: Iterable[str]) -> None:
    """The media plane's hook when rooms' recording has ended (shutdown): archive them, never raising."""
    from web.keys import AUDIT_LOG, SETTINGS

    rooms = list(rooms)
    if not rooms:
        return
    if (missing := tools_missing()) is not None:
        log.warning("recordings not archived", extra={"reason": str(missing)})
        return
    try:
        await archive_rooms(app[AUDIT_LOG], app[SETTINGS], rooms)
    except Exception as exc:  # noqa: BLE001 — a failed archive must not stop the shutdown; the .mjr files stay
        log.error("archiving recordings failed", extra={"error": repr(exc)})
