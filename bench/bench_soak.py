"""A bounded soak of one real `pingbiao serve` process: booths, an opening and scoring at once.

Run: python bench/bench_soak.py [--duration 120]      (about duration + 1 minute; stops by itself)
     python bench/bench_soak.py --short              (the short form tests/test_bench_soak.py runs)

Needs the test PostgreSQL (PINGBIAO_TEST_PG, default postgres@127.0.0.1:5432/test): the server runs
on a scratch database made there and dropped at the end (tests/pg.py), with the embedded local
beacon (period 1 s) and the mesh booth (janus off; allow_unrecorded, as the soak loads signaling,
not media). The starting state (accounts and their sessions,
the scoring tenders: bids opened, committees drawn) is made first through the domain on the same
data directory and database (bench/soak_seed.py); then the server starts in its own process.

While the server runs, one load generator (another process, on another CPU when there are two):

* **booths**: `--rooms` rooms (default 50) of `--per-room` participants (default 11). Each takes a
  room token from web/ (GET /api/booth/<room>/token), joins over the signaling WebSocket, offers
  (a real 5.5 KB Chromium offer) to everyone already in the room, who answer; then trickles
  ICE-like candidates to random peers (`--rate` in all, default 300/s), renegotiates now and then,
  pings every 5 s, and churns: after 40–160 s (`--life`) it leaves for good (`leave`) or drops its
  socket (grace period), and rejoins after 0.2–2 s. Messages go only to peers whose place is live and whose messages have all arrived before
  they leave, so every `error` frame, unexpected close, lost or misdelivered message is a defect.
* **an opening** of `--bids` bids (default 200, `--bid-kb` each), sealed to the local beacon's
  round and uploaded by as many bidders; the platform's own opening job opens them at the round.
  Measured from the round's time to `record.final` in the hall, then every row checked `opened`.
* **scoring**: the drawn experts play the evaluation of each scoring tender over the JSON API
  (start, check-in with signing keys, votes, signed sheets), while polling the session's view as
  the evaluation page does.

Each figure is printed next to a limit measured in the same run: the booth load first runs, with the
same generator and the same schedule, against a bare aiohttp WebSocket relay (bench/bench_signaling
bare_app: join and forward, nothing else); the scoring requests also run alone on the idle server
before the soak; the 200 bids are also decrypted in this process, alone, after the soak. Server RSS is
sampled at the soak's start, middle and end: flat means end within 5% of middle.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import aiohttp
from bench_signaling import OFFER, SESSION_ID, rss_kb

LIFE = (40.0, 160.0)  # seconds a participant stays before leaving or dropping its socket (--life)
PAUSE = (0.2, 2.0)  # seconds before it comes back
RENEGOTIATE = 0.05  # share of the steady messages that are offers (answered) rather than candidates
PING_S = 5.0
FLAT = 0.05  # end RSS within 5% of middle
OPENING_GOAL_S = 3.0  # bench/bench_opening.py's limit


CORES = sorted(os.sched_getaffinity(0))  # before anything is pinned


def pin(pid: int, core: int) -> None:
    """Servers on the first CPU, the load generator on the second (when there are two)."""
    if len(CORES) >= 2:
        os.sched_setaffinity(pid, {CORES[core]})


T0 = time.perf_counter()


def say(text: str) -> None:
    print(f"[{time.perf_counter() - T0:5.0f} s] {text}", file=sys.stderr, flush=True)


def quantile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- booths -------------------------------------------------------------------------------------


class Counter:
    """A count of things in flight with an event for "none left"."""

    def __init__(self) -> None:
        self.n = 0
        self.zero = asyncio.Event()
        self.zero.set()

    def up(self) -> None:
        self.n += 1
        self.zero.clear()

    def down(self) -> None:
        self.n -= 1
        if self.n <= 0:
            self.zero.set()


@dataclass(eq=False)
class Client:
    room: int
    person: dict[str, Any]
    state: str = "off"  # off → on → leaving → off …
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    incoming: Counter = field(default_factory=Counter)  # messages addressed to it, not yet received
    sending: Counter = field(default_factory=Counter)  # its own sends in progress
    last_sent: float = 0.0  # when its last message went out (perf_counter)

    @property
    def id(self) -> str:
        return str(self.person["id"])


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    relays_in_window: int = 0
    relays: int = 0
    errors: list[str] = field(default_factory=list)
    cross_room: int = 0
    misdelivered: int = 0
    joins: int = 0
    resumed: int = 0
    leaves: int = 0
    drops: int = 0
    presence: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lost: int = 0
    rss: list[tuple[float, int]] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)

    def error(self, text: str) -> None:
        if len(self.errors) < 1000:
            self.errors.append(text)


class Booths:
    """The booth load on one server: `ours` (pingbiao serve, tokens from web/) or `bare`."""

    def __init__(self, kind: str, http: str, ws_base: str, pid: int, rooms: list[list[dict[str, Any]]]) -> None:
        self.kind, self.http, self.ws_base, self.pid = kind, http, ws_base, pid
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.rooms = [[Client(r, p) for p in people] for r, people in enumerate(rooms)]
        self.clients = [c for room in self.rooms for c in room]
        self.fig = Figures()
        self.seq = 0
        self.inflight: dict[int, tuple[Client, Client, float]] = {}
        self.pending = Counter()
        self.stopping = asyncio.Event()
        self.templates = {k: json.dumps({"type": k, "to": "@@TO@@", "sdp": OFFER}) for k in ("offer", "answer")}
        self.tasks: list[asyncio.Task[Any]] = []
        self.life = LIFE

    def room_name(self, r: int) -> str:
        return f"eval-soak-{r}"

    # sending

    async def raw(self, c: Client, text: str) -> bool:
        if c.ws is None or c.state != "on":
            return False
        c.sending.up()
        try:
            await c.ws.send_str(text)
            c.last_sent = time.perf_counter()
            return True
        except (ConnectionError, RuntimeError) as exc:
            self.fig.error(f"{c.id}: send failed: {exc!r}")
            return False
        finally:
            c.sending.down()

    async def send(self, src: Client, dst: Client, kind: str) -> None:
        if src.state != "on" or dst.state != "on" or src is dst:
            return
        self.seq += 1
        s = self.seq
        if kind == "candidate":
            text = json.dumps({"type": "candidate", "to": dst.id, "candidate": {
                "candidate": f"candidate:{s} 1 udp 2122260223 192.0.2.7 54400 typ host", "sdpMid": "0",
                "sdpMLineIndex": 0, "usernameFragment": "Y8ZF"}})
        else:
            text = self.templates[kind].replace("@@TO@@", dst.id, 1).replace(SESSION_ID, str(s), 1)
        self.inflight[s] = (src, dst, time.perf_counter())
        dst.incoming.up()
        self.pending.up()
        if not await self.raw(src, text):
            self.inflight.pop(s, None)
            dst.incoming.down()
            self.pending.down()

    # receiving

    def seq_of(self, kind: str, data: dict[str, Any]) -> int:
        if kind == "candidate":
            return int(data["candidate"]["candidate"].split()[0].removeprefix("candidate:"))
        sdp = data["sdp"]
        at = sdp.index("o=- ") + 4
        return int(sdp[at: sdp.index(" ", at)])

    async def read(self, c: Client, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                self.fig.error(f"{c.id}: non-text frame {msg.type}")
                continue
            data = json.loads(msg.data)
            kind = data.get("type")
            if kind in ("offer", "answer", "candidate"):
                now = time.perf_counter()
                entry = self.inflight.pop(self.seq_of(kind, data), None)
                if entry is None:
                    self.fig.misdelivered += 1
                    self.fig.error(f"{c.id}: a {kind} nobody sent, or delivered twice")
                    continue
                src, dst, sent_at = entry
                if src.room != c.room:
                    self.fig.cross_room += 1
                if dst is not c or (self.kind == "ours" and data.get("from") != src.id):
                    self.fig.misdelivered += 1
                self.fig.relays += 1
                start, end = self.fig.window
                if start <= sent_at and (end == 0.0 or sent_at <= end):
                    self.fig.latencies.append(now - sent_at)
                    self.fig.relays_in_window += 1
                dst.incoming.down()
                self.pending.down()
                if kind == "offer" and not self.stopping.is_set():
                    self.tasks.append(asyncio.create_task(self.send(c, src, "answer")))
            elif kind == "error":
                self.fig.error(f"{c.id}: {msg.data}")
            elif kind in ("peer-joined", "peer-left", "peer-reconnecting", "peer-back", "peer-media"):
                self.fig.presence[kind] += 1
            elif kind not in ("pong", "welcome"):
                self.fig.error(f"{c.id}: unexpected {msg.data[:200]}")
        if c.state != "leaving":
            self.fig.error(f"{c.id}: socket closed unexpectedly (code {ws.close_code}; its last message went "
                           f"{time.perf_counter() - c.last_sent:.0f} s before)")
            c.state = "off"

    # joining and leaving

    async def connect(self, c: Client) -> None:
        room = self.room_name(c.room)
        if self.kind == "ours":
            async with self.session.get(f"{self.http}/api/booth/{room}/token", headers=c.person["headers"]) as resp:
                body = await resp.json()
                if resp.status != 200:
                    self.fig.error(f"{c.id}: room token refused: {resp.status} {body.get('error')}")
                    return
            url, join = f"{self.ws_base}{body['url']}", json.dumps({"type": "join", "token": body["token"]})
        else:
            url, join = f"{self.ws_base}/rooms/{room}", json.dumps({"type": "join", "room": room, "id": c.id})
        before = [p for p in self.rooms[c.room] if p.state == "on"]
        try:
            ws = await self.session.ws_connect(url, max_msg_size=1 << 20, autoping=True)
            await ws.send_str(join)
            msg = await ws.receive(15.0)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.fig.error(f"{c.id}: joining failed: {exc!r}")
            return
        if msg.type is not aiohttp.WSMsgType.TEXT or json.loads(msg.data).get("type") != "welcome":
            self.fig.error(f"{c.id}: no welcome: {msg.type} {str(msg.data)[:200]}")
            await ws.close()
            return
        live = [p for p in self.rooms[c.room] if p.state == "on"]
        if self.kind == "ours":
            welcome = json.loads(msg.data)
            self.fig.resumed += bool(welcome["resumed"])
            listed = {p["id"] for p in welcome["participants"]}
            missing = [p.id for p in before if p.state == "on" and p.id not in listed]  # were in before it joined
            if missing or c.id in listed:
                self.fig.error(f"{c.id}: welcome's participants miss {missing} or list itself")
        self.fig.joins += 1
        c.ws, c.state, c.last_sent = ws, "on", time.perf_counter()
        c.reader = asyncio.create_task(self.read(c, ws))
        for p in live:  # the newcomer offers to each participant; they answer
            await self.send(c, p, "offer")

    async def leave(self, c: Client, for_good: bool, churn: bool = True) -> None:
        """Leave once nothing is on its way to or from `c` (nobody sends to a leaving client)."""
        c.state = "leaving"
        try:
            await asyncio.wait_for(c.incoming.zero.wait(), 15.0)
            await asyncio.wait_for(c.sending.zero.wait(), 15.0)
        except TimeoutError:
            self.fig.error(f"{c.id}: {c.incoming.n} messages to it never arrived")
        assert c.ws is not None and c.reader is not None
        if for_good and self.kind == "ours":
            await c.ws.send_str('{"type":"leave"}')
            await asyncio.wait_for(c.reader, 15.0)
            if c.ws.close_code != 1000:
                self.fig.error(f"{c.id}: leave answered by close {c.ws.close_code}")
            self.fig.leaves += churn
        else:
            await c.ws.close()
            await asyncio.wait_for(c.reader, 15.0)
            self.fig.drops += churn
        c.state, c.ws = "off", None

    async def churn(self, c: Client) -> None:
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), random.uniform(*self.life))
                return
            except TimeoutError:
                pass
            if c.state != "on":
                return
            await self.leave(c, random.random() < 0.5)
            await asyncio.sleep(random.uniform(*PAUSE))
            await self.connect(c)

    async def ping(self) -> None:
        while not self.stopping.is_set():
            for c in self.clients:
                if self.kind == "ours" and c.state == "on":
                    await self.raw(c, json.dumps({"type": "ping", "ts": time.time()}))
            try:
                await asyncio.wait_for(self.stopping.wait(), PING_S)
            except TimeoutError:
                pass

    async def schedule(self, rate: float) -> None:
        """`rate` steady messages per second, each from a random live participant to a random live peer."""
        t0, k = time.perf_counter(), 0
        while not self.stopping.is_set():
            due = int((time.perf_counter() - t0) * rate)
            while k < due:
                k += 1
                room = random.choice(self.rooms)
                live = [p for p in room if p.state == "on"]
                if len(live) >= 2:
                    src, dst = random.sample(live, 2)
                    await self.send(src, dst, "offer" if random.random() < RENEGOTIATE else "candidate")
            await asyncio.sleep(0.002)

    async def sample_rss(self) -> None:
        while True:
            self.fig.rss.append((time.perf_counter(), rss_kb(self.pid)))
            await asyncio.sleep(1.0)

    async def ramp(self) -> None:
        gate = asyncio.Semaphore(16)

        async def one(c: Client) -> None:
            async with gate:
                await self.connect(c)

        await asyncio.gather(*(one(c) for c in self.clients))

    async def run(self, rate: float, duration: float, during: Any = None) -> None:
        """Ramp up, then `duration` seconds of churn and steady messages (and `during`, a coroutine
        function given the start time), then stop, wait for every message, and leave."""
        sampler = asyncio.create_task(self.sample_rss())
        pinger = asyncio.create_task(self.ping())  # from the first join: a ramp can outlast the heartbeat
        ramp_start = time.perf_counter()
        await self.ramp()
        start = time.perf_counter()
        self.ramp_s = start - ramp_start
        self.fig.window = (start, 0.0)
        self.fig.rss.append((start, rss_kb(self.pid)))
        background = [asyncio.create_task(self.schedule(rate)), pinger]
        churners = [asyncio.create_task(self.churn(c)) for c in self.clients]
        extra = asyncio.create_task(during(start)) if during is not None else None
        await asyncio.sleep(duration)
        end = time.perf_counter()
        self.fig.window = (start, end)
        self.fig.rss.append((end, rss_kb(self.pid)))
        self.stopping.set()
        await asyncio.gather(*background, *churners)
        if extra is not None:
            await extra
        try:
            await asyncio.wait_for(self.pending.zero.wait(), 15.0)
        except TimeoutError:
            pass
        await asyncio.gather(*self.tasks)
        self.fig.lost = len(self.inflight)
        if self.inflight:
            self.fig.error(f"{len(self.inflight)} messages never arrived")
        sampler.cancel()
        for c in self.clients:
            if c.state == "on":
                await self.leave(c, True, churn=False)
        await self.session.close()

    def rss_at(self, t: float) -> int:
        return min(self.fig.rss, key=lambda s: abs(s[0] - t))[1]


# --- scoring and the opening, over the JSON API -------------------------------------------------


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.slowest: dict[str, tuple[float, str]] = {}

    async def call(self, who: dict[str, Any], method: str, path: str, what: str, expect: int = 200, **kw: Any) -> Any:
        headers = {**who["headers"], **kw.pop("headers", {})}
        start = time.perf_counter()
        async with self.session.request(method, f"{self.base}{path}", headers=headers, **kw) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        took = time.perf_counter() - start
        self.latency[what].append(took)
        if took > self.slowest.get(what, (0.0, ""))[0]:
            self.slowest[what] = (took, f"{method} {path}")
        if resp.status != expect:
            self.errors.append(f"{method} {path}: {resp.status} {body.get('error') if isinstance(body, dict) else body[:200]}")
            return None
        return body


class Scoring:
    """The committee (the same five drawn experts on every scoring tender) plays one evaluation."""

    def __init__(self, api: Api, agency: dict[str, Any], experts: list[dict[str, Any]]) -> None:
        from tests.evaluation.session_fixtures import Keys

        self.api, self.agency, self.experts, self.keys = api, agency, experts, Keys()
        self.viewing: str | None = None

    async def play(self, tender_id: str, kind: str) -> bool:
        from tests.evaluation.session_fixtures import sheets_doc

        call, base = self.api.call, f"/api/evaluation/{tender_id}"
        body = await call(self.agency, "POST", f"{base}/start", kind, 201, json={})
        if body is None:
            return False
        self.viewing = tender_id
        bids = body["bids"]

        async def check_in(e: dict[str, Any]) -> Any:
            await call(e, "GET", base, kind)
            return await call(e, "POST", f"{base}/checkin", kind, 201, json=self.keys.checkin(e["id"], bids))

        if None in await asyncio.gather(*(check_in(e) for e in self.experts)):
            return False
        for e in self.experts[:3]:
            body = await call(e, "POST", f"{base}/votes", kind, 201, json={"candidate": self.experts[0]["id"]})
            if body is None:
                return False
        if body["state"] != "scoring":
            self.api.errors.append(f"{tender_id}: {body['state']} after the votes, not scoring")
            return False
        scores = {b["bid"]: {"c2": "40", "c3": "15"} for b in body["bids"]}

        async def score(e: dict[str, Any]) -> Any:
            await call(e, "GET", base, kind)
            text, signature = sheets_doc(self.keys, tender_id, e["id"], scores)
            return await call(e, "POST", f"{base}/sheets", f"{kind} sheets", 201, json={"document": text, "signature": signature})

        done = await asyncio.gather(*(score(e) for e in self.experts))
        if None in done:
            return False
        last = max(done, key=lambda b: len(b["sheets"]))
        if last["state"] != "review":
            self.api.errors.append(f"{tender_id}: {last['state']} after every sheet, not review")
            return False
        return True

    async def poll(self, kind: str, stop: asyncio.Event) -> None:
        """Each expert's evaluation page refreshes its view every 2 s."""
        async def one(e: dict[str, Any]) -> None:
            await asyncio.sleep(random.uniform(0, 2))
            while not stop.is_set():
                if self.viewing is not None:
                    await self.api.call(e, "GET", f"/api/evaluation/{self.viewing}", kind)
                try:
                    await asyncio.wait_for(stop.wait(), 2.0)
                except TimeoutError:
                    pass

        await asyncio.gather(*(one(e) for e in self.experts))


@dataclass
class OpeningResult:
    seconds: float = float("nan")
    opened: int = 0
    rows: int = 0
    streamed: int = 0
    blobs: list[bytes] = field(default_factory=list)
    round: int = 0
    chain: Any = None


async def opening(api: Api, agency: dict[str, Any], bidders: list[dict[str, Any]], bid_kb: int, lead: float) -> OpeningResult:
    """Publish a tender opening in `lead` s, seal and upload one bid per bidder, and follow the hall."""
    from crypto import tlock
    from crypto.chain import ChainInfo
    from evaluation.tenders.bid_container import build_container

    out = OpeningResult()
    body = {"title": "并发开标", "budget_fen": 1, "opening_time": int(time.time() + lead), "min_bids": 3,
            "max_bid_bytes": 2 * bid_kb * 1024 + (1 << 20), "objection_window_s": 60}
    tender = await api.call(agency, "POST", "/api/tenders", "opening", 201, json=body)
    if tender is None:
        return out
    tender = await api.call(agency, "POST", f"/api/tenders/{tender['id']}/publish", "opening")
    if tender is None:
        return out
    info = await api.call(agency, "GET", f"/beacon/{tender['chain']}/info", "opening")
    chain = ChainInfo.from_json(info)
    chain.check_hash()
    out.round, out.chain = tender["opening_round"], chain

    def seal_all() -> list[bytes]:
        sealed = []
        for n in range(len(bidders)):
            plain = build_container({"total_price": f"{1000 + n}.00", "delivery_days": 30}, [("标书.bin", os.urandom(bid_kb * 1024))])
            buf = io.BytesIO()
            tlock.seal(io.BytesIO(plain), buf, chain, out.round)
            sealed.append(buf.getvalue())
        return sealed

    out.blobs = await asyncio.to_thread(seal_all)
    gate = asyncio.Semaphore(16)

    async def upload(n: int) -> None:
        async with gate:
            await api.call(bidders[n], "PUT", f"/api/tenders/{tender['id']}/bid", "upload", 201, data=out.blobs[n],
                           headers={"Content-Type": "application/octet-stream"})

    await asyncio.gather(*(upload(n) for n in range(len(bidders))))
    if time.time() >= tender["opening_unix"]:
        api.errors.append(f"the uploads ended past the opening time: raise the lead ({lead:.0f} s)")
        return out
    hall = f"{api.base}/api/tenders/{tender['id']}/hall/ws"
    async with api.session.ws_connect(hall, headers={"Cookie": agency["headers"]["Cookie"], "Origin": api.base}) as ws:
        while True:
            event = await ws.receive_json(timeout=120)
            if event["type"] == "record.bid":
                out.streamed += 1
            elif event["type"] in ("record.final", "failed"):
                done = time.time()
                break
    if event["type"] == "failed":
        api.errors.append(f"the opening failed: {event.get('reason')}")
        return out
    out.seconds = done - chain.time_of(out.round)
    record = await api.call(agency, "GET", f"/api/tenders/{tender['id']}/record", "opening")
    if record is not None:
        out.rows = len(record["rows"])
        out.opened = sum(1 for row in record["rows"] if row["status"] == "opened")
    return out


def decrypt_alone(result: OpeningResult, beacon_dir: Path) -> float:
    """The limit of the opening: the same bids decrypted here, one after another, on an idle machine."""
    from crypto import tlock
    from crypto.beacon import LocalBeacon

    signature = LocalBeacon.load(beacon_dir).signature(result.round)
    assert signature is not None
    start = time.perf_counter()
    for blob in result.blobs:
        tlock.unseal(io.BytesIO(blob), io.BytesIO(), result.chain, signature)
    return time.perf_counter() - start


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PINGBIAO_DATA_DIR": str(data_dir), "PINGBIAO_DATABASE_URL": database_url,
           "PINGBIAO_ALLOW_LOCAL_BEACON": "true", "PINGBIAO_JANUS": "off", "PINGBIAO_ALLOW_UNRECORDED": "true", "PINGBIAO_LOG_LEVEL": "WARNING",
           "PINGBIAO_LOG_ORIGIN": "soak.pingbiao.local/audit"}
    env.pop("PINGBIAO_CONFIG", None)
    return env


def spawn_bare() -> tuple[subprocess.Popen[str], int]:
    """bench/bench_signaling.py's bare relay in its own process; it serves until its stdin closes."""
    proc = subprocess.Popen([sys.executable, str(HERE / "bench_signaling.py"), "--serve", "bare"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    pin(proc.pid, 0)
    return proc, int(proc.stdout.readline())  # type: ignore[union-attr]


def spawn_server(data_dir: Path, database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`pingbiao serve` on the installation the seed made, its log in `log`."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=server_env(data_dir, database_url), cwd=ROOT, stdout=out, stderr=out)
    pin(proc.pid, 0)
    return proc


async def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(f"pingbiao serve exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                async with s.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("pingbiao serve did not become ready in 60 s")


def server_problems(log: Path) -> tuple[list[str], list[str]]:
    """Lines the server logged at ERROR or above and tracebacks; and the first traceback in full."""
    lines = log.read_text(errors="replace").splitlines()
    found = [line for line in lines if " ERROR " in line or " CRITICAL " in line or "Traceback" in line
             or line.startswith(("ERROR", "CRITICAL"))]
    first = next((i for i, line in enumerate(lines) if "Traceback" in line), None)
    return found, [] if first is None else lines[max(0, first - 2): first + 60]


# --- the run ------------------------------------------------------------------------------------


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    from soak_seed import seed

    from tests.pg import scratch_databases

    async with scratch_databases("soak") as scratch:
        db = scratch.url(await scratch.make())
        with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
            data_dir = Path(tmp) / "data"
            t0 = time.perf_counter()
            people = await seed(data_dir, db, rooms=args.rooms, per_room=args.per_room, bidders=args.bids,
                                scoring=args.scoring + 1)
            say(f"seeded in {time.perf_counter() - t0:.0f} s")
            return await measure(args, people, data_dir, db, Path(tmp))


async def measure(args: argparse.Namespace, people: dict[str, Any], data_dir: Path, db: str, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"load": [os.getloadavg()[0]]}
    # 1. the limit: the same booth load on a bare relay (on the servers' CPU)
    bare, port = spawn_bare()
    try:
        booths = Booths("bare", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", bare.pid, people["rooms"])
        booths.life = args.life
        await booths.run(args.rate, args.bare_duration)
        out["bare"] = booths
    finally:
        bare.stdin.close()  # type: ignore[union-attr]
        bare.wait(timeout=20)
    say("bare relay measured")

    # 2. pingbiao serve
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    server = spawn_server(data_dir, db, port, log)
    try:
        await wait_ready(base, server, log)
        say("pingbiao serve ready")
        api = Api(base)
        scoring = Scoring(api, people["agency"], people["experts"])
        # 2a. scoring alone on the idle server: its limit
        stop = asyncio.Event()
        poller = asyncio.create_task(scoring.poll("idle", stop))
        out["idle_ok"] = await scoring.play(people["scoring"][0], "idle")
        stop.set()
        await poller
        say("idle scoring measured")
        # 2b. the soak
        booths = Booths("ours", base, base.replace("http", "ws"), server.pid, people["rooms"])
        booths.life = args.life
        results: dict[str, Any] = {"scored": 0}

        async def during(start: float) -> None:
            stop = asyncio.Event()
            poller = asyncio.create_task(scoring.poll("soak", stop))
            lead = args.opening_lead

            async def open_bids() -> None:
                await asyncio.sleep(args.duration * 0.05)
                results["opening"] = await opening(api, people["agency"], people["bidders"], args.bid_kb, lead)
                say("opening done")

            async def score() -> None:
                tenders = people["scoring"][1:]
                for i, tender_id in enumerate(tenders):
                    await asyncio.sleep(max(0.0, start + (i + 0.5) * args.duration / len(tenders) - time.perf_counter()))
                    results["scored"] += await scoring.play(tender_id, "soak")

            for failed in await asyncio.gather(open_bids(), score(), return_exceptions=True):
                if failed is not None:
                    api.errors.append(f"the opening or the scoring stopped: {failed!r}")
            stop.set()
            await poller

        await booths.run(args.rate, args.duration, during)
        say("soak done")
        out["ours"], out["results"], out["api"] = booths, results, api
        out["rss_before_ramp"] = booths.fig.rss[0][1]
        await api.session.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    out["load"].append(os.getloadavg()[0])
    out["server_problems"], out["traceback"] = server_problems(log)
    opened = out["results"].get("opening")
    out["decrypt_s"] = decrypt_alone(opened, data_dir / "beacon") if opened is not None and opened.blobs else float("nan")
    return out


def report(args: argparse.Namespace, out: dict[str, Any]) -> int:
    b, o = out["bare"], out["ours"]
    bf, of = b.fig, o.fig
    api: Api = out["api"]
    res = out["results"]
    op: OpeningResult = res.get("opening") or OpeningResult()
    n = sum(len(r) for r in o.rooms)

    def rate(f: Figures) -> float:
        start, end = f.window
        return f.relays_in_window / (end - start)

    def rss_points(booths: Booths) -> tuple[int, int, int]:
        start, end = booths.fig.window
        return booths.rss_at(start), booths.rss_at((start + end) / 2), booths.rss_at(end)

    ms = 1000.0
    print(f"soak: {len(o.rooms)} rooms × {len(o.rooms[0])} participants = {n} booth clients, {args.rate:,.0f} steady messages/s "
          f"offered, each leaving or dropping after {args.life[0]:.0f}–{args.life[1]:.0f} s; {args.duration:.0f} s on pingbiao serve "
          f"(PostgreSQL, local beacon), {args.bare_duration:.0f} s on the bare relay")
    if len(CORES) < 2:
        print("warning: fewer than 2 CPUs: server and load generator share one; compare ratios only")
    print(f"machine: {len(CORES)} CPUs, load average {out['load'][0]:.1f} before the bare relay, {out['load'][1]:.1f} after "
          "the soak (other work shares the machine when it exceeds 2)")
    print(f"{'':40}{'pingbiao':>12}{'limit':>12}   limit measured how")
    print(f"{'message latency p50, ms':40}{quantile(of.latencies, 50) * ms:12.2f}{quantile(bf.latencies, 50) * ms:12.2f}"
          f"   bare relay, same load and generator")
    print(f"{'message latency p99, ms':40}{quantile(of.latencies, 99) * ms:12.2f}{quantile(bf.latencies, 99) * ms:12.2f}"
          f"   bare relay, same load and generator")
    print(f"{'relays/s (offers, answers, candidates)':40}{rate(of):12,.0f}{rate(bf):12,.0f}   bare relay, same schedule")
    print(f"{'ramp: every client joined once, s':40}{o.ramp_s:12.1f}{b.ramp_s:12.1f}   (16 joining at a time)")
    print(f"{'joins / of them resumed':40}{of.joins:>12,}{bf.joins:>12,}   ({of.resumed} resumed; leaves {of.leaves}, "
          f"drops {of.drops}; presence events {sum(of.presence.values()):,})")
    if not op.blobs:
        print(f"{'opening, s':40}{'not run':>12}")
    else:
        print(f"{'opening of ' + str(len(op.blobs)) + ' bids, s (round → final)':40}{op.seconds:12.2f}{out['decrypt_s']:12.2f}"
              f"   decrypting the same bids alone, one core; goal ≤ {OPENING_GOAL_S:.1f} s")
        print(f"{'  bids opened / in the record':40}{op.opened:>12}{op.rows:>12}   ({op.streamed} streamed as record.bid; "
              f"{args.bid_kb} KB each; upload p50/p99 {quantile(api.latency['upload'], 50) * ms:.0f}/"
              f"{quantile(api.latency['upload'], 99) * ms:.0f} ms)")
    soak_q, idle_q = api.latency["soak"] + api.latency["soak sheets"], api.latency["idle"] + api.latency["idle sheets"]
    print(f"{'scoring request p99, ms':40}{quantile(soak_q, 99) * ms:12.1f}{quantile(idle_q, 99) * ms:12.1f}"
          f"   same requests on the idle server ({len(soak_q)} / {len(idle_q)} requests)")
    print(f"{'  sheets submission p99, ms':40}{quantile(api.latency['soak sheets'], 99) * ms:12.1f}"
          f"{quantile(api.latency['idle sheets'], 99) * ms:12.1f}   ({len(api.latency['soak sheets'])} / "
          f"{len(api.latency['idle sheets'])}; evaluations completed {res['scored']} + {int(out['idle_ok'])} idle)")
    os_, om, oe = rss_points(o)
    bs, bm, be = rss_points(b)
    growth, bgrowth = (oe - om) / om, (be - bm) / bm
    print(f"{'server RSS start / middle / end, MB':40}{f'{os_ / 1024:.0f}/{om / 1024:.0f}/{oe / 1024:.0f}':>12}"
          f"{f'{bs / 1024:.0f}/{bm / 1024:.0f}/{be / 1024:.0f}':>12}   bare relay (before its ramp: "
          f"{b.fig.rss[0][1] / 1024:.0f} MB; ours {out['rss_before_ramp'] / 1024:.0f} MB)")
    print(f"{'  RSS middle → end':40}{growth:12.1%}{bgrowth:12.1%}   goal ≤ {FLAT:.0%} ({'flat' if growth <= FLAT else 'GROWING'})")
    start, end = o.fig.window
    tenths = " ".join(f"{o.rss_at(start + k * (end - start) / 10) / 1024:.0f}" for k in range(11))
    print(f"{'  RSS at each tenth of the soak, MB':40}   {tenths}")
    errors = of.errors + api.errors + out["server_problems"]
    print(f"{'errors':40}{len(errors):12}{len(bf.errors):12}   goal 0 (error frames, refusals, unexpected closes, lost, "
          f"server log errors)")
    print(f"{'cross-room / misdelivered / lost':40}{f'{of.cross_room}/{of.misdelivered}/{of.lost}':>12}"
          f"{f'{bf.cross_room}/{bf.misdelivered}/{bf.lost}':>12}   goal 0/0/0")
    kinds: dict[str, int] = defaultdict(int)
    for line in errors + bf.errors:
        kinds[re.sub(r"acct_[0-9a-f]+|T-[0-9a-f]+|\d+(\.\d+)?", "…", line)[:200]] += 1
    for kind, count in sorted(kinds.items(), key=lambda k: -k[1])[:15]:
        print(f"  {count:5} × {kind}")
    examples: dict[str, str] = {}
    for line in errors + bf.errors:
        examples.setdefault(re.sub(r"acct_[0-9a-f]+|T-[0-9a-f]+|\d+(\.\d+)?", "…", line)[:200], line)
    for kind, _ in sorted(kinds.items(), key=lambda k: -k[1])[:5]:
        print(f"  e.g. {examples[kind][:300]}")
    for line in out["traceback"]:
        print(f"  server: {line[:300]}")
    for what, (took, call) in sorted(api.slowest.items()):
        if took > 1.0:
            print(f"  slowest {what} request: {took:.1f} s, {call[:120]}")
    summary = {"errors": len(errors), "bare_errors": len(bf.errors), "cross_room": of.cross_room, "misdelivered": of.misdelivered,
               "lost": of.lost, "bids": len(op.blobs), "opened": op.opened, "rows": op.rows, "rss_middle_kb": om, "rss_end_kb": oe,
               "relays": of.relays, "joins": of.joins, "leaves": of.leaves, "drops": of.drops, "resumed": of.resumed,
               "scored": res["scored"], "idle_scored": int(out["idle_ok"])}
    print("summary " + json.dumps(summary))
    return 0 if not errors and not bf.errors and not (of.cross_room or of.misdelivered or of.lost) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of soak on pingbiao serve")
    parser.add_argument("--short", action="store_true", help="the short form: 4 rooms, 10 bids, 15 s (the suite runs it)")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--per-room", type=int, default=11)
    parser.add_argument("--bids", type=int, default=200)
    parser.add_argument("--bid-kb", type=int, default=64)
    parser.add_argument("--rate", type=float, default=300.0, help="steady booth messages per second, all rooms together")
    parser.add_argument("--life", type=float, nargs=2, default=LIFE, metavar=("MIN", "MAX"),
                        help="seconds a participant stays before it leaves or drops its socket and rejoins")
    parser.add_argument("--scoring", type=int, default=6, help="evaluations played during the soak (one more alone before)")
    args = parser.parse_args()
    if args.short:
        args.duration, args.rooms, args.bids, args.rate, args.scoring, args.life = 15.0, 4, 10, 150.0, 1, (5.0, 20.0)
    args.bare_duration = max(5.0, min(30.0, args.duration / 4))
    args.opening_lead = 20.0 + args.bids * 0.5  # the uploads must end before the opening, on a busy machine too
    pin(0, 1)
    out = asyncio.run(soak(args))
    sys.exit(report(args, out))


if __name__ == "__main__":
    main()
