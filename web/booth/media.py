"""The booth's media plane (docs/media.md): Janus rooms for booth rooms, recording checkpoints and
media incidents in the audit log.

``MediaPlane`` lives as long as the app (a cleanup context). With the setting ``janus`` empty it
starts Debian's Janus as a child process (signaling/janus/launcher.py) under a supervisor that
restarts it; with a URL it uses that Janus and waits for it when it stops answering; with ``off``,
or when Janus is not installed, booths stay on the mesh and every booth says that nothing is
recorded (one ``booth.media_incident`` per room, ``recording_unavailable``).

A booth room ``eval-<tender>`` gets one VideoRoom (recording on, files in
``<recordings_dir>/<room>/``) the first time a member asks for a room token; rooms are created again
after Janus restarts and, lazily, after the platform restarts. Room management (create, kick,
destroy, the room secret) is pingbiao's alone: browsers reach Janus only through
web/booth/janus_proxy.py.

Every ``recording_checkpoint_interval`` seconds, and once more at shutdown, each room's new bytes are
hashed (signaling/janus/checkpoints.py) and one ``booth.recording_checkpoint`` entry per room lists
each file that grew: its name, the participant, the source and stream, the length and the SHA-256
of that prefix. A file that stopped growing while its room is open is a ``feed_stalled`` incident.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from evaluation.audit.entry import EntryDraft
from evaluation.audit.events import KINDS, register_kind
from signaling.janus.checkpoints import RecordingHasher
from signaling.janus.client import JanusError, JanusSession, VideoRoom, keepalives
from signaling.janus.launcher import JanusProcess, JanusUnavailable, janus_executable, wait_ready
from signaling.janus.supervisor import JanusSupervisor
from web.booth.archive import recording_ended
from web.booth.checkpoint_lease import CheckpointLease
from web.config import Settings
from web.keys import AUDIT_LOG, ENGINE

log = logging.getLogger("pingbiao.media")

CHECKPOINT = "booth.recording_checkpoint"
INCIDENT = "booth.media_incident"
MEDIA_KINDS = {
    CHECKPOINT: (
        "Recording checkpoint of a booth room (录音录像校验点), every recording_checkpoint_interval "
        "seconds and at the end. Payload: room, final (bool), files: [{file, account, source, stream, "
        "length, sha256}] — the SHA-256 of the first `length` bytes of each recording that grew."
    ),
    INCIDENT: (
        "Something happened to a booth room's media or recording. Payload: room, what "
        "('janus_down', 'janus_restarted', 'feed_stalled', 'recording_unavailable'), detail."
    ),
}
SOURCES = ("camera", "screen")
SECRET_FILE = "media.key"


def register() -> None:
    for kind, doc in MEDIA_KINDS.items():
        if kind not in KINDS:
            register_kind(kind, doc)


register()


def _id48(text: str) -> int:
    """A stable id below 2**48 (exact in JavaScript numbers, never 0)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big") or 1


def janus_room_id(room: str) -> int:
    return _id48(f"room\0{room}")


def feed_id(room: str, account: str, source: str) -> int:
    """The one feed id a participant publishes a source under in a room (so a reconnect replaces it)."""
    return _id48(f"feed\0{room}\0{account}\0{source}")


def tender_of_room(room: str) -> str | None:
    return room.removeprefix("eval-") if room.startswith("eval-") and len(room) > 5 else None


@dataclass
class _Room:
    name: str
    janus_id: int
    directory: Path
    hasher: RecordingHasher
    growing: set[str]
    writing: bool = False  # this process wrote the room's last checkpoint pass (holds its lease)
    logged: dict[str, int] | None = None  # file → length of its last checkpoint in the log
    known: dict[str, tuple[str, str]] | None = None  # file → (account, source), from the log


class MediaPlane:
    """Janus for the booth, or the reason there is none."""

    def __init__(self, app: web.Application, settings: Settings) -> None:
        self.app = app
        self.setting = settings.janus.strip()
        self.recordings = Path(settings.recordings_dir) if settings.recordings_dir else settings.data_dir / "recordings"
        self.interval = float(settings.recording_checkpoint_interval)
        self.data_dir = settings.data_dir
        self.url = ""
        self.unavailable = ""  # why there is no SFU (empty: there is one)
        self.secret = ""
        self.janus: JanusProcess | None = None  # the child process (none for a Janus at a URL)
        self.supervisor: JanusSupervisor | None = None
        self.rooms: dict[str, _Room] = {}
        self.feeds: dict[tuple[str, int], tuple[str, str]] = {}  # (room, feed) → (account, source)
        self.owners: dict[int, tuple[str, str]] = {}  # Janus session → (account, room)
        self.no_recording_logged: set[str] = set()
        self.down = ""  # why Janus is not answering now (empty: it is, or it was never started)
        self.lease: CheckpointLease | None = None  # which rooms this process writes checkpoints for
        self._http: aiohttp.ClientSession | None = None
        self._manager: JanusSession | None = None
        self._rooms_api: VideoRoom | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._archiving: set[asyncio.Task[None]] = set()  # archives of finished evaluations, running
        # the account id a request may use `room` with (raises Forbidden/NotFound); set by routes.install
        self.admit: Callable[[web.Request, str], Awaitable[str]]

    # -- state -------------------------------------------------------------------------------

    @property
    def sfu(self) -> bool:
        return not self.unavailable

    async def recording_ready(self, room: str, timeout: float = 10.0) -> str:
        """Empty if `room` is being recorded now (its VideoRoom exists on a Janus that answers), else
        why not, as one line. Starts Janus for the first room, like opening the booth does."""
        if not self.sfu:
            return self.unavailable
        if self.down:
            return self.down
        try:
            await asyncio.wait_for(self.ensure_room(room), timeout)
            assert self._rooms_api is not None
            if not await asyncio.wait_for(self._rooms_api.exists(janus_room_id(room)), timeout):
                return "录音录像服务中没有这个评标舱 the media server has no room for this booth"
        except JanusUnavailable as exc:
            return str(exc)
        except (TimeoutError, JanusError, aiohttp.ClientError, OSError, AssertionError) as exc:
            return f"录音录像服务无响应 the media server did not answer: {str(exc)[:200] or type(exc).__name__}"
        return ""

    def recorded_bytes(self) -> int:
        """Bytes of recordings whose checkpoints this process has written to the audit log."""
        return sum(sum((r.logged or {}).values()) for r in self.rooms.values() if r.writing)

    def written_rooms(self) -> int:
        """Rooms whose checkpoints this process writes."""
        return sum(1 for r in self.rooms.values() if r.writing)

    def grant(self, room: str) -> dict[str, Any]:
        if self.sfu:
            return {"mode": "sfu", "recording": True, "url": f"/api/booth/{room}/janus", "room": janus_room_id(room)}
        return {"mode": "mesh", "recording": False, "reason": self.unavailable}

    # -- Janus ------------------------------------------------------------------------------------

    def _load_secret(self) -> str:
        path = self.data_dir / SECRET_FILE
        if path.exists():
            return path.read_text().strip()
        path.write_text(secrets.token_hex(24))
        path.chmod(0o600)
        return path.read_text().strip()

    async def _connect(self) -> None:
        """(Re)open the management session; rooms are created again on demand."""
        assert self._http is not None
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._manager is not None:
            self._manager.closed = True
            self._manager._poll.cancel()
        self._manager = await JanusSession.create(self.url, self._http)
        self._rooms_api = VideoRoom(await self._manager.attach())
        self._keepalive = asyncio.create_task(self._keep(self._manager))

    @staticmethod
    async def _keep(session: JanusSession) -> None:
        try:
            await keepalives(session, 20.0)
        except (JanusError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            log.warning("janus management session lost", extra={"error": str(exc)})  # the watchers restore it

    async def ensure_room(self, room: str) -> _Room:
        """The VideoRoom of booth room `room`, created (recording on) if Janus does not have it."""
        async with self._lock:
            known = self.rooms.get(room)
            if known is not None:
                return known
            await self._launched()
            assert self._rooms_api is not None
            rid = janus_room_id(room)
            directory = self.recordings / room
            directory.mkdir(parents=True, exist_ok=True)
            try:
                await self._rooms_api.create(rid, self.secret, str(directory), publishers=26)
            except JanusError as exc:
                if exc.code != 427:  # 427: the room exists already (a Janus that outlived us)
                    raise
            entry = _Room(room, rid, directory, RecordingHasher(directory), set())
            self.rooms[room] = entry
            return entry

    async def kick(self, room: str, feed: int) -> None:
        """Drop an earlier connection publishing under `feed` (the participant reconnected)."""
        assert self._rooms_api is not None
        try:
            await self._rooms_api.handle.request({"request": "kick", "room": janus_room_id(room),
                                                  "secret": self.secret, "id": feed})
        except JanusError:
            pass  # nobody published under that id

    async def _on_incident(self, what: str) -> None:
        log.error("media server incident", extra={"detail": what})
        self.down = f"录音录像服务中断 the media server is down: {what[:200]}"
        for room in list(self.rooms):
            await self._incident(room, "janus_down", what)

    async def _on_restart(self) -> None:
        old = dict(self.rooms)
        await self._connect()
        self.rooms.clear()
        self.owners.clear()
        for name, entry in old.items():
            new = await self.ensure_room(name)
            new.hasher = entry.hasher  # files already hashed keep their running hash
            new.growing, new.writing, new.logged, new.known = entry.growing, entry.writing, entry.logged, entry.known
        self.down = ""
        for name in old:
            await self._incident(name, "janus_restarted", "rooms created again; recording continues in new files")

    async def _watch_external(self, every: float = 1.0) -> None:
        """Probe the management session: an error (Janus down, or up again without our session:
        it restarted) is an incident; once Janus answers again, the rooms are created again."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), every)
                return
            except TimeoutError:
                pass
            try:
                assert self._manager is not None
                await self._manager.keepalive()
                continue
            except (JanusError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                await self._on_incident(f"janus at {self.url}: {exc}")
            while not self._stop.is_set():
                try:
                    await wait_ready(self.url, asyncio.get_running_loop().time() + 5)
                    await self._on_restart()
                    break
                except (JanusUnavailable, JanusError, aiohttp.ClientError, OSError):
                    continue

    # -- audit -------------------------------------------------------------------------------------

    async def _incident(self, room: str, what: str, detail: str) -> None:
        await self.app[AUDIT_LOG].append(EntryDraft(INCIDENT, {"room": room, "what": what, "detail": detail[:300]},
                                                    tender_of_room(room)))

    async def note_no_recording(self, room: str) -> None:
        if room in self.no_recording_logged:
            return
        self.no_recording_logged.add(room)
        await self._incident(room, "recording_unavailable", self.unavailable or "no media server configured")

    def _participant(self, room: _Room, file: str, feed: str) -> tuple[str, str]:
        try:
            found = self.feeds.get((room.name, int(feed)))
        except ValueError:
            found = None
        return found or (room.known or {}).get(file, ("", ""))

    async def _from_log(self, room: _Room) -> None:
        """What the log already holds for `room`'s files (another process, or this one before a
        restart, wrote it): each file's last logged length, and whose it is."""
        tender = tender_of_room(room.name)
        room.logged, room.known = {}, {}
        if tender is None:
            return
        for entry in await self.app[AUDIT_LOG].entries_for_tender(tender, kinds=[CHECKPOINT]):
            if entry.payload.get("room") != room.name:
                continue
            for f in entry.payload.get("files", []):
                room.logged[f["file"]] = max(room.logged.get(f["file"], -1), int(f["length"]))
                if f.get("account"):
                    room.known[f["file"]] = (f["account"], f.get("source", ""))

    async def _ask_participants(self, room: _Room) -> None:
        """Learn the feeds of `room` from Janus: pingbiao gives every publisher the display
        ``<account>/<source>`` (janus_proxy.py), whichever process it joined through."""
        if self._rooms_api is None:
            return
        try:
            reply = await self._rooms_api.handle.request({"request": "listparticipants", "room": room.janus_id})
        except (TimeoutError, JanusError, aiohttp.ClientError, OSError) as exc:
            log.warning("room participants not listed", extra={"room": room.name, "error": str(exc)})
            return
        for p in reply.get("participants", []):
            account, _, source = str(p.get("display", "")).partition("/")
            if account and source in SOURCES and isinstance(p.get("id"), int) and p["id"] == feed_id(room.name, account, source):
                self.feeds[(room.name, p["id"])] = (account, source)

    async def _writes(self, room: _Room) -> bool:
        if self.lease is None:
            engine = self.app.get(ENGINE)
            self.lease = CheckpointLease(engine)
        return await self.lease.writes(room.name)

    def evaluation_ended(self, tender: str) -> None:
        """An evaluation of `tender` is over (its report is final; a lot's, for a tender in lots):
        the booth's recordings so far go into the archive now, in the background
        (web/booth/archive.py), so a supervisor can replay them without waiting for the platform
        to stop. Archiving is incremental: a later lot, or the shutdown, adds what came after."""
        room = f"eval-{tender}"
        if room not in self.rooms or not self.url or self._stop.is_set():
            return
        task = asyncio.create_task(recording_ended(self.app, [room]), name="recording-archive")
        self._archiving.add(task)
        task.add_done_callback(self._archiving.discard)

    async def checkpoint(self, final: bool = False) -> int:
        """Hash what every room's recordings added; one audit entry per room with news. Returns entries.

        Every process serving a room hashes its recordings; only the room's writer (checkpoint_lease.py)
        logs them. A process that becomes the writer first reads what the log holds, and logs every
        file longer than its last logged checkpoint: nothing twice, nothing the previous writer missed."""
        written = 0
        for room in list(self.rooms.values()):
            cps = await asyncio.to_thread(room.hasher.scan, final)
            grew = {cp.file for cp in cps}
            if not await self._writes(room):
                room.growing, room.writing = grew, False
                continue
            if not room.writing:  # this process takes the room over (or writes it for the first time)
                if self.lease is not None and self.lease.shared:
                    await self._from_log(room)
                    cps = [cp for cp in room.hasher.current() if cp.length > (room.logged or {}).get(cp.file, -1)]
                    cps = [replace(cp, final=final) for cp in cps]
                else:
                    room.logged, room.known = room.logged or {}, room.known or {}
                room.writing = True
            stalled = sorted(room.growing - grew) if not final else []
            room.growing = grew
            for name in stalled:
                await self._incident(room.name, "feed_stalled", f"{name} stopped growing")
            if not cps:
                continue
            if any(self._participant(room, cp.file, cp.participant) == ("", "") for cp in cps):
                await self._ask_participants(room)  # published through another process
            files = []
            for cp in cps:
                account, source = self._participant(room, cp.file, cp.participant)
                files.append({"file": cp.file, "account": account, "source": source, "stream": cp.stream,
                              "length": cp.length, "sha256": cp.sha256})
            await self.app[AUDIT_LOG].append(EntryDraft(
                CHECKPOINT, {"room": room.name, "final": final, "files": files}, tender_of_room(room.name)))
            assert room.logged is not None
            for cp in cps:
                room.logged[cp.file] = cp.length
            written += 1
        return written

    async def _checkpoints(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except TimeoutError:
                pass
            if self._stop.is_set():
                return
            try:
                await self.checkpoint()
            except Exception as exc:  # noqa: BLE001 — a failed pass must not stop the next one
                log.error("recording checkpoint failed", extra={"error": repr(exc)})

    # -- lifetime ------------------------------------------------------------------------------------

    async def _start(self) -> None:
        """At app start: decide whether there will be an SFU (Janus itself starts with the first room)."""
        if self.setting.lower() == "off":
            self.unavailable = "本平台未启用录音录像（设置 janus = off） Recording is switched off (setting janus = off)"
            return
        if not self.setting and janus_executable() is None:
            self.unavailable = ("未安装录音录像服务 Janus（Debian 软件包 janus、janus-tools），本次评标不录音录像 "
                                "Janus is not installed (Debian packages janus, janus-tools): nothing is recorded")
            return
        self._http = aiohttp.ClientSession()
        self.secret = self._load_secret()
        self.recordings.mkdir(parents=True, exist_ok=True)

    async def _launch(self) -> None:
        """Start (or reach) Janus, open the management session, watch it, start the checkpoints."""
        if self.setting:
            await wait_ready(self.setting.rstrip("/"), asyncio.get_running_loop().time() + 15)
            self.url = self.setting.rstrip("/")
        else:
            self.janus = JanusProcess.in_directory(self.data_dir / "janus", secrets.token_hex(16))
            await self.janus.start()
            self.url = self.janus.url
        await self._connect()
        if self.janus is not None:  # a child that exits is restarted
            self.supervisor = JanusSupervisor(self.janus, self._on_incident, self._on_restart)
            self.supervisor.start()
        else:  # a Janus at a URL is restarted by its operator: notice it, wait for it, reconnect
            self._watch = asyncio.create_task(self._watch_external(), name="janus-watch")
        self._checkpointing = asyncio.create_task(self._checkpoints(), name="recording-checkpoints")

    async def _launched(self) -> None:
        """Janus up for the first room; on failure the platform falls back to the mesh (logged)."""
        if self.url or self.unavailable:
            if self.unavailable:
                raise JanusUnavailable(self.unavailable)
            return
        try:
            await self._launch()
        except (JanusUnavailable, OSError, aiohttp.ClientError, JanusError) as exc:
            self.unavailable = f"录音录像服务无法启动，本次评标不录音录像 The media server did not start: {exc}"
            self.url = ""
            log.error("media server unavailable", extra={"error": str(exc)})
            raise JanusUnavailable(self.unavailable) from None

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        await self._start()
        try:
            yield
        finally:
            self._stop.set()
            if self._archiving:
                await asyncio.gather(*self._archiving, return_exceptions=True)
            if self._checkpointing is not None:
                await asyncio.gather(self._checkpointing, return_exceptions=True)
            if self._keepalive is not None:
                self._keepalive.cancel()
            if self._watch is not None:
                await asyncio.gather(self._watch, return_exceptions=True)
            if self.supervisor is not None:
                await self.supervisor.stop()  # Janus closes its recordings
            if self.url:
                try:
                    await self.checkpoint(final=True)
                except Exception as exc:  # noqa: BLE001
                    log.error("final recording checkpoint failed", extra={"error": repr(exc)})
                # the recording has ended: playable copies into the archive (web/booth/archive.py)
                await recording_ended(self.app, list(self.rooms))
            if self.lease is not None:
                await self.lease.release()  # another process serving these rooms takes them over
            if self._manager is not None:
                self._manager.closed = True
                self._manager._poll.cancel()
            if self._http is not None:
                await self._http.close()


MEDIA = web.AppKey("booth_media", MediaPlane)
