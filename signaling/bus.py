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
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace

import redis.asyncio as aioredis

from signaling.codes import Role

log = logging.getLogger("pingbiao.signaling.bus")
BAN_TTL_SECONDS = 24 * 3600


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


class Bus(abc.ABC):
    """Registry and pub/sub. `start(deliver)` first; `deliver(room, event)` gets subscribed rooms' events."""

    deliver: Deliver
    lease: float | None = None  # seconds a dead process's members outlive it (None: one process)

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver

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


class RedisBus(Bus):
    """Registry and pub/sub on Redis (redis.asyncio), for several server processes.

    Keys: `<prefix>members:<room>` (hash id → member JSON), `<prefix>ban:<room>` (set),
    `<prefix>alive:<proc>` (this process's liveness lease), channel `<prefix>room:<room>`. One
    pub/sub connection per process, read by one task.

    Every member entry names the process holding it (`proc`). Each process renews its lease key
    (TTL `lease`) every `lease / 3` seconds; once a process is gone (crashed, killed, cut off) its
    key expires and `reap` — run before each claim and periodically for the rooms this process
    serves — releases its members, so a crash does not keep places taken forever.
    """

    def __init__(self, url: str, prefix: str = "pingbiao:signaling:", lease: float = 15.0) -> None:
        if lease <= 0:
            raise ValueError("the bus lease must be positive")
        self._redis = aioredis.Redis.from_url(url)
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
                log.error("lease renewal failed", extra={"proc": self.proc, "error": repr(exc)})

    async def start(self, deliver: Deliver) -> None:
        await super().start(deliver)
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
        await self._pubsub.subscribe(channel)
        await asyncio.wait_for(fut, 5.0)

    async def unsubscribe(self, room: str) -> None:
        await self._pubsub.unsubscribe(self._channel(room))

    async def publish(self, room: str, event: BusEvent) -> None:
        await self._redis.publish(self._channel(room), event.encode())

    async def claim(self, room: str, member: Member, capacity: int) -> tuple[Claim, Member | None]:
        keys = [self._members_key(room), f"{self._prefix}ban:{room}"]
        member = replace(member, proc=self.proc)
        out = await self._claim(keys=keys, args=[member.id, member.to_json(), capacity])
        outcome = Claim(out[0].decode())
        return outcome, (Member.from_json(out[1]) if len(out) > 1 else None)

    async def set_state(self, room: str, id: str, epoch: str, state: str) -> bool:
        return bool(await self._set_state(keys=[self._members_key(room)], args=[id, epoch, state]))

    async def release(self, room: str, id: str, epoch: str = "") -> Member | None:
        old = await self._release(keys=[self._members_key(room)], args=[id, epoch])
        return Member.from_json(old) if old else None

    async def member(self, room: str, id: str) -> Member | None:
        raw = await self._redis.hget(self._members_key(room), id)  # type: ignore[misc]
        return Member.from_json(raw) if raw else None

    async def members(self, room: str) -> list[Member]:
        raw = await self._redis.hgetall(self._members_key(room))  # type: ignore[misc]
        return [Member.from_json(v) for v in raw.values()]

    async def ban(self, room: str, id: str) -> None:
        key = f"{self._prefix}ban:{room}"
        await self._redis.sadd(key, id)  # type: ignore[misc]
        await self._redis.expire(key, BAN_TTL_SECONDS)

    async def reap(self, room: str) -> list[Member]:
        members = await self.members(room)
        procs = sorted({m.proc for m in members if m.proc and m.proc != self.proc})
        if not procs:
            return []
        gone: list[Member] = []
        for proc in procs:  # the script re-checks the lease: a process alive after all keeps its members
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
