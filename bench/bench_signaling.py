"""Signaling server vs a bare aiohttp WebSocket relay (the limit), with one load generator.

Run: python bench/bench_signaling.py   (about a minute; loopback only; stops by itself)

Three processes: both servers pinned to CPU 0 (only one is loaded at a time), one load generator
pinned to CPU 1. For each server, in the same run and with the same generator: memory per idle
connection (RSS delta over 1,000 joined, idle connections), messages/s at saturation (200 clients in
50 rooms, each sending a real 5.5 KB Chromium offer to a peer in its room, a window of 4 messages
in flight per client), then p50/p99 latency at a fixed 2,000 messages/s. Our server runs with
tokens, validation, rate limiting and hooks on; defaults except the per-connection rate, raised to
1,000 messages/s (burst 2,000) because at saturation each client sends far more than the default
50/s allows — the limiter still runs on every message, it just never refuses one here. Any `error`
frame received fails the run (a refused message would otherwise look like a lost one).
Goals: saturation ≥ 70% of bare; p99 at 2,000 msg/s ≤ 1.5× bare; ≤ 64 KB per idle connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

SECRET = bytes(range(32))
ROOMS, PER_ROOM = 50, 4  # 200 clients
IDLE = 1000  # idle connections for the memory figure
WINDOW = 4  # messages in flight per client at saturation
SATURATION_S, LATENCY_S, RATE = 5.0, 5.0, 2000.0
SESSION_ID = "1125711667211848281"  # the offer's o= session id, replaced by a sequence number
# A real browser offer: Chromium 156 (Debian), headless, audio + video transceivers and a data
# channel, createOffer() (candidates trickle separately) — what a booth page sends. Shared with
# the signaling tests.
OFFER = (Path(__file__).resolve().parents[1] / "tests/vectors/webrtc/chromium-156-offer.sdp").read_bytes().decode()


# --- the two servers ------------------------------------------------------------------------------


def bare_app() -> web.Application:
    """The limit: join (room, id), forward each text to its `to` in the same room, nothing else."""
    rooms: dict[str, dict[str, web.WebSocketResponse]] = {}

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        room: dict[str, web.WebSocketResponse] | None = None
        me = ""
        try:
            async for msg in ws:
                data = json.loads(msg.data)
                if room is None:
                    me = data["id"]
                    room = rooms.setdefault(data["room"], {})
                    room[me] = ws
                    await ws.send_str('{"type":"welcome"}')
                else:
                    peer = room.get(data["to"])
                    if peer is not None:
                        await peer.send_str(msg.data)
        finally:
            if room is not None:
                room.pop(me, None)
        return ws

    app = web.Application()
    app.router.add_get("/rooms/{room}", handle)
    return app


def ours_app() -> web.Application:
    from signaling.config import SignalingConfig
    from signaling.hooks import NoHooks
    from signaling.server import signaling_app

    class CountingHooks(NoHooks):  # hooks on: every join and leave goes through one
        calls = 0

        async def on_join(self, room: str, account: str, role: object, reason: str) -> None:  # type: ignore[override]
            CountingHooks.calls += 1

    return signaling_app(SignalingConfig(token_secret=SECRET, rate=1000.0, burst=2000), CountingHooks())


async def serve(kind: str) -> None:
    runner = web.AppRunner(bare_app() if kind == "bare" else ours_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await runner.cleanup()


# --- the load generator ---------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Load:
    """Clients of one server; `join_text` differs per server, everything else is identical."""

    def __init__(self, kind: str, port: int, pid: int) -> None:
        self.kind, self.port, self.pid = kind, port, pid
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.signer = None
        if kind == "ours":
            from signaling.codes import Role
            from signaling.tokens import TokenSigner

            self.signer, self.role = TokenSigner(SECRET), Role.EXPERT

    def join_text(self, room: str, account: str) -> str:
        if self.signer is None:
            return json.dumps({"type": "join", "room": room, "id": account})
        return json.dumps({"type": "join", "token": self.signer.issue(room, account, self.role, account, 600)})

    async def connect(self, room: str, account: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.session.ws_connect(f"http://127.0.0.1:{self.port}/rooms/{room}", max_msg_size=1 << 20)
        await ws.send_str(self.join_text(room, account))
        msg = await ws.receive(10.0)
        assert msg.type is aiohttp.WSMsgType.TEXT and '"welcome"' in msg.data, msg
        return ws

    async def memory(self) -> float:
        """KB of server RSS per joined idle connection."""
        warm = [await self.connect(f"w{i}", "x") for i in range(20)]
        for ws in warm:
            await ws.close()
        before = rss_kb(self.pid)
        socks = []
        for i in range(0, IDLE, 50):
            socks += await asyncio.gather(*(self.connect(f"m{j // 4}", f"c{j % 4}") for j in range(i, i + 50)))
        after = rss_kb(self.pid)
        for ws in socks:
            if self.kind == "ours":
                await ws.send_str('{"type":"leave"}')
            await ws.close()
        return (after - before) / IDLE

    async def traffic(self) -> tuple[float, int, float, float]:
        """(messages/s at saturation, messages lost, p50 ms, p99 ms at RATE messages/s)."""
        clients = []
        for r in range(ROOMS):
            for c in range(PER_ROOM):
                clients.append((f"t{r}", f"c{c}", await self.connect(f"t{r}", f"c{c}")))
        n = len(clients)
        sent_at: dict[int, float] = {}
        latencies: list[float] = []
        received = [0] * n  # per sender index
        waiters = [asyncio.Event() for _ in range(n)]
        index = {(room, acc): i for i, (room, acc, _) in enumerate(clients)}
        seq_owner: dict[int, int] = {}
        total = [0]

        async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                text = msg.data
                at = text.find("o=- ")
                if at < 0:  # presence (peer-joined…): not part of the measurement
                    if text.startswith('{"type":"error"'):
                        raise SystemExit(f"{self.kind} refused a message: {text}")
                    continue
                seq = int(text[at + 4: text.find(" ", at + 4)])
                owner = seq_owner.pop(seq)
                received[owner] += 1
                total[0] += 1
                t = sent_at.pop(seq, None)
                if t is not None:
                    latencies.append(time.perf_counter() - t)
                waiters[owner].set()

        readers = [asyncio.create_task(reader(ws)) for _, _, ws in clients]
        texts = []  # per client: (prefix, suffix) around the sequence number
        for room, acc, _ in clients:
            peer = f"c{(int(acc[1:]) + 1) % PER_ROOM}"
            body = json.dumps({"type": "offer", "to": peer, "sdp": OFFER})
            head, tail = body.split(SESSION_ID)
            texts.append((head, tail))
        seq = [0]

        async def send(i: int, stamp: bool) -> None:
            seq[0] += 1
            s = seq[0]
            seq_owner[s] = i
            if stamp:
                sent_at[s] = time.perf_counter()
            head, tail = texts[i]
            await clients[i][2].send_str(f"{head}{s}{tail}")

        # saturation: every client keeps WINDOW messages in flight
        sent = [0] * n
        stop = time.perf_counter() + 1.0 + SATURATION_S

        async def pump(i: int) -> None:
            while time.perf_counter() < stop:
                while sent[i] - received[i] >= WINDOW:
                    waiters[i].clear()
                    await asyncio.wait_for(waiters[i].wait(), 10.0)
                sent[i] += 1
                await send(i, False)

        pumps = [asyncio.create_task(pump(i)) for i in range(n)]
        await asyncio.sleep(1.0)  # warm-up, then measure SATURATION_S seconds
        start_count, start = total[0], time.perf_counter()
        await asyncio.gather(*pumps)
        rate = (total[0] - start_count) / (time.perf_counter() - start)
        async with asyncio.timeout(10.0):
            while total[0] < sum(sent):
                await asyncio.sleep(0.01)
        lost = sum(sent) - total[0]

        # latency at a fixed RATE: send on a schedule, round-robin over the clients
        t0 = time.perf_counter()
        k = 0
        while k < RATE * LATENCY_S:
            due = int((time.perf_counter() - t0) * RATE) + 1
            while k < min(due, RATE * LATENCY_S):
                await send(k % n, True)
                k += 1
            await asyncio.sleep(0.0005)
        async with asyncio.timeout(10.0):
            while sent_at:
                await asyncio.sleep(0.01)
        for r in readers:
            r.cancel()
        for _, _, ws in clients:
            await ws.close()
        qs = statistics.quantiles(latencies, n=100)
        return rate, lost, qs[49] * 1000, qs[98] * 1000

    async def close(self) -> None:
        await self.session.close()


async def generate(targets: list[tuple[str, int, int]]) -> None:
    async with asyncio.timeout(150.0):  # bounded whatever happens
        await _generate(targets)


async def _generate(targets: list[tuple[str, int, int]]) -> None:
    results = {}
    for kind, port, pid in targets:
        print(f"measuring {kind}", file=sys.stderr, flush=True)
        load = Load(kind, port, pid)
        try:
            mem = await load.memory()
            rate, lost, p50, p99 = await load.traffic()
        finally:
            await load.close()
        results[kind] = {"mem_kb": mem, "rate": rate, "lost": lost, "p50": p50, "p99": p99}
    print(json.dumps(results), flush=True)


# --- orchestration --------------------------------------------------------------------------------


def pin(core: int) -> None:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        os.sched_setaffinity(0, {cores[core]})


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        pin(0)
        asyncio.run(serve(sys.argv[2]))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--load":
        pin(1)
        asyncio.run(generate([(k, int(p), int(pid)) for k, p, pid in (t.split(":") for t in sys.argv[2:])]))
        return
    if len(os.sched_getaffinity(0)) < 2:
        print("warning: fewer than 2 CPUs: server and load generator share one; compare ratios only")
    me = os.path.abspath(__file__)
    servers = {k: subprocess.Popen([sys.executable, me, "--serve", k], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True) for k in ("bare", "ours")}
    try:
        ports = {k: int(p.stdout.readline()) for k, p in servers.items()}  # type: ignore[union-attr]
        targets = [f"{k}:{ports[k]}:{servers[k].pid}" for k in ("bare", "ours")]
        out = subprocess.run([sys.executable, me, "--load", *targets], stdout=subprocess.PIPE, text=True, timeout=170)
        if out.returncode != 0:
            sys.exit("load generator failed")
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        for p in servers.values():
            p.stdin.close()  # type: ignore[union-attr]
            p.wait(timeout=20)
    b, o = r["bare"], r["ours"]
    print(f"{ROOMS * PER_ROOM} clients in {ROOMS} rooms, {len(OFFER.encode()):,}-byte Chromium offer; "
          f"servers on one CPU, load generator on another")
    print(f"{'':34}{'pingbiao':>12}{'bare relay':>12}{'ratio':>8}   goal")
    print(f"{'saturation, messages/s':34}{o['rate']:12,.0f}{b['rate']:12,.0f}{o['rate'] / b['rate']:8.2f}   ≥ 0.70"
          f"   (lost: {o['lost']} / {b['lost']})")
    print(f"{'p50 at 2,000 msg/s, ms':34}{o['p50']:12.2f}{b['p50']:12.2f}{o['p50'] / b['p50']:8.2f}")
    print(f"{'p99 at 2,000 msg/s, ms':34}{o['p99']:12.2f}{b['p99']:12.2f}{o['p99'] / b['p99']:8.2f}   ≤ 1.50")
    print(f"{'memory per idle connection, KB':34}{o['mem_kb']:12.1f}{b['mem_kb']:12.1f}"
          f"{o['mem_kb'] / b['mem_kb']:8.2f}   ≤ 64 KB")


if __name__ == "__main__":
    main()
