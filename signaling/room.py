"""Rooms as this process sees them: a state machine per participant, and the room operations.

The registry (signaling.bus) is the truth about who holds a place; this module keeps, per room,
the participants whose connection this process holds (or held, during their grace period), and
turns joins, losses, leaves, relays and host actions into registry changes, bus events and hooks.

Participant states::

    connected ──socket lost──▶ reconnecting ──back within grace──▶ connected
        │                           │──grace over──▶ left
        ├──leave──▶ left            ├──host removes──▶ removed
        ├──host removes──▶ removed  └──came back through another process──▶ moved
        └──came back through another process──▶ moved
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import Any, NamedTuple

from signaling.bus import Bus, BusEvent, BusUnavailable, Claim, Member
from signaling.codes import CloseCode, ErrorCode, LeaveReason, Role
from signaling.config import SignalingConfig
from signaling.connection import Connection
from signaling.hooks import SignalingHooks, call_hook
from signaling.messages import (
    Answer,
    Candidate,
    Error,
    IceRestart,
    MediaState,
    Mute,
    MuteRequested,
    Offer,
    PeerBack,
    PeerJoined,
    PeerLeft,
    PeerMedia,
    PeerReconnecting,
    Remove,
    Removed,
    Welcome,
    relay_text,
)
from signaling.tokens import RoomToken
from signaling.wire import PeerInfo, ProtocolError

log = logging.getLogger("pingbiao.signaling")


class ParticipantState(enum.Enum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    LEFT = "left"
    REMOVED = "removed"
    MOVED = "moved"  # its place is now held by a connection on another process


_TRANSITIONS: dict[ParticipantState, frozenset[ParticipantState]] = {
    ParticipantState.CONNECTED: frozenset(
        {ParticipantState.RECONNECTING, ParticipantState.LEFT, ParticipantState.REMOVED, ParticipantState.MOVED}
    ),
    ParticipantState.RECONNECTING: frozenset(
        {ParticipantState.CONNECTED, ParticipantState.LEFT, ParticipantState.REMOVED, ParticipantState.MOVED}
    ),
    ParticipantState.LEFT: frozenset(),
    ParticipantState.REMOVED: frozenset(),
    ParticipantState.MOVED: frozenset(),
}


class InvalidStateError(Exception):
    """A transition the participant state machine does not allow."""


class JoinRefused(Exception):
    """A join that must be refused with a close code."""

    def __init__(self, code: CloseCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Participant:
    """One participant whose place this process holds. `states` lists every state it was in."""

    __slots__ = ("room", "id", "name", "role", "conn", "epoch", "deadline", "_state", "states")

    def __init__(self, room: str, grant: RoomToken, conn: Connection[Participant]) -> None:
        self.room = room
        self.id = grant.account
        self.name = grant.name
        self.role = grant.role
        self.conn: Connection[Participant] | None = conn
        self.epoch = conn.epoch  # of the connection that holds (or last held) the place
        self.deadline = 0.0  # monotonic time the grace period ends, while reconnecting
        self._state = ParticipantState.CONNECTED
        self.states = [ParticipantState.CONNECTED]

    @property
    def state(self) -> ParticipantState:
        return self._state

    def set_state(self, new: ParticipantState) -> None:
        """The one place the state changes: checked, logged, recorded."""
        if new not in _TRANSITIONS[self._state]:
            raise InvalidStateError(f'cannot go to "{new.value}" in state "{self._state.value}"')
        log.info(
            "participant %s -> %s", self._state.value, new.value, extra={"room": self.room, "account": self.id}
        )
        self._state = new
        self.states.append(new)


class EndedPlace(NamedTuple):
    """What is kept of a place that ended in this process: who, where, the states it went through."""

    room: str
    id: str
    states: tuple[ParticipantState, ...]


ENDED_KEPT = 256
"""Ended places remembered (tests and diagnostics read them): a bounded history, never the
participant itself, which holds its socket and buffers (keeping those leaked ~5 KB a join)."""


def _epoch() -> str:
    return uuid.uuid4().hex[:16]


class Rooms:
    """The room operations of one server process, over a shared `Bus`."""

    def __init__(self, config: SignalingConfig, bus: Bus, hooks: SignalingHooks) -> None:
        self.config = config
        self.bus = bus
        self.hooks = hooks
        self.local: dict[str, dict[str, Participant]] = {}  # room → id → participant held here
        self.gone: deque[EndedPlace] = deque(maxlen=ENDED_KEPT)  # the latest places that ended here
        self.background: set[asyncio.Task[None]] = set()  # closes in progress (cancelled at cleanup)

    new_epoch = staticmethod(_epoch)

    # --- local bookkeeping ---------------------------------------------------------------------------

    async def _forget(self, p: Participant) -> None:
        places = self.local.get(p.room)
        if places is not None and places.get(p.id) is p:
            del places[p.id]
            self.gone.append(EndedPlace(p.room, p.id, tuple(p.states)))
            if not places:
                del self.local[p.room]
                try:
                    await self.bus.unsubscribe(p.room)
                except BusUnavailable:  # stale events for the room are ignored (`deliver`)
                    log.warning("unsubscribe failed: bus unavailable", extra={"room": p.room})

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a socket close apart: a dead client's close handshake must not hold anyone up."""
        task = asyncio.create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background close failed", exc_info=exc)

    async def _close(self, conn: Connection[Participant], code: CloseCode, message: str, reason: str, last: str = "") -> None:
        conn.end_reason = reason
        try:
            if last:
                await conn.send(last)
        finally:  # the socket closes whatever happened to its last message
            await conn.close(code, message, reason)

    async def _hook(self, name: str, room: str, account: str, role: Role, reason: str) -> None:
        await call_hook(self.hooks, name, room, account, role, reason)

    # --- join, loss, leave ---------------------------------------------------------------------------

    async def join(self, grant: RoomToken, conn: Connection[Participant]) -> None:
        """Give `conn` the participant's place, send the welcome, tell the others (or `JoinRefused`)."""
        room, pid = grant.room, grant.account
        if room not in self.local:
            self.local[room] = {}
            try:
                await self.bus.subscribe(room)
            except BaseException:  # not subscribed: the next join must try again
                if not self.local.get(room):
                    self.local.pop(room, None)
                raise
        me = Member(pid, grant.name, grant.role, "connected", conn.epoch)
        try:
            await self.reap(room)  # places held by a dead server process do not count
            outcome, previous = await self.bus.claim(room, me, self.config.capacity)
        except BaseException:
            if not self.local.get(room):
                self.local.pop(room, None)
            raise
        if outcome in (Claim.FULL, Claim.BANNED):
            if not self.local.get(room):
                self.local.pop(room, None)
                await self.bus.unsubscribe(room)
            if outcome is Claim.FULL:
                raise JoinRefused(CloseCode.ROOM_FULL, f"room is full ({self.config.capacity} places)")
            raise JoinRefused(CloseCode.REMOVED, "you were removed from this room")
        conn.hold()
        p = self.local[room].get(pid)
        if p is None:
            p = Participant(room, grant, conn)
            self.local[room][pid] = p
        else:  # this process held the place: a live socket is replaced, or a lost one comes back
            old = p.conn
            p.conn, p.epoch = conn, conn.epoch
            if old is not None:
                old.end_reason = "replaced"
                self._spawn(self._close(old, CloseCode.REPLACED, "replaced by a newer connection", "replaced"))
            if p.state is ParticipantState.RECONNECTING:
                p.set_state(ParticipantState.CONNECTED)
        conn.participant = p
        others = [m for m in await self.bus.members(room) if m.id != pid]
        resumed = previous is not None
        await conn.ws.send_str(
            Welcome(
                pid, room, grant.role, grant.name,
                tuple(PeerInfo(m.id, m.name, m.role, m.state) for m in others),
                self.config.ice.servers_for(pid),
                self.config.grace, self.config.heartbeat, self.config.max_message_bytes, resumed,
            ).to_json()
        )
        await conn.release()
        if previous is None:
            await self.bus.publish(room, BusEvent("send", PeerJoined(PeerInfo(pid, grant.name, grant.role)).to_json(), exclude=pid))
            await self._hook("on_join", room, pid, grant.role, "joined")
        else:
            await self.bus.publish(room, BusEvent("replace", to=pid, epoch=conn.epoch))
            await self.bus.publish(room, BusEvent("send", PeerBack(pid).to_json(), exclude=pid))
            why = "back" if previous.state == "reconnecting" else "replaced"
            await self._hook("on_reconnect", room, pid, grant.role, why)
        log.info("joined", extra={"room": room, "account": pid, "role": grant.role.value, "resumed": resumed})

    async def ended(self, conn: Connection[Participant]) -> None:
        """The socket of `conn` is closed: start the grace period unless it left, was removed or replaced."""
        p = conn.participant
        if p is None or p.conn is not conn or p.state is not ParticipantState.CONNECTED:
            return
        p.conn = None
        try:
            held = await self.bus.set_state(p.room, p.id, conn.epoch, "reconnecting")
        except BusUnavailable:  # its grace period runs here; `restore` tells the registry and the others
            log.warning("socket lost while the bus is unavailable", extra={"room": p.room, "account": p.id})
            held = True
        if not held:
            p.set_state(ParticipantState.MOVED)
            await self._forget(p)
            return
        p.deadline = time.monotonic() + self.config.grace
        p.set_state(ParticipantState.RECONNECTING)
        await self._hook("on_reconnect", p.room, p.id, p.role, conn.end_reason)
        try:
            await self.bus.publish(p.room, BusEvent("send", PeerReconnecting(p.id).to_json(), exclude=p.id))
        except BusUnavailable:
            pass  # `restore` sends it once the bus is back

    async def leave(self, conn: Connection[Participant]) -> None:
        """`leave`: release the place now, no grace period."""
        p = conn.participant
        assert p is not None
        conn.end_reason = "left"
        if await self.bus.release(p.room, p.id, conn.epoch) is not None:
            p.set_state(ParticipantState.LEFT)
            await self._forget(p)
            await self.bus.publish(p.room, BusEvent("send", PeerLeft(p.id, LeaveReason.LEFT).to_json(), exclude=p.id))
            await self._hook("on_leave", p.room, p.id, p.role, "left")

    async def expire(self, now: float) -> None:
        """Release the places whose grace period is over."""
        due = [
            p for places in self.local.values() for p in places.values()
            if p.state is ParticipantState.RECONNECTING and p.deadline <= now
        ]
        for p in due:
            released = await self.bus.release(p.room, p.id, p.epoch)
            if released is not None:
                p.set_state(ParticipantState.LEFT)
                await self._forget(p)
                await self.bus.publish(
                    p.room, BusEvent("send", PeerLeft(p.id, LeaveReason.TIMEOUT).to_json(), exclude=p.id)
                )
                await self._hook("on_leave", p.room, p.id, p.role, "timeout")
            else:  # a newer connection (through another process) holds the place
                p.set_state(ParticipantState.MOVED)
                await self._forget(p)

    async def reap(self, room: str) -> None:
        """Release the places in `room` of server processes whose lease expired (crashed): the
        others get `peer-left` (timeout) and `on_leave` runs here, as the dead process cannot."""
        for m in await self.bus.reap(room):
            await self.bus.publish(room, BusEvent("send", PeerLeft(m.id, LeaveReason.TIMEOUT).to_json(), exclude=m.id))
            await self._hook("on_leave", room, m.id, m.role, "timeout")

    async def restore(self) -> None:
        """After a bus outage (Redis restarted or unreachable): put back in the registry every place
        this process holds, as it holds them, and tell the rooms about places that went into their
        grace period meanwhile. A place another connection took over in the meantime is left to it."""
        restored = moved = 0
        for room, places in list(self.local.items()):
            for p in list(places.values()):
                if p.state not in (ParticipantState.CONNECTED, ParticipantState.RECONNECTING):
                    continue
                state = "connected" if p.conn is not None else "reconnecting"
                if await self.bus.reinstate(room, Member(p.id, p.name, p.role, state, p.epoch)):
                    restored += 1
                    if state == "reconnecting":
                        await self.bus.publish(room, BusEvent("send", PeerReconnecting(p.id).to_json(), exclude=p.id))
                    continue
                moved += 1
                old, p.conn = p.conn, None
                p.set_state(ParticipantState.MOVED)
                await self._forget(p)
                if old is not None:
                    old.end_reason = "replaced"
                    self._spawn(self._close(old, CloseCode.REPLACED, "replaced by a newer connection", "replaced"))
        for room in list(self.local):  # the others re-announce theirs, now that this process listens
            await self.bus.publish(room, BusEvent("restored"))
        log.warning("places restored after a bus outage", extra={"restored": restored, "moved": moved})

    async def reap_all(self) -> None:
        """`reap` every room this process has participants in."""
        for room in list(self.local):
            await self.reap(room)

    # --- relay and host actions ----------------------------------------------------------------------

    async def _target(self, room: str, sender: str, to: str) -> Member:
        if to == sender:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "cannot address yourself")
        m = await self.bus.member(room, to)
        if m is None:
            raise ProtocolError(ErrorCode.UNKNOWN_PEER, f'no participant "{to}" in this room')
        return m

    async def relay(
        self, conn: Connection[Participant], msg: Offer | Answer | Candidate | IceRestart, received: str = ""
    ) -> None:
        """Forward an offer, answer, candidate or ICE-restart request to `msg.to`, with `from`.

        `received` is the text `msg` was parsed from (lets the SDP be copied, see `relay_text`).
        """
        p = conn.participant
        assert p is not None
        target = await self._target(p.room, p.id, msg.to)
        if target.state != "connected":
            raise ProtocolError(ErrorCode.PEER_UNAVAILABLE, f'participant "{msg.to}" is reconnecting')
        await self.bus.publish(p.room, BusEvent("send", relay_text(msg, p.id, received), to=msg.to))

    def _host_only(self, p: Participant, action: str) -> None:
        if p.role is not Role.HOST:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"only the host may {action}")

    async def mute(self, conn: Connection[Participant], msg: Mute) -> None:
        p = conn.participant
        assert p is not None
        self._host_only(p, "ask to mute")
        await self._target(p.room, p.id, msg.to)
        await self.bus.publish(p.room, BusEvent("send", MuteRequested(p.id, msg.kind).to_json(), to=msg.to))

    async def media_state(self, conn: Connection[Participant], msg: MediaState) -> None:
        """Tell everyone else in the room what `conn`'s participant sends now (mute indicators)."""
        p = conn.participant
        assert p is not None
        event = PeerMedia(p.id, msg.audio, msg.video, msg.screen).to_json()
        await self.bus.publish(p.room, BusEvent("send", event, exclude=p.id))

    async def remove(self, conn: Connection[Participant], msg: Remove) -> None:
        """Host only: release `msg.to`'s place, bar it from rejoining, close its socket (4005)."""
        p = conn.participant
        assert p is not None
        self._host_only(p, "remove participants")
        await self._target(p.room, p.id, msg.to)
        await self.bus.ban(p.room, msg.to)
        gone = await self.bus.release(p.room, msg.to, "")
        if gone is None:
            raise ProtocolError(ErrorCode.UNKNOWN_PEER, f'no participant "{msg.to}" in this room')
        await self.bus.publish(p.room, BusEvent("remove", Removed(p.id, msg.reason).to_json(), to=msg.to))
        await self.bus.publish(
            p.room, BusEvent("send", PeerLeft(msg.to, LeaveReason.REMOVED).to_json(), exclude=msg.to)
        )
        reason = f"by {p.id}: {msg.reason}" if msg.reason else f"by {p.id}"
        await self._hook("on_remove", p.room, msg.to, gone.role, reason)

    # --- bus delivery --------------------------------------------------------------------------------

    async def deliver(self, room: str, ev: BusEvent) -> None:
        """Hand one bus event to this process's sockets in `room`."""
        places = self.local.get(room)
        if not places:
            return
        if ev.kind == "send":
            if ev.to is not None:
                p = places.get(ev.to)
                if p is not None and p.conn is not None:
                    await p.conn.send(ev.text)
                return
            for p in list(places.values()):
                if p.id != ev.exclude and p.conn is not None:
                    await p.conn.send(ev.text)
            return
        if ev.kind == "restored":
            for p in list(places.values()):
                if p.state is ParticipantState.RECONNECTING:
                    await self.bus.publish(room, BusEvent("send", PeerReconnecting(p.id).to_json(), exclude=p.id))
            return
        p = places.get(ev.to or "")
        if p is None:
            return
        if ev.kind == "replace":
            if p.conn is not None and p.conn.epoch != ev.epoch:  # taken over through another process
                old, p.conn = p.conn, None
                p.set_state(ParticipantState.MOVED)
                await self._forget(p)
                old.end_reason = "replaced"
                self._spawn(self._close(old, CloseCode.REPLACED, "replaced by a newer connection", "replaced"))
            elif p.conn is None and p.state is ParticipantState.RECONNECTING:
                p.set_state(ParticipantState.MOVED)
                await self._forget(p)
        elif ev.kind == "remove":
            conn, p.conn = p.conn, None
            p.set_state(ParticipantState.REMOVED)
            await self._forget(p)
            if conn is not None:
                conn.end_reason = "removed"
                self._spawn(self._close(conn, CloseCode.REMOVED, "removed by the host", "removed", ev.text))

    def error(self, exc: ProtocolError, ref: str | None = None) -> str:
        """The wire text of an `error` for `exc`."""
        return Error(exc.code, exc.message, ref).to_json()
