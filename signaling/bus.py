"""The room registry and relay bus shared by every server process: in memory or on Redis.

The registry holds each room's members (id, name, role, state, connection epoch) and the accounts
the host removed; claims are atomic, so capacity and "same participant replaces its old socket"
hold across processes. Events (`BusEvent`) are published per room; every process that has local
connections in that room receives them and delivers to its own sockets. `MemoryBus` serves one
process (the default); `RedisBus` uses a Redis hash per room, Lua scripts for the atomic steps, and
pub/sub per room, so peers joined through different processes reach each other.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from signaling.codes import Role

log = logging.getLogger("pingbiao.signaling.bus")
BAN_TTL_SECONDS = 24 * 3600
RECONNECT_PAUSES = (0.05, 0.1, 0.2, 0.5, 1.0)  # seconds between attempts to reach Redis again (then 1 s)


class BusUnavailable(Exception):
    """The shared registry and bus (Redis) cannot be reached now; the operation did not happen."""


@dataclass(frozen=True, slots=True)
class Member:
    """A participant's place in a room, as the registry holds it."""

    id: str
    name: str
    role: Role
    state: str  # "connected" or "reconnecting"
    epoch: str  # identifies the connection currently holding the place
    proc: str = ""  # the server process holding it (Redis: its liveness lease; "" in memory)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "role": self.role.value}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Member:
        d = json.loads(text)
        return cls(d["id"], d["name"], Role(d["role"]), d["state"], d["epoch"], d.get("proc") or "")


class Claim(enum.Enum):
    """Outcome of claiming a place."""

    JOINED = "joined"  # a new place
    TAKEN = "taken"  # the participant already had a place; this connection now holds it
    FULL = "full"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class BusEvent:
    """Something for the sockets of one room.

    kind "send": deliver `text` to `to` (or to everyone but `exclude` when `to` is None).
    kind "replace": close `to`'s connection unless its epoch is `epoch` (a newer one took over).
    kind "remove": send `text` to `to`, then close it with 4005 and forget its place.
    kind "restored": a process is back from a bus outage; each process tells the room again about
    its places in their grace period (what it published before that process listened is lost).
    """

    kind: str
    text: str = ""
    to: str | None = None
    exclude: str | None = None
    epoch: str = ""

    def encode(self) -> str:
        return json.dumps([self.kind, self.text, self.to, self.exclude, self.epoch], separators=(",", ":"))

    @classmethod
    def decode(cls, data: str | bytes) -> BusEvent:
        kind, text, to, exclude, epoch = json.loads(data)
        return cls(kind, text, to, exclude, epoch)


Deliver = Callable[[str, BusEvent], Awaitable[None]]
Restore = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class Bus(abc.ABC):
    """Registry and pub/sub. `start(deliver, restore)` first; `deliver(room, event)` gets subscribed
    rooms' events; `restore()` is awaited after the bus came back from an outage (it re-registers
    this process's places, which a restarted Redis no longer holds)."""

    deliver: Deliver
    restore: Restore = staticmethod(_nothing)
    lease: float | None = None  # seconds a dead process's members outlive it (None: one process)

    async def start(self, deliver: Deliver, restore: Restore | None = None) -> None:
        self.deliver = deliver
        if restore is not None:
            self.restore = restore

    async def close(self) -> None:
        return None

    @abc.abstractmethod
    async def subscribe(self, room: str) -> None:
        """Receive `room`'s events from now on (returns once the subscription is active)."""

    @abc.abstractmethod
    async def unsubscribe(self, room: str) -> None: ...

    @abc.abstractmethod
    async def publish(self, room: str, event: BusEvent) -> None: ...

    @abc.abstractmethod
    async def claim(self, room: str, member: Member, capacity: int) -> tuple[Claim, Member | None]:
        """Atomically give `member` its place: (JOINED, None), (TAKEN, previous), FULL or BANNED."""

    @abc.abstractmethod
    async def set_state(self, room: str, id: str, epoch: str, state: str) -> bool:
        """Set the state of `id` if connection `epoch` still holds its place."""

    @abc.abstractmethod
    async def release(self, room: str, id: str, epoch: str = "") -> Member | None:
        """Free the place of `id` (only if held by `epoch`, when given); the released member."""

    @abc.abstractmethod
    async def member(self, room: str, id: str) -> Member | None: ...

    @abc.abstractmethod
    async def members(self, room: str) -> list[Member]: ...

    @abc.abstractmethod
    async def ban(self, room: str, id: str) -> None:
        """Refuse future claims of `id` in `room` (in memory: until the room empties; Redis: 24 h)."""

    async def reap(self, room: str) -> list[Member]:
        """Release the places in `room` held by server processes that died; the released members."""
        return []

    async def reinstate(self, room: str, member: Member) -> bool:
        """After an outage: put `member` back as this process holds it, unless another connection
        holds its place now (False). Capacity is not checked: the place was held before."""
        return True


class MemoryBus(Bus):
    """Everything in this process's memory: one server process."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Member]] = {}
        self._bans: dict[str, set[str]] = {}
        self._subscribed: set[str] = set()

    async def subscribe(self, room: str) -> None:
        self._subscribed.add(room)

    async def unsubscribe(self, room: str) -> None:
        self._subscribed.discard(room)

    async def publish(self, room: str, event: BusEvent) -> None:
        if room in self._subscribed:
            await self.deliver(room, event)

    async def claim(self, room: str, member: Member, capacity: int) -> tuple[Claim, Member | None]:
        if member.id in self._bans.get(room, ()):
            return Claim.BANNED, None
        places = self._rooms.setdefault(room, {})
        old = places.get(member.id)
        if old is None and len(places) >= capacity:
            if not places:
                del self._rooms[room]
            return Claim.FULL, None
        places[member.id] = member
        return (Claim.JOINED, None) if old is None else (Claim.TAKEN, old)

    async def set_state(self, room: str, id: str, epoch: str, state: str) -> bool:
        places = self._rooms.get(room, {})
        old = places.get(id)
        if old is None or old.epoch != epoch:
            return False
        places[id] = replace(old, state=state)
        return True

    async def release(self, room: str, id: str, epoch: str = "") -> Member | None:
        places = self._rooms.get(room, {})
        old = places.get(id)
        if old is None or (epoch and old.epoch != epoch):
            return None
        del places[id]
        if not places:
            self._rooms.pop(room, None)
            self._bans.pop(room, None)
        return old

    async def member(self, room: str, id: str) -> Member | None:
        return self._rooms.get(room, {}).get(id)

    async def members(self, room: str) -> list[Member]:
        return list(self._rooms.get(room, {}).values())

    async def ban(self, room: str, id: str) -> None:
        self._bans.setdefault(room, set()).add(id)


_CLAIM = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {'banned'} end
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if not old then return {'joined'} end
return {'taken', old}
"""
_SET_STATE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local m = cjson.decode(old)
if m['epoch'] ~= ARGV[2] then return 0 end
m['state'] = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
return 1
"""
_REAP = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1])['proc'] == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(out, all[i + 1])
  end
end
return out
"""
_RELEASE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return false end
if ARGV[2] ~= '' and cjson.decode(old)['epoch'] ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return old
"""
_REINSTATE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and cjson.decode(old)['epoch'] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


class RedisBus(Bus):
    """Registry and pub/sub on Redis (redis.asyncio), for several server processes.

    Keys: `<prefix>members:<room>` (hash id → member JSON), `<prefix>ban:<room>` (set),
    `<prefix>alive:<proc>` (this process's liveness lease), channel `<prefix>room:<room>`. One
    pub/sub connection per process, read by one task.

    Every member entry names the process holding it (`proc`). Each process renews its lease key
    (TTL `lease`) every `lease / 3` seconds; once a process is gone (crashed, killed, cut off) its
    key expires and `reap` — run before each claim and periodically for the rooms this process
    serves — releases its members, so a crash does not keep places taken forever.

    When Redis goes away (restarted, unreachable), every operation raises `BusUnavailable` at
    once instead of waiting; the reader keeps trying to reach Redis again, and once it answers it
    subscribes to the rooms again, renews the lease and awaits `restore` (a restarted Redis has
    forgotten every place). The outage and the recovery are logged.
    """

    def __init__(self, url: str, prefix: str = "pingbiao:signaling:", lease: float = 15.0) -> None:
        if lease <= 0:
            raise ValueError("the bus lease must be positive")
        # a few quick retries only: during an outage callers get BusUnavailable, the reader retries
        retry = Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.2), retries=2)
        # a Redis that stops answering (cut off rather than stopped) counts as unavailable after 5 s
        self._redis = aioredis.Redis.from_url(url, retry=retry, socket_connect_timeout=2.0, socket_timeout=5.0)
        self._prefix = prefix
        self.lease = lease
        self.proc = uuid.uuid4().hex[:16]  # this process, in member entries and its lease key
        self._heartbeat: asyncio.Task[None] | None = None
        self._pubsub = self._redis.pubsub()
        self._reader: asyncio.Task[None] | None = None
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self._claim = self._redis.register_script(_CLAIM)
        self._set_state = self._redis.register_script(_SET_STATE)
        self._release = self._redis.register_script(_RELEASE)
        self._reap = self._redis.register_script(_REAP)
        self._reinstate = self._redis.register_script(_REINSTATE)
        self.outages = 0  # times the reader lost Redis (tests and logs)

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Redis's connection errors as `BusUnavailable` (one exception for the rooms to handle)."""
        try:
            yield
        except (OSError, aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            raise BusUnavailable(repr(exc)) from exc

    def _members_key(self, room: str) -> str:
        return f"{self._prefix}members:{room}"

    def _channel(self, room: str) -> str:
        return f"{self._prefix}room:{room}"

    def _alive_key(self, proc: str) -> str:
        return f"{self._prefix}alive:{proc}"

    async def _renew(self) -> None:
        await self._redis.set(self._alive_key(self.proc), b"1", px=max(1, int(self.lease * 1000)))

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._renew()
            except (OSError, aioredis.RedisError) as exc:  # retried at the next beat
                log.warning("lease renewal failed", extra={"proc": self.proc, "error": repr(exc)})

    async def start(self, deliver: Deliver, restore: Restore | None = None) -> None:
        await super().start(deliver, restore)
        await self._redis.ping()
        await self._renew()
        self._heartbeat = asyncio.create_task(self._keep_alive(), name="signaling-redis-lease")
        # A channel of its own keeps the pub/sub connection subscribed, so the reader never idles.
        await self._pubsub.subscribe(f"{self._prefix}process")
        self._reader = asyncio.create_task(self._read(), name="signaling-redis-reader")

    async def close(self) -> None:
        # The lease is left to expire rather than deleted: clients of this process reconnect
        # elsewhere within it and resume their places; the others are reaped after it.
        for task in (self._reader, self._heartbeat):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._redis.aclose()

    async def _read(self) -> None:
        """Read the pub/sub connection for ever: through outages of Redis too (`_recover`)."""
        while True:
            try:
                await self._read_messages()
            except (OSError, aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                self.outages += 1
                log.error("bus connection lost", extra={"proc": self.proc, "error": repr(exc)})
            await self._recover()

    async def _recover(self) -> None:
        """Reach Redis again: resubscribe (redis-py does it on connecting), renew the lease, then
        let the rooms put back their places. Retries until it succeeds; logs each step."""
        started = asyncio.get_running_loop().time()
        for attempt in itertools.count():
            await asyncio.sleep(RECONNECT_PAUSES[min(attempt, len(RECONNECT_PAUSES) - 1)])
            try:
                await self._redis.ping()
                await self._pubsub.connect()  # reconnects; its callback subscribes to every channel again
                await self._renew()
                await self.restore()
            except (OSError, aioredis.ConnectionError, aioredis.TimeoutError, BusUnavailable) as exc:
                if attempt % 20 == 0:
                    log.warning("bus still unavailable", extra={"proc": self.proc, "error": repr(exc),
                                                                 "attempts": attempt + 1})
                continue
            took = round(asyncio.get_running_loop().time() - started, 3)
            log.warning("bus connection restored", extra={"proc": self.proc, "seconds": took})
            return

    async def _read_messages(self) -> None:
        room_at = len(self._prefix) + len("room:")
        while True:
            msg = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            if msg is None:
                continue
            channel = msg["channel"].decode()
            if msg["type"] == "subscribe":
                fut = self._confirm.pop(channel, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            elif msg["type"] == "message" and channel.startswith(self._prefix + "room:"):
                try:
                    await self.deliver(channel[room_at:], BusEvent.decode(msg["data"]))
                except Exception as exc:  # one bad event must not stop the reader
                    log.error("bus delivery failed", extra={"channel": channel, "error": repr(exc)})

    async def subscribe(self, room: str) -> None:
        channel = self._channel(room)
        fut = asyncio.get_running_loop().create_future()
        self._confirm[channel] = fut
        async with self._guard():
            try:
                await self._pubsub.subscribe(channel)
                await asyncio.wait_for(fut, 5.0)
            finally:
                if self._confirm.get(channel) is fut:
                    del self._confirm[channel]

    async def unsubscribe(self, room: str) -> None:
        async with self._guard():
            await self._pubsub.unsubscribe(self._channel(room))

    async def publish(self, room: str, event: BusEvent) -> None:
        async with self._guard():
            await self._redis.publish(self._channel(room), event.encode())

    async def claim(self, room: str, member: Member, capacity: int) -> tuple[Claim, Member | None]:
        keys = [self._members_key(room), f"{self._prefix}ban:{room}"]
        member = replace(member, proc=self.proc)
        async with self._guard():
            out = await self._claim(keys=keys, args=[member.id, member.to_json(), capacity])
        outcome = Claim(out[0].decode())
        return outcome, (Member.from_json(out[1]) if len(out) > 1 else None)

    async def set_state(self, room: str, id: str, epoch: str, state: str) -> bool:
        async with self._guard():
            return bool(await self._set_state(keys=[self._members_key(room)], args=[id, epoch, state]))

    async def release(self, room: str, id: str, epoch: str = "") -> Member | None:
        async with self._guard():
            old = await self._release(keys=[self._members_key(room)], args=[id, epoch])
        return Member.from_json(old) if old else None

    async def member(self, room: str, id: str) -> Member | None:
        async with self._guard():
            raw = await self._redis.hget(self._members_key(room), id)  # type: ignore[misc]
        return Member.from_json(raw) if raw else None

    async def members(self, room: str) -> list[Member]:
        async with self._guard():
            raw = await self._redis.hgetall(self._members_key(room))  # type: ignore[misc]
        return [Member.from_json(v) for v in raw.values()]

    async def ban(self, room: str, id: str) -> None:
        key = f"{self._prefix}ban:{room}"
        async with self._guard():
            await self._redis.sadd(key, id)  # type: ignore[misc]
            await self._redis.expire(key, BAN_TTL_SECONDS)

    async def reinstate(self, room: str, member: Member) -> bool:
        member = replace(member, proc=self.proc)
        async with self._guard():
            done = await self._reinstate(keys=[self._members_key(room)], args=[member.id, member.epoch, member.to_json()])
        return bool(done)

    async def reap(self, room: str) -> list[Member]:
        members = await self.members(room)
        procs = sorted({m.proc for m in members if m.proc and m.proc != self.proc})
        if not procs:
            return []
        gone: list[Member] = []
        for proc in procs:  # the script re-checks the lease: a process alive after all keeps its members
            async with self._guard():
                out = await self._reap(keys=[self._members_key(room), self._alive_key(proc)], args=[proc])
            gone += [Member.from_json(raw) for raw in out]
        if gone:
            log.warning("released places of a dead server process", extra={"room": room, "ids": [m.id for m in gone]})
        return gone


def make_bus(url: str, prefix: str, lease: float = 15.0) -> Bus:
    """`MemoryBus` for an empty url, `RedisBus` for redis:// or rediss:// urls."""
    if not url:
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url, prefix, lease)
    raise ValueError(f"unsupported bus url scheme: {url.split(':', 1)[0]}")
