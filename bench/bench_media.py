"""Benchmark the media plane: a real Janus VideoRoom with aiortc peers, and recording checkpoints.

Run from the repository root:  python bench/bench_media.py [--publishers 4] [--seconds 20] [--hash-mb 256]

Part 1 starts Janus (signaling/janus/launcher.py), N aiortc publishers (640x360 pattern and a tone,
tests/signaling/janus_peer.py) and one subscriber taking every feed. After a warm-up it marks the
video frames each publisher has sent and the subscriber has decoded, waits --seconds, marks again,
and prints delivered / sent against the goal (99%). Beside it: the recorded .mjr bytes against the
RTP bytes Janus counted in and out (admin API handle_info), and Janus's CPU seconds (utime+stime of
its process, /proc/PID/stat) per forwarded stream per second of the window.

Part 2 times RecordingHasher on growing files (13 publishers, one audio and one video file each,
appended to and scanned in rounds as Janus would write them) against hashlib.sha256 over the same
bytes held in memory (the limit: the same appended block hashed again and again, no I/O, no file
bookkeeping), both in CPU seconds, best of --repeat, and converts the
hasher's rate into the share of one core a 13-publisher session takes per hour at an assumed bitrate.
Without janus part 1 prints one line saying so; part 2 runs regardless.

Part 3 (--rooms R) asks how many booths one machine serves: R recorded rooms at once, each with
--room-publishers feeds (13: 9 experts, host, supervisor, 2 observers) sending a pre-encoded
640x360 VP8 + Opus file as it is (bench/media_load.py: no encoder in the load, ffmpeg makes the
file once), first alone, then with one subscriber connection per feed in each room. It prints the
frames delivered against sent, Janus's CPU per ingested and per forwarded feed (the difference
between the two phases), and from them what a full room costs (every participant receiving every
other: P ingest + P x (P - 1) forwarded feeds) and how many full rooms the machine's cores hold at
70% load — the limit beside it is the machine's core count measured in the same run
(os.cpu_count). The load generators share the machine with Janus, so the figures are an estimate
from measured per-feed costs, not a count of rooms that ran full.

Part 4 (--mesh N, by default as many as --publishers; no janus needed) runs the same participants
through today's mesh: N bench/mesh_peer.py processes, each sending its pattern and tone to every
other one over its own connection (a browser in the mesh encodes and sends its camera once per
peer). It prints frames delivered against sent, the upstream video copies and kbit/s per
participant and each participant's CPU, and beside them part 1's figures measured in the same run:
a publisher's one copy and its upstream (RTP into Janus), its CPU plus N-1 times the subscriber's
CPU per received feed, and Janus's server CPU per forwarded feed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from signaling.janus.checkpoints import RecordingHasher  # noqa: E402
from signaling.janus.client import JanusSession, VideoRoom  # noqa: E402
from signaling.janus.launcher import JanusProcess, janus_executable  # noqa: E402

MB = 1024 * 1024
GOAL = 0.99
ROOM, SECRET, ADMIN = 2001, "bench-room-secret", "bench-admin-secret"
# Assumed bitrate per publisher for the hourly figure: VP8 640x360 at ~1.2 Mbit/s plus Opus 48 kbit/s.
ASSUMED_BITS_PER_S = 1_248_000
SESSION_PUBLISHERS = 13


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/PID/stat, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def admin(http: aiohttp.ClientSession, janus: JanusProcess, body: dict) -> dict:
    body = {**body, "transaction": "bench", "admin_secret": janus.cfg.admin_secret}
    async with http.post(janus.cfg.admin_url, json=body) as r:
        return await r.json(content_type=None)


async def rtp_bytes(http: aiohttp.ClientSession, janus: JanusProcess) -> tuple[int, int]:
    """(RTP bytes in, RTP bytes out) over every handle's media, as the admin API's handle_info counts
    them (webrtc.media[mid].stats.in/out.bytes: RTP after SRTP decryption, before encryption)."""
    total_in = total_out = 0
    for sid in (await admin(http, janus, {"janus": "list_sessions"})).get("sessions", []):
        url = f"{janus.cfg.admin_url}/{sid}"
        for hid in (await admin(http, janus, {"janus": "list_handles", "session_id": sid})).get("handles", []):
            body = {"janus": "handle_info", "transaction": "bench", "admin_secret": janus.cfg.admin_secret}
            async with http.post(f"{url}/{hid}", json=body) as r:
                info = (await r.json(content_type=None)).get("info", {})
            for m in info.get("webrtc", {}).get("media", {}).values():
                total_in += m.get("stats", {}).get("in", {}).get("bytes", 0)
                total_out += m.get("stats", {}).get("out", {}).get("bytes", 0)
    return total_in, total_out


async def media(publishers: int, seconds: float) -> dict[str, float]:
    """Part 1; returns what the mesh part compares with (per publisher: upstream and CPU)."""
    from tests.signaling.janus_peer import Peer  # aiortc is needed only here

    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        rec = Path(tmp) / "rec"
        rec.mkdir()
        janus = JanusProcess.in_directory(Path(tmp) / "janus", ADMIN)
        await janus.start()
        started = time.monotonic()
        assert janus.proc is not None
        peers: list[Peer] = []
        try:
            async with aiohttp.ClientSession() as http:
                session = await JanusSession.create(janus.url, http)
                await VideoRoom(await session.attach()).create(ROOM, SECRET, str(rec))
                pubs = [await Peer.start("publish", janus.url, str(ROOM), f"bench-{i}") for i in range(publishers)]
                peers += pubs
                feeds = [int(await p.line("feed")) for p in pubs]  # type: ignore[call-overload]
                for p in pubs:
                    await p.line("state")
                sub = await Peer.start("subscribe", janus.url, str(ROOM), ",".join(map(str, feeds)), "30")
                peers.append(sub)
                await sub.line("done", timeout=60)  # warm-up: every feed delivered 30 frames

                async def mark() -> tuple[list[int], dict[str, int]]:
                    sent, got = await asyncio.gather(asyncio.gather(*(p.ask("sent") for p in pubs)),
                                                     sub.ask("frames"))
                    return list(sent), got  # type: ignore[arg-type, return-value]

                sent0, got0 = await mark()
                cpu0, wall0 = cpu_seconds(janus.proc.pid), time.monotonic()
                pub0, sub0 = [cpu_seconds(p.proc.pid) for p in pubs], cpu_seconds(sub.proc.pid)
                await asyncio.sleep(seconds)  # the measurement window
                sent1, got1 = await mark()
                cpu1, wall1 = cpu_seconds(janus.proc.pid), time.monotonic()
                pub1, sub1 = [cpu_seconds(p.proc.pid) for p in pubs], cpu_seconds(sub.proc.pid)
                rtp_in, rtp_out = await rtp_bytes(http, janus)
                mjr = sum(f.stat().st_size for f in rec.glob("*.mjr"))
                run = time.monotonic() - started
                await session.destroy()
        finally:
            for p in peers:
                await p.close()
            await janus.stop()

    sent = sum(sent1) - sum(sent0)
    got = sum(got1[str(f)] - got0[str(f)] for f in feeds)
    ratio = got / sent if sent else 0.0
    window = wall1 - wall0
    print(f"frames: {got} delivered / {sent} sent = {ratio:.2%} over {window:.1f} s, {publishers} publishers "
          f"640x360 -> 1 subscriber (goal >= {GOAL:.0%}: {'met' if ratio >= GOAL else 'NOT met'}); "
          f"per feed sent {[b - a for a, b in zip(sent0, sent1)]}")
    if rtp_in:
        print(f"recordings: {mjr / MB:.2f} MB of .mjr vs {rtp_in / MB:.2f} MB RTP into Janus and "
              f"{rtp_out / MB:.2f} MB RTP forwarded out (admin handle_info, whole run; .mjr / RTP in = "
              f"{mjr / rtp_in:.1%}, .mjr adds a small header per packet; measured "
              f"{rtp_in * 8 / run / publishers / 1000:.0f} kbit/s per publisher over {run:.0f} s)")
    else:
        print(f"recordings: {mjr / MB:.2f} MB of .mjr; RTP bytes not measured (handle_info gave no byte counters)")
    streams = publishers  # one forwarded video (+ its audio) per publisher to the one subscriber
    cpu = cpu1 - cpu0
    print(f"janus cpu: {cpu:.2f} s over {window:.1f} s = {cpu / window:.1%} of one core, "
          f"{cpu / window / streams * 1000:.1f} ms CPU per second per forwarded feed (audio+video), "
          f"{streams} feeds")
    return {
        "publishers": publishers,
        "kbit_s": rtp_in * 8 / run / publishers / 1000 if rtp_in else 0.0,
        "publisher_cpu": (sum(pub1) - sum(pub0)) / window / publishers,
        "receive_cpu_per_feed": (sub1 - sub0) / window / publishers,
        "janus_cpu_per_feed": cpu / window / streams,
    }


LOAD = Path(__file__).resolve().parent / "media_load.py"


class LoadPeer:
    """A bench/media_load.py (or mesh_peer.py) child process, read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str, script: Path = LOAD) -> "LoadPeer":
        proc = await asyncio.create_subprocess_exec(sys.executable, str(script), *args, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, limit=1 << 20)
        return cls(proc)

    async def send(self, msg: dict[str, object]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        await self.proc.stdin.drain()

    async def line(self, key: str, timeout: float = 90.0) -> object:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not raw:
                raise RuntimeError(f"load peer exited before saying {key!r} (status {await self.proc.wait()})")
            msg = json.loads(raw)
            if key in msg:
                return msg[key]

    async def ask(self, key: str) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n")
        await self.proc.stdin.drain()
        return int(await self.line(key))  # type: ignore[call-overload]

    async def close(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def load_file(directory: Path, seconds: float) -> Path:
    """A 640x360 VP8 + Opus WebM of at least `seconds` (a test pattern and a tone): ffmpeg encodes
    four seconds once and repeats them without re-encoding."""
    short, out = directory / "load-4s.webm", directory / "load.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-f", "lavfi",
                    "-i", "sine=frequency=440:sample_rate=48000", "-t", "4", "-c:v", "libvpx", "-b:v", "800k",
                    "-deadline", "realtime", "-cpu-used", "8", "-g", "60", "-c:a", "libopus", "-b:a", "32k", str(short)],
                   check=True, timeout=300)
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", str(int(seconds // 4) + 1), "-i", str(short), "-c", "copy",
                    str(out)], check=True, timeout=300)
    return out


async def rooms(count: int, per_room: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-rooms-") as tmp:
        file = await asyncio.to_thread(load_file, Path(tmp), 3 * seconds + 90)
        rec = Path(tmp) / "rec"
        rec.mkdir()
        janus = JanusProcess.in_directory(Path(tmp) / "janus", ADMIN)
        await janus.start()
        assert janus.proc is not None
        peers: list[LoadPeer] = []
        try:
            async with aiohttp.ClientSession() as http:
                session = await JanusSession.create(janus.url, http)
                room_ids = [ROOM + 1 + i for i in range(count)]
                for room in room_ids:
                    await VideoRoom(await session.attach()).create(room, SECRET, str(rec), publishers=per_room)
                pubs = [await LoadPeer.start("publish", janus.url, str(room), str(per_room), str(file)) for room in room_ids]
                peers += pubs
                feeds = [await p.line("feeds") for p in pubs]
                for p in pubs:
                    await p.line("state")

                async def window() -> tuple[float, float]:
                    await asyncio.sleep(2)  # settle after the last join
                    cpu0, wall0 = cpu_seconds(janus.proc.pid), time.monotonic()
                    await asyncio.sleep(seconds)
                    return cpu_seconds(janus.proc.pid) - cpu0, time.monotonic() - wall0

                ingest_cpu, ingest_wall = await window()
                subs = [await LoadPeer.start("subscribe", janus.url, str(room), ",".join(map(str, f)))
                        for room, f in zip(room_ids, feeds)]
                peers += subs
                for p in subs:
                    await p.line("state")
                await asyncio.sleep(2)
                sent0 = [await p.ask("sent") for p in pubs]
                got0 = [await p.ask("frames") for p in subs]
                both_cpu, both_wall = await window()
                sent1 = [await p.ask("sent") for p in pubs]
                got1 = [await p.ask("frames") for p in subs]
                mjr = sum(f.stat().st_size for f in rec.glob("*.mjr"))
                await session.destroy()
        finally:
            for p in peers:
                await p.close()
            await janus.stop()

    sent, got = sum(sent1) - sum(sent0), sum(got1) - sum(got0)
    feeds_in = count * per_room
    per_in = ingest_cpu / ingest_wall / feeds_in
    per_out = max(0.0, both_cpu / both_wall - ingest_cpu / ingest_wall) / feeds_in
    full_room = per_room * per_in + per_room * (per_room - 1) * per_out
    cores = os.cpu_count() or 1
    print(f"rooms: {count} recorded rooms x {per_room} publishers at once (640x360 VP8 800 kbit/s + Opus, "
          f"one subscriber per feed): {got} frames delivered / {sent} sent = {got / sent if sent else 0:.2%} over "
          f"{both_wall:.1f} s; {mjr / MB:.1f} MB of recordings")
    print(f"rooms cpu: janus {ingest_cpu / ingest_wall:.1%} of a core ingesting {feeds_in} feeds, "
          f"{both_cpu / both_wall:.1%} ingesting and forwarding {feeds_in}: {per_in * 1000:.1f} ms/s per ingested feed, "
          f"{per_out * 1000:.1f} ms/s per forwarded feed")
    fit = 0.7 * cores / full_room if full_room else float("inf")
    print(f"rooms capacity: a full room ({per_room} ingest + {per_room * (per_room - 1)} forwarded feeds) costs "
          f"{full_room:.0%} of a core in janus; limit: {cores} cores on this machine (os.cpu_count) -> "
          f"about {fit:.1f} full rooms at 70% load")


MESH = Path(__file__).resolve().parent / "mesh_peer.py"


async def mesh(n: int, seconds: float, sfu: dict[str, float] | None) -> None:
    """Part 4: the same N participants through today's mesh (bench/mesh_peer.py, one process each,
    every pair connected directly; this process relays the offers and answers as the signaling
    server does), against part 1's publishers on the SFU."""
    peers = [await LoadPeer.start(f"m{i}", script=MESH) for i in range(n)]
    connected: set[tuple[int, str]] = set()
    up = asyncio.Event()
    stats: list[asyncio.Queue[dict[str, Any]]] = [asyncio.Queue() for _ in peers]

    async def read(i: int) -> None:  # one participant's lines: relay its SDP, note its state
        out = peers[i].proc.stdout
        assert out is not None
        while raw := await out.readline():
            msg = json.loads(raw)
            if "to" in msg:  # an offer or an answer, passed on as the signaling server does
                to = peers[int(msg.pop("to")[1:])]
                await to.send({**msg, "from": f"m{i}"})
            elif "connected" in msg:
                connected.add((i, msg["connected"]))
                if len(connected) == n * (n - 1):
                    up.set()
            elif "stats" in msg:
                await stats[i].put(msg["stats"])

    async def snapshot() -> tuple[list[dict[str, Any]], list[float], float]:
        for p in peers:
            await p.send({"stats": True})
        got = [await asyncio.wait_for(q.get(), 30) for q in stats]
        return got, [cpu_seconds(p.proc.pid) for p in peers], time.monotonic()

    readers = [asyncio.create_task(read(i)) for i in range(n)]
    try:
        for i in range(n):
            for j in range(i + 1, n):
                await peers[i].send({"call": f"m{j}"})
        await asyncio.wait_for(up.wait(), 60)
        async with asyncio.timeout(60):  # warm-up: every connection has delivered 30 frames
            while min(min(s["received"].values()) for s in (await snapshot())[0]) < 30:
                await asyncio.sleep(0.5)
        s0, cpu0, t0 = await snapshot()
        await asyncio.sleep(seconds)  # the measurement window
        s1, cpu1, t1 = await snapshot()
    finally:
        for p in peers:
            await p.close()
        for r in readers:
            r.cancel()
    window = t1 - t0
    sent = sum(b["sent"] - a["sent"] for a, b in zip(s0, s1)) * (n - 1)  # each frame is for every other one
    got = sum(sum(b["received"].values()) - sum(a["received"].values()) for a, b in zip(s0, s1))
    kbit = sum(b["bytes"] - a["bytes"] for a, b in zip(s0, s1)) * 8 / window / n / 1000
    copies = sum(b["copies"] for b in s1) / n
    cpu = (sum(cpu1) - sum(cpu0)) / window / n
    print(f"mesh: {n} participants in a full mesh (640x360 + tone each, aiortc): {got} frames delivered / {sent} "
          f"sent = {got / sent if sent else 0:.2%} over {window:.1f} s; upstream per participant: "
          f"{copies:.0f} video copies, {kbit:.0f} kbit/s; CPU per participant {cpu:.1%} of a core "
          f"(encoding {n - 1} copies, decoding {n - 1} feeds)")
    if sfu:
        sfu_cpu = sfu["publisher_cpu"] + sfu["receive_cpu_per_feed"] * (n - 1)
        print(f"mesh vs sfu: upstream copies per participant {copies:.0f} vs 1; upstream {kbit:.0f} vs "
              f"{sfu['kbit_s']:.0f} kbit/s ({kbit / sfu['kbit_s'] if sfu['kbit_s'] else 0:.1f}x); participant CPU "
              f"{cpu:.1%} vs {sfu_cpu:.1%} of a core (SFU: part 1's publisher {sfu['publisher_cpu']:.1%} plus "
              f"{n - 1} x its subscriber's {sfu['receive_cpu_per_feed']:.1%} per received feed), the SFU adding "
              f"{sfu['janus_cpu_per_feed'] * 1000:.1f} ms/s of server CPU per forwarded feed")


def hashing(total_mb: int, rounds: int) -> tuple[float, float, int]:
    """CPU seconds of (RecordingHasher scans, raw sha256 over the same appended block), bytes hashed."""
    names = [f"videoroom-1-user-{p}-1700000000-{k}-0.mjr" for p in range(SESSION_PUBLISHERS)
             for k in ("audio", "video")]
    step = max(1, total_mb * MB // (len(names) * rounds))
    data = os.urandom(step)
    with tempfile.TemporaryDirectory(prefix="bench-hash-") as tmp:
        d = Path(tmp)
        hasher = RecordingHasher(d)
        cpu = 0.0
        for _ in range(rounds):
            for n in names:
                with open(d / n, "ab") as f:
                    f.write(data)
            t = time.process_time()
            hasher.scan()
            cpu += time.process_time() - t
        hasher.scan(final=True)
    total = step * len(names) * rounds
    t = time.process_time()
    h = hashlib.sha256()
    for _ in range(len(names) * rounds):
        h.update(data)
    raw = time.process_time() - t
    return cpu, raw, total


def report_hashing(total_mb: int, rounds: int, repeat: int) -> None:
    runs = [hashing(total_mb, rounds) for _ in range(repeat)]
    cpu, raw, total = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
    names = SESSION_PUBLISHERS * 2
    rate, raw_rate = total / MB / cpu, total / MB / raw
    print(f"checkpoint hashing: {rate:.0f} MB/s over {total / MB:.0f} MB in {rounds} rounds of "
          f"{names} growing files, best of {repeat} (raw hashlib.sha256 on the same bytes in memory "
          f"{raw_rate:.0f} MB/s, {rate / raw_rate:.0%})")
    per_hour = SESSION_PUBLISHERS * ASSUMED_BITS_PER_S / 8 * 3600
    share = per_hour / MB / rate / 3600
    print(f"checkpoint cost: {SESSION_PUBLISHERS} publishers at an assumed {ASSUMED_BITS_PER_S / 1e6:.3f} Mbit/s "
          f"each = {per_hour / 1e9:.2f} GB/hour, {per_hour / MB / rate:.1f} CPU s/hour = {share:.3%} of one core "
          f"(raw sha256 limit {per_hour / MB / raw_rate / 3600:.3%})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0, help="measurement window after warm-up")
    ap.add_argument("--hash-mb", type=int, default=256, help="bytes hashed in part 2")
    ap.add_argument("--rounds", type=int, default=32, help="scan rounds in part 2")
    ap.add_argument("--repeat", type=int, default=3, help="part 2 runs; the best CPU time of each is kept")
    ap.add_argument("--rooms", type=int, default=0, help="part 3: rooms at once (0: not run)")
    ap.add_argument("--room-publishers", type=int, default=SESSION_PUBLISHERS, help="part 3: publishers per room")
    ap.add_argument("--mesh", type=int, default=None,
                    help="part 4: participants in the mesh comparison (default: --publishers; 0: not run)")
    args = ap.parse_args()
    # stopped from outside (timeout, Ctrl-C): unwind so that Janus and the peers are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench_media: terminated"))
    sfu: dict[str, float] | None = None
    if janus_executable() is None:
        print("media: janus is not installed (Debian packages janus, janus-tools); room part not measured")
    else:
        sfu = asyncio.run(media(args.publishers, args.seconds))
        if args.rooms:
            asyncio.run(rooms(args.rooms, args.room_publishers, args.seconds))
    mesh_n = args.publishers if args.mesh is None else args.mesh
    if mesh_n >= 2:  # the mesh needs no janus; its comparison line needs part 1
        asyncio.run(mesh(mesh_n, args.seconds, sfu))
    report_hashing(args.hash_mb, args.rounds, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
