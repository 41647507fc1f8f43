"""One checkpoint writer per booth room (docs/media.md, *Several processes*): two real app processes
on one PostgreSQL database, one data directory and one real Janus (at a URL). Both serve the room;
only one writes its checkpoints; killed with -9, the other takes over: the checkpoints go on, none
is in the log twice, the participant is named whichever process it published through, and
`pingbiao audit verify --recordings` passes on the recordings."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from evaluation.accounts.account import Role
from evaluation.audit.bundle import export_bundle, verify_bundle
from signaling.janus.launcher import JanusProcess
from tests.conftest import need
from tests.e2e.conftest import SHUTDOWN_TIMEOUT
from tests.e2e.test_booth import booth_room, make_account
from tests.pg import scratch_databases
from tests.signaling.janus_peer import Peer
from tests.web.signin import session_headers
from web.app import create_app
from web.booth.media import CHECKPOINT
from web.cli.recordings import check_recordings
from web.config import Settings
from web.keys import AUDIT_LOG, LOG_VKEY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]


async def until(predicate: Callable[[], Any], timeout: float = 45.0) -> Any:
    """Re-check a condition other processes change, until a deadline; returns its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await predicate()):
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with scratch_databases("t_writer") as scratch:
        yield scratch.url(await scratch.make())


class App:
    """`pingbiao serve` as a process of its own."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(self.port)],
                                         cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    async def ready(self, http: aiohttp.ClientSession) -> None:
        async def up() -> bool:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                async with http.get(f"{self.url}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False
        await until(up, timeout=60)

    async def metric(self, http: aiohttp.ClientSession, name: str) -> float:
        async with http.get(f"{self.url}/metrics") as r:
            text = await r.text()
        return float(next(line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def test_one_writer_per_room_and_the_hand_over(tmp_path: Path, database: str) -> None:
    need(shutil.which("janus") is not None, "janus is not installed (Debian packages janus, janus-tools)")
    janus = JanusProcess.in_directory(tmp_path / "janus", "admin-secret-writer")
    await janus.start()
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PINGBIAO_DATA_DIR": str(data), "PINGBIAO_DATABASE_URL": database,
           "PINGBIAO_ALLOW_LOCAL_BEACON": "true", "PINGBIAO_JANUS": janus.url, "PINGBIAO_BEACON_PERIOD": "1",
           "PINGBIAO_RECORDING_CHECKPOINT_INTERVAL": "1", "PINGBIAO_LOG_LEVEL": "WARNING"}
    env.pop("PINGBIAO_CONFIG", None)
    settings = Settings(data_dir=data, database_url=database, allow_local_beacon=True, janus=janus.url, beacon_period=1,
                        recording_checkpoint_interval=1)
    # This test's own app on the same database and data directory: it sets up the tender and reads the log
    # (it serves no booth room, so it never checkpoints).
    reader = create_app(settings)
    runner = web.AppRunner(reader, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    apps: list[App] = []
    peer: Peer | None = None
    try:
        apps = [App("a", env, tmp_path), App("b", env, tmp_path)]  # they start while the tender is set up
        alice = await make_account(reader, Role.expert, "expert-alice", "王专家 Alice")
        agency = await make_account(reader, Role.agency, "agency-erin", "代理机构 Erin")
        room = await booth_room(reader, agency, [alice])
        tender_id = room.removeprefix("eval-")
        heads = await session_headers(reader, alice)
        log = reader[AUDIT_LOG]

        async def checkpoints() -> list[Any]:
            return [e for e in await log.entries_for_tender(tender_id, kinds=[CHECKPOINT]) if e.payload["room"] == room]

        async with aiohttp.ClientSession() as http:
            for app in apps:
                await app.ready(http)
            for app in apps:  # both processes serve the room
                async with http.get(f"{app.url}/api/booth/{room}/token", headers=heads) as r:
                    assert r.status == 200 and (await r.json())["media"]["mode"] == "sfu"

            async def writer() -> App | None:
                rooms = [await a.metric(http, "pingbiao_booth_checkpoint_rooms") for a in apps]
                return apps[rooms.index(1.0)] if sorted(rooms) == [0.0, 1.0] else None
            first = await until(writer)
            other = apps[1 - apps.index(first)]

            # Alice publishes through the process that does not write: its recordings are logged by the writer.
            peer = await Peer.start("publish", f"{other.url}/api/booth/{room}/janus", "1", "alice", headers=heads)
            assert await peer.line("state") == "connected"

            async def grown() -> bool:
                files = {f["file"] for e in await checkpoints() for f in e.payload["files"] if f["length"] > 20_000}
                return len(files) >= 2
            await until(grown)
            assert await first.metric(http, "pingbiao_booth_recording_bytes") > 40_000
            assert await other.metric(http, "pingbiao_booth_checkpoint_rooms") == 0.0  # it serves, it does not write
            assert await other.metric(http, "pingbiao_booth_recording_bytes") == 0.0
            before = {f["file"]: f["length"] for e in await checkpoints() for f in e.payload["files"]}

            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)

            async def taken_over() -> bool:
                if await other.metric(http, "pingbiao_booth_checkpoint_rooms") != 1.0:
                    return False
                latest = {f["file"]: f["length"] for e in await checkpoints() for f in e.payload["files"]}
                return any(latest[name] > before.get(name, -1) for name in latest)
            await until(taken_over)
            await peer.close()
            peer = None
        other.proc.send_signal(signal.SIGTERM)  # a normal stop: the final checkpoints
        assert other.proc.wait(60) == 0, other.log.read_text()[-3000:]

        entries = await checkpoints()
        seen: dict[str, list[int]] = {}
        for entry in entries:
            for f in entry.payload["files"]:
                assert (f["account"], f["source"]) == (alice.id, "camera"), f
                if not entry.payload["final"]:
                    seen.setdefault(f["file"], []).append(f["length"])
        assert len(seen) == 2  # camera video and microphone
        for name, lengths in seen.items():
            assert lengths == sorted(set(lengths)), (name, lengths)  # never twice, always further
        assert entries[-1].payload["final"] is True

        bundle = tmp_path / "bundle"
        await export_bundle(log, bundle, reader[LOG_VKEY])
        await asyncio.to_thread(verify_bundle, bundle)
        report = await asyncio.to_thread(check_recordings, bundle, data / "recordings")
        assert report.ok and "2 recordings in 1 booth rooms" in report.text, report.text
    finally:
        if peer is not None:
            await peer.close()
        for app in apps:
            app.stop()
        await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_TIMEOUT + 10)
        await janus.stop()
