"""Faults a booth session survives (评标舱故障演练), with signaling in several processes:

* the Redis of the bus killed and started again while participants sit on both processes;
* one of two `pingbiao serve` processes killed (SIGKILL) behind nginx (the stack's config; a scratch
  PostgreSQL database): its booth clients reconnect through the other one;
* fuzzed frames from clients on two processes and in two rooms.

Every service is a private one of the test, on free ports in a temporary directory (never a Redis
shared with anything else). Waiting is for events (a message, a log line, a key), bounded by deadlines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.client import Closed, SignalingClient
from signaling.codes import CloseCode, ErrorCode, Role
from signaling.messages import (
    Answer,
    Error,
    MuteRequested,
    Offer,
    PeerBack,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    Pong,
    RelayedAnswer,
    RelayedCandidate,
    RelayedIceRestart,
    RelayedOffer,
    Removed,
    ServerMessage,
)
from signaling.tokens import TokenSigner
from signaling.wire import Message

from ..conftest import need
from ..signaling import test_fuzz as fz  # its strategies and oracle (docs/signaling.md), not its test

ROOT = Path(__file__).resolve().parents[2]
SECRET = bytes(range(7, 39))
PREFIX = "pingbiao-faults:"
SIGNER = TokenSigner(SECRET)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `check` until it holds (each poll waits for the loop, not for a guessed time)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


# --- a private Redis --------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """redis-server on a free loopback port, data in memory only (a restart forgets everything)."""

    exe: str
    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _spawn(self) -> None:
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
                 "--appendonly", "no", "--protected-mode", "yes"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    async def start(self) -> None:
        self._spawn()
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        async def answers() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, (self.dir / "redis.log").read_text()[-2000:]
            try:
                return bool(await client.ping())
            except (OSError, aioredis.RedisError):
                return False

        try:
            await _until(answers, "redis-server answers PING")
        finally:
            await client.aclose()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    exe = shutil.which("redis-server")
    need(exe is not None, "redis-server is not installed (a private Redis is started for this test)")
    assert exe is not None
    redis = PrivateRedis(exe, _free_port(), tmp_path)
    await redis.start()
    try:
        yield redis
    finally:
        redis.stop()


# --- signaling processes whose log the test reads -----------------------------------------------------


@dataclass
class Proc:
    """A `python -m signaling` process logging JSON lines to a file."""

    name: str
    port: int
    log: Path
    proc: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "unstructured", "line": line})
        return out

    def logged(self, event: str) -> int:
        return sum(1 for e in self.events() if e.get("event") == event)

    def tracebacks(self) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [e["exc"] for e in self.events() if "exc" in e] + [
            e["line"] for e in self.events() if e.get("event") == "unstructured" and "Traceback" in e["line"]
        ] + (["a traceback outside a JSON line"] if "Traceback" in text and '"exc"' not in text else [])


@asynccontextmanager
async def signaling_procs(tmp: Path, bus: str, n: int = 2, *args: str,
                          ports: list[int] | None = None) -> AsyncIterator[list[Proc]]:
    env = {**os.environ, "PINGBIAO_SIGNALING_SECRET": SECRET.hex(), "PYTHONPATH": str(ROOT)}
    procs: list[Proc] = []
    started: list[tuple[Path, asyncio.subprocess.Process]] = []
    try:
        for i in range(n):  # all at once: each takes a few seconds to import
            log = tmp / f"signaling{i + 1}.log"
            port = ports[i] if ports else 0
            with log.open("ab") as err:
                started.append((log, await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "signaling", "--host", "127.0.0.1", "--port", str(port), "--bus", bus,
                    "--prefix", PREFIX, "--log-level", "INFO", "--log-format", "json", *args,
                    env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=err,
                )))
        for i, (log, proc) in enumerate(started):
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 30.0)).decode().split()
            assert line[:1] == ["listening"], f"signaling process did not start: {log.read_text()[-2000:]}"
            procs.append(Proc(f"signaling{i + 1}", int(line[2]), log, proc))
        yield procs
    finally:
        for _, proc in started:
            if proc.returncode is None:
                proc.terminate()
        for _, proc in started:
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def token(room: str, account: str, role: Role = Role.EXPERT) -> str:
    return SIGNER.issue(room, account, role, account.title(), 120)


# --- clients that remember everything they received -----------------------------------------------------


@dataclass
class Seat:
    """One participant: its current client, and every message any of its sockets received."""

    room: str
    account: str
    role: Role = Role.EXPERT
    signer: TokenSigner = SIGNER
    client: SignalingClient | None = None
    got: list[ServerMessage] = field(default_factory=list)

    async def connect(self, base: str, session: aiohttp.ClientSession | None = None) -> SignalingClient:
        if self.client is not None:
            self.got += self.client.skipped
        self.client = await SignalingClient.connect(
            f"{base}/rooms/{self.room}", self.signer.issue(self.room, self.account, self.role, self.account.title(), 120),
            session=session)
        return self.client

    async def expect(self, kind: type[Any], check: Callable[[Any], bool] = lambda m: True, timeout: float = 10.0) -> Any:
        """Read until a `kind` message satisfying `check` arrives; everything read is kept in `got`."""
        assert self.client is not None
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.client.recv(timeout)
                self.got.append(msg)
                if type(msg) is kind and check(msg):
                    return msg

    async def send(self, msg: Message) -> None:
        assert self.client is not None
        await self.client.send(msg)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def named(msg: ServerMessage) -> set[str]:
    """The participants a server message names."""
    out = {getattr(msg, a) for a in ("from_", "by", "id") if isinstance(getattr(msg, a, None), str)}
    if isinstance(msg, PeerJoined):
        out.add(msg.peer.id)
    return out


def assert_no_cross_room(seats: list[Seat]) -> None:
    rooms: dict[str, set[str]] = {}
    for s in seats:
        rooms.setdefault(s.room, set()).add(s.account)
    for s in seats:
        for m in s.got + (s.client.skipped if s.client else []):
            assert named(m) <= rooms[s.room], f"{s.account} in {s.room} got {m}: it crossed rooms"


async def relay_both_ways(a: Seat, b: Seat, tag: str) -> None:
    await a.send(Offer(b.account, f"v=0 {tag}"))
    await b.expect(RelayedOffer, lambda m: m == RelayedOffer(a.account, f"v=0 {tag}"))
    await b.send(Answer(a.account, f"v=0 {tag}"))
    await a.expect(RelayedAnswer, lambda m: m == RelayedAnswer(b.account, f"v=0 {tag}"))


# --- 1. Redis killed and started again during a session ------------------------------------------------


@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_booth_survives_a_redis_restart(private_redis: PrivateRedis, tmp_path: Path) -> None:
    async with signaling_procs(tmp_path, private_redis.url, 2, "--grace", "30", "--lease", "3") as (one, two):
        seats = [Seat("r1", "alice", Role.HOST), Seat("r1", "bob"), Seat("r2", "carol", Role.HOST), Seat("r2", "dave")]
        alice, bob, carol, dave = seats
        frank = Seat("r1", "frank")
        redis = aioredis.Redis.from_url(private_redis.url)
        try:
            await alice.connect(one.url)
            await bob.connect(two.url)
            await alice.expect(PeerJoined, lambda m: m.peer.id == "bob")
            await carol.connect(two.url)
            await dave.connect(one.url)
            await carol.expect(PeerJoined, lambda m: m.peer.id == "dave")
            await relay_both_ways(alice, bob, "before")
            await relay_both_ways(dave, carol, "before")

            private_redis.kill()
            await _until(lambda: one.logged("bus connection lost") and two.logged("bus connection lost"),
                         "both processes log the lost bus")
            # while it is down: a relay is refused with a documented error, the socket stays open
            await alice.send(Offer("bob", "v=0 during"))
            refused = await alice.expect(Error)
            assert (refused.code, refused.ref) == (ErrorCode.PEER_UNAVAILABLE, "offer"), refused
            with pytest.raises(Closed) as joining:  # a join cannot take a place: "try again later"
                await frank.connect(two.url)
            assert joining.value.code == CloseCode.TRY_AGAIN_LATER
            await dave.close()  # dave's network drops while the bus is down: he keeps his place
            await _until(lambda: one.logged("socket lost while the bus is unavailable"), "dave's loss is noticed")

            await private_redis.start()  # empty: every place and subscription is gone from Redis
            await _until(lambda: one.logged("bus connection restored") and two.logged("bus connection restored"),
                         "both processes log the restored bus")

            async def both_subscribed() -> bool:
                subs = dict(await redis.pubsub_numsub(f"{PREFIX}room:r1", f"{PREFIX}room:r2"))
                return set(subs.values()) == {2}

            await _until(both_subscribed, "both processes subscribed to both rooms again")
            members = {r: sorted(k.decode() for k in await redis.hkeys(f"{PREFIX}members:{r}"))  # type: ignore[misc]
                       for r in ("r1", "r2")}
            assert members == {"r1": ["alice", "bob"], "r2": ["carol", "dave"]}
            await carol.expect(PeerReconnecting, lambda m: m.id == "dave")  # told once the bus is back
            await dave.connect(two.url)  # back through the other process, within his grace period
            assert dave.client is not None and dave.client.welcome is not None and dave.client.welcome.resumed
            await carol.expect(PeerBack, lambda m: m.id == "dave")

            # relays cross processes again, both ways, in both rooms
            await relay_both_ways(alice, bob, "after")
            await relay_both_ways(bob, alice, "after2")
            await relay_both_ways(carol, dave, "after")
            # presence: a newcomer through either process sees who is there; they see it
            await frank.connect(two.url)
            assert frank.client is not None and frank.client.welcome is not None
            assert sorted(p.id for p in frank.client.welcome.participants) == ["alice", "bob"]
            await alice.expect(PeerJoined, lambda m: m.peer.id == "frank")
            await bob.expect(PeerJoined, lambda m: m.peer.id == "frank")
            erin = Seat("r2", "erin")
            await erin.connect(one.url)
            assert erin.client is not None and erin.client.welcome is not None
            assert sorted(p.id for p in erin.client.welcome.participants) == ["carol", "dave"]
            await carol.expect(PeerJoined, lambda m: m.peer.id == "erin")
            seats += [frank, erin]

            for s in seats:  # read what is left, up to a pong, then check nothing crossed rooms
                assert s.client is not None
                await s.send(Offer("zed", "v=0"))
                await s.expect(Error, lambda m: m.code is ErrorCode.UNKNOWN_PEER)
            assert_no_cross_room(seats)
            assert not [m for s in seats for m in s.got if isinstance(m, PeerLeft)]  # nobody lost a place

            for p in (one, two):
                assert p.proc.returncode is None, f"{p.name} exited"
                lost = [e for e in p.events() if e.get("event") == "bus connection lost"]
                assert lost and lost[0]["level"] == "error" and lost[0]["proc"] and lost[0]["error"], lost
                assert p.logged("places restored after a bus outage") >= 1
                assert p.tracebacks() == [], (p.name, p.tracebacks()[:3])
        finally:
            await redis.aclose()
            for s in [*seats, frank]:
                await s.close()


# --- 2. one app process killed behind nginx -------------------------------------------------------------


@dataclass
class PrivateNginx:
    """Debian's nginx with the production config (web/ops/stack.py nginx_conf) on a free port."""

    port: int
    cert: Path
    proc: subprocess.Popen[bytes]

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def _start_nginx(exe: str, root: Path, upstreams: list[str]) -> PrivateNginx:
    from web.cli.stack import self_signed
    from web.ops import stack

    root.mkdir()
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / "tmp" / name).mkdir(parents=True)
    cert, key = root / "cert.pem", root / "key.pem"
    self_signed(cert, key, "127.0.0.1")
    port = _free_port()
    conf = root / "nginx.conf"
    conf.write_text(stack.nginx_conf(stack.Nginx(
        https_port=port, upstreams=tuple(upstreams), certificate=str(cert), certificate_key=str(key), prefix=str(root),
        listen_host="127.0.0.1", run_as_root=os.geteuid() == 0,
    )))
    args = [exe, "-p", str(root), "-c", str(conf)]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    with (root / "nginx.out").open("ab") as out:
        proc = subprocess.Popen([*args, "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return PrivateNginx(port, cert, proc)


def _joins(procs: list[Proc], account: str) -> list[Proc]:
    """The processes that logged `account` joining, oldest first."""
    out = [(e["ts"], i, p) for i, p in enumerate(procs) for e in p.events()
           if e.get("event") == "joined" and e.get("account") == account]
    return [p for _, _, p in sorted(out, key=lambda x: (x[0], x[1]))]


async def _process_of(procs: list[Proc], account: str, joins: int = 1) -> Proc:
    """The process holding `account`'s place after its `joins`-th join (once it has logged it)."""
    await _until(lambda: len(_joins(procs, account)) >= joins, f"{account}'s join no. {joins} is logged")
    return _joins(procs, account)[joins - 1]


@asynccontextmanager
async def app_processes(tmp: Path, bus: str, database: str, n: int = 2) -> AsyncIterator[list[Proc]]:
    """`pingbiao serve` processes as `pingbiao stack` runs them (web/ops/stack.py app_environment;
    one data directory), one after the other: the first creates the keys and migrates."""
    from web.ops import stack

    env = {**os.environ, **stack.app_environment(
        database_url=database, bus_url=bus, turn_host="127.0.0.1", turn_port=_free_port(), turn_secret="t" * 24,
        janus_url="off", public_url="https://localhost"), "PINGBIAO_DATA_DIR": str(tmp / "data"),
        "PINGBIAO_BOOTH_GRACE": "30", "PYTHONPATH": str(ROOT)}
    procs: list[Proc] = []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(n):
                port, log = _free_port(), tmp / f"app{i + 1}.log"
                with log.open("ab") as err:
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "web.cli", "serve", "--data-dir", str(tmp / "data"), "--host", "127.0.0.1",
                        "--port", str(port), env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=err)
                procs.append(Proc(f"app{i + 1}", port, log, proc))

                async def ready(proc: asyncio.subprocess.Process = proc, port: int = port, log: Path = log) -> bool:
                    assert proc.returncode is None, log.read_text()[-3000:]
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                            return r.status == 200
                    except aiohttp.ClientConnectionError:
                        return False

                await _until(ready, f"app{i + 1} is ready", timeout=90.0)
        yield procs
    finally:
        for p in procs:
            if p.proc.returncode is None:
                p.proc.terminate()
        for p in procs:
            try:
                await asyncio.wait_for(p.proc.wait(), 20.0)
            except TimeoutError:
                p.proc.kill()
                await p.proc.wait()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    from tests.pg import scratch_databases

    async with scratch_databases("t_faults") as scratch:
        yield scratch.url(await scratch.make())


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_booth_clients_move_to_the_other_app_process_when_one_is_killed(
    private_redis: PrivateRedis, database: str, tmp_path: Path
) -> None:
    nginx_exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    need(nginx_exe is not None, "nginx is not installed (Debian package nginx)")
    assert nginx_exe is not None
    lease = 15.0  # the apps' default (bus_lease): places of a dead process are released after it
    async with app_processes(tmp_path, private_redis.url, database) as procs:
        nginx = _start_nginx(nginx_exe, tmp_path / "nginx", [f"127.0.0.1:{p.port}" for p in procs])
        signer = TokenSigner((tmp_path / "data" / "signaling.key").read_bytes())  # what web/ issues passes with
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=nginx.ssl_context()))
        base = f"wss://127.0.0.1:{nginx.port}/signaling"
        room = "faults-booth"
        seats = [Seat(room, "alice", Role.HOST, signer), Seat(room, "bob", signer=signer),
                 Seat(room, "carol", signer=signer), Seat(room, "dave", Role.SUPERVISOR, signer)]
        try:
            async def nginx_up() -> bool:
                assert nginx.proc.poll() is None, (tmp_path / "nginx" / "error.log").read_text()[-2000:]
                try:
                    async with http.get(f"https://127.0.0.1:{nginx.port}/readyz") as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await _until(nginx_up, "nginx serves the apps' /readyz over TLS")
            for s in seats:  # least connections: they spread over both processes
                await s.connect(base, session=http)
            held = {s.account: await _process_of(procs, s.account) for s in seats}
            assert {p.name for p in held.values()} == {"app1", "app2"}, held
            victim = held["bob"]
            moving = [s for s in seats if held[s.account] is victim]
            staying = [s for s in seats if held[s.account] is not victim]
            await relay_both_ways(staying[0], moving[0], "before")

            victim.proc.send_signal(signal.SIGKILL)  # no goodbye: its sockets just break
            await victim.proc.wait()
            killed = time.monotonic()
            for s in moving:  # what booth.js does: the socket is lost, join again through nginx
                assert s.client is not None
                code = await s.client.closed(timeout=10.0)
                assert code is None or code >= 1001, code
                await s.close()

                async def rejoined(s: Seat = s) -> bool:
                    try:
                        await s.connect(base, session=http)
                        return True
                    except (aiohttp.ClientError, Closed, TimeoutError):
                        return False

                await _until(rejoined, f"{s.account} rejoins through nginx", timeout=5.0)
                assert s.client is not None and s.client.welcome is not None
                assert s.client.welcome.resumed, s.account  # its place was kept, not taken anew
                assert sorted(p.id for p in s.client.welcome.participants) == sorted(
                    o.account for o in seats if o is not s)
            back = time.monotonic() - killed
            print(f"clients of the killed app process back through the other one after {back:.2f} s (lease {lease:g} s)")
            survivor = next(p for p in procs if p is not victim)
            for s in moving:
                assert await _process_of(procs, s.account, 2) is survivor
                for o in staying:
                    await o.expect(PeerBack, lambda m, s=s: m.id == s.account)
            for a in seats:  # every pair talks again
                for b in seats:
                    if a.account < b.account:
                        await relay_both_ways(a, b, "after")
            erin = Seat(room, "erin", signer=signer)  # a newcomer sees everyone, all connected
            await erin.connect(base, session=http)
            assert erin.client is not None and erin.client.welcome is not None
            assert sorted(p.id for p in erin.client.welcome.participants) == sorted(s.account for s in seats)
            assert all(p.state == "connected" for p in erin.client.welcome.participants)
            seats.append(erin)
            redis = aioredis.Redis.from_url(private_redis.url)
            try:
                members = await redis.hgetall(f"pingbiao:signaling:members:{room}")  # type: ignore[misc]
            finally:
                await redis.aclose()
            assert sorted(k.decode() for k in members) == sorted(s.account for s in seats)
            procs_holding = {json.loads(v)["proc"] for v in members.values()}
            assert len(procs_holding) == 1, members  # all on the survivor: nothing left to the dead lease
            for s in seats:
                await s.send(Offer("zed", "v=0"))
                await s.expect(Error, lambda m: m.code is ErrorCode.UNKNOWN_PEER)
                assert not [m for m in s.got if isinstance(m, PeerLeft)], (s.account, s.got)
            assert survivor.proc.returncode is None
            assert survivor.tracebacks() == [], survivor.tracebacks()[:3]
            problems = [e for e in survivor.events() if e.get("level") in ("error", "critical")]
            assert problems == [], problems[:3]
        finally:
            for s in seats:
                await s.close()
            await http.close()
            nginx.proc.terminate()
            nginx.proc.wait(10)


# --- 3. fuzzed frames with the room spread over two processes --------------------------------------------


@dataclass
class Spread:
    """Two signaling processes on one private Redis, for every fuzz example (module-wide)."""

    loop: asyncio.AbstractEventLoop
    procs: list[Proc]
    lines: dict[str, int] = field(default_factory=dict)  # log lines already checked, per process
    rooms: Iterator[int] = field(default_factory=itertools.count)

    def new_log_problems(self) -> list[str]:
        """Errors, tracebacks and unstructured lines logged since the last call."""
        out = []
        for p in self.procs:
            events = p.events()
            fresh, self.lines[p.name] = events[self.lines.get(p.name, 0):], len(events)
            out += [f"{p.name}: {e}" for e in fresh
                    if e.get("level") in ("error", "critical") or "exc" in e or e.get("event") == "unstructured"]
        return out


@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spread]:
    exe = shutil.which("redis-server")
    need(exe is not None, "redis-server is not installed (a private Redis is started for this test)")
    assert exe is not None
    tmp = tmp_path_factory.mktemp("fuzz")
    loop = asyncio.new_event_loop()
    redis = PrivateRedis(exe, _free_port(), tmp)
    loop.run_until_complete(redis.start())
    procs = signaling_procs(tmp, redis.url, 2, "--max-message-bytes", str(fz.LIMIT), "--rate", "1000000",
                            "--burst", "100000", "--heartbeat", "60", "--grace", "0.5", "--log-level", "WARNING")
    try:
        running = loop.run_until_complete(procs.__aenter__())
        yield Spread(loop, running)
    finally:
        loop.run_until_complete(procs.__aexit__(None, None, None))
        redis.stop()
        loop.close()


async def spread_scenario(h: Spread, sender: int, first_unjoined: bool, sent: list[str | bytes]) -> None:
    """tests/signaling/test_fuzz.py's scenario with each room's two participants on different
    processes (alice, dave on the first; bob, carol on the second), so relays cross Redis."""
    n = next(h.rooms)
    room_of = {pid: f"sp{n}-{i}" for i, members in enumerate(fz.ROOMS) for pid in members}
    base = {pid: h.procs[0 if pid in ("alice", "dave") else 1].url + "/rooms/" for pid in fz.IDS}
    clients: dict[str, SignalingClient] = {}
    try:
        for i, pid in enumerate(fz.IDS):
            role = Role.HOST if i % 2 == 0 else Role.EXPERT
            clients[pid] = await SignalingClient.connect(base[pid] + room_of[pid], token(room_of[pid], pid, role))
        for a, b in (("alice", "bob"), ("carol", "dave")):  # the later joiner is known on the other process
            while not any(isinstance(m, PeerJoined) and m.peer.id == b for m in clients[a].skipped):
                clients[a].skipped.append(await clients[a].recv(5.0))
        received: dict[str, list[ServerMessage]] = {pid: [] for pid in clients}
        me = fz.IDS[sender]
        mates = [p for p in fz.IDS if room_of[p] == room_of[me] and p != me]
        deliveries: Counter[tuple[str, str]] = Counter()
        frames_left = list(sent)
        if first_unjoined:
            frame = frames_left.pop(0)
            fresh = await SignalingClient.connect(base[me] + room_of[me])
            want = fz.expected(frame, joined=False)
            try:
                await (fresh.ws.send_bytes(frame) if isinstance(frame, bytes) else fresh.send_raw(frame))
            except ConnectionError:
                pass
            assert await fresh.closed() in want.close, (frame, want)
            await fresh.close()
        open_ = True
        for frame in frames_left:
            want = fz.expected(frame, joined=True)
            client = clients[me]
            try:
                await (client.ws.send_bytes(frame) if isinstance(frame, bytes) else client.send_raw(frame))
            except ConnectionError:
                pass
            got, code = await fz._until_pong(client)
            received[me].extend(got)
            errors = [m for m in got if isinstance(m, Error)]
            msg = want.value if isinstance(want.value, dict) else {}
            kind = msg.get("type") if isinstance(msg.get("type"), str) else None
            if want.close:
                assert code in want.close, (frame[:200], code, got)
                open_ = False
                break
            if want.error is not None:
                assert [e.code for e in errors] == [want.error], (frame[:200], got)
                if want.error is ErrorCode.BAD_JSON:
                    text = errors[0].message
                    assert text in fz.BAD_JSON_TEXTS or text.startswith("message is not valid Unicode: lone surrogate"), text
            else:
                assert len(errors) <= 1 and not {e.code for e in errors} & {ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE}, (
                    frame[:200], got)
                assert {e.code for e in errors} <= set(ErrorCode), errors  # documented codes only
                if not errors and kind in fz.RELAYED and msg.get("to") in mates:
                    deliveries[(msg["to"], kind)] += 1
                if not errors and kind == "ping":
                    ts = msg.get("ts")
                    assert Pong(None if ts is None else float(ts)) in got, (frame, got)
            if code is not None:
                assert (code, kind) == (1000, "leave"), (frame[:200], code)
                open_ = False
                break
        mate = mates[0]
        barrier = f"v=0 barrier {n}"
        if open_ and not clients[mate].ws.closed:  # a last relay through Redis: what came before it is in
            await clients[me].send(Offer(mate, barrier))
        for pid in fz.IDS:
            if pid == me:
                continue
            got, code = await fz._until_pong(clients[pid])
            received[pid].extend(got)
            if pid == mate and code is None and open_:
                async with asyncio.timeout(5.0):
                    while RelayedOffer(me, barrier) not in received[pid]:
                        received[pid].append(await clients[pid].recv(5.0))
        for pid, msgs in received.items():
            room_mates = {p for p in fz.IDS if room_of[p] == room_of[pid]}
            for m in msgs:
                assert fz._named(m) <= room_mates, f"{pid} in {room_of[pid]} got {m}: it crossed rooms"
                assert isinstance(m, DOCUMENTED_REPLIES), m  # the client's parser read it: a documented message
        for (to, kind), count in deliveries.items():
            arrived = [m for m in received[to] if isinstance(m, fz.RELAYED[kind]) and m.TYPE == kind and m.from_ == me]
            assert len(arrived) >= count, (to, kind, count, arrived)
    finally:
        for client in clients.values():
            await client.close()


DOCUMENTED_REPLIES = (Error, Pong, RelayedOffer, RelayedCandidate, RelayedIceRestart, MuteRequested, Removed, PeerLeft,
                      PeerJoined, PeerReconnecting)
EXAMPLES = int(os.environ.get("PINGBIAO_FUZZ_EXAMPLES", "60"))  # a longer run: PINGBIAO_FUZZ_EXAMPLES=1000


@pytest.mark.redis
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sender=st.integers(0, 3), first_unjoined=st.booleans(), sent=st.lists(fz.frames(), min_size=1, max_size=5))
def test_fuzzed_frames_across_processes_are_answered_and_stay_in_their_room(
    spread: Spread, sender: int, first_unjoined: bool, sent: list[str | bytes]
) -> None:
    spread.loop.run_until_complete(spread_scenario(spread, sender, first_unjoined, sent))
    for p in spread.procs:
        assert p.proc.returncode is None, f"{p.name} exited"
    assert spread.new_log_problems() == []
