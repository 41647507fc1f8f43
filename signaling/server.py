"""The aiohttp side: the WebSocket handler, message dispatch, the sweeper, the application factory.

Mount with ``app.add_subapp("/signaling", signaling_app(config, hooks))``; clients then connect to
``/signaling/rooms/<room>`` and send `join` first (docs/signaling.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, WSMsgType, web

from signaling.bus import BusUnavailable, make_bus
from signaling.codes import CloseCode, ErrorCode
from signaling.config import SignalingConfig
from signaling.connection import Connection
from signaling.hooks import NoHooks, SignalingHooks
from signaling.messages import (
    Candidate,
    IceRestart,
    Join,
    Leave,
    MediaState,
    Mute,
    Offer,
    Ping,
    Pong,
    Remove,
    parse_client,
)
from signaling.room import JoinRefused, Participant, Rooms
from signaling.throttle import AccountBudget
from signaling.tokens import TokenError, TokenSigner
from signaling.wire import ProtocolError

log = logging.getLogger("pingbiao.signaling")
ROOM_ROUTE = "/rooms/{room:[A-Za-z0-9._:@-]{1,64}}"
CLOSE_TIMEOUT = 5.0  # seconds to wait for a client's close frame
BUS_DOWN = "the signaling bus is unavailable: try again shortly"


class _Socket(web.WebSocketResponse):
    """A server WebSocket whose frames beyond `max_msg_size` get their close frame (1009) read.

    aiohttp refuses such a frame from its header, sends close 1009 and then closes the TCP
    connection at once, while the client is still writing the frame: the unread bytes make the
    kernel reset the connection, and the client never sees the close frame (it reports 1006).
    Here the connection is instead kept open after the close frame, its further input discarded,
    until the client closes it (having read the 1009) or `CLOSE_TIMEOUT` passes (`linger`).
    """

    too_big = False

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not self.closed:
            self.too_big = True
        return await super().close(code=code, message=message, drain=drain)

    def _close_transport(self) -> None:  # aiohttp's one place for closing the connection
        if not self.too_big:
            super()._close_transport()

    async def linger(self, transport: asyncio.Transport | None) -> None:
        """After a too-big frame: wait (bounded) for the client to close, then close."""
        if transport is None:
            return
        if not transport.is_reading():
            transport.resume_reading()  # aiohttp drops what arrives after its reader failed
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                while not transport.is_closing():
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pass
        finally:
            transport.close()


class SignalingServer:
    """State of one process's signaling: config, token check, rooms, open sockets, the sweeper."""

    def __init__(self, config: SignalingConfig, hooks: SignalingHooks) -> None:
        self.config = config
        self.hooks = hooks
        self.signer = TokenSigner(config.token_secret)
        self.connections: set[Connection[Participant]] = set()
        self.joins = AccountBudget(config.join_rate, config.join_burst)
        self._rooms: Rooms | None = None

    @property
    def rooms(self) -> Rooms:
        if self._rooms is None:
            raise RuntimeError("signaling is not started (its app's cleanup_ctx has not run)")
        return self._rooms

    async def run(self) -> AsyncIterator[None]:
        """Start the bus and the sweeper; on exit close every socket and stop them (cleanup_ctx)."""
        bus = make_bus(self.config.bus_url, self.config.bus_prefix, self.config.bus_lease)
        rooms = Rooms(self.config, bus, self.hooks)
        await bus.start(rooms.deliver, rooms.restore)
        self._rooms = rooms
        sweeper = asyncio.create_task(self._sweep(), name="signaling-sweeper")
        log.info("signaling started", extra={"bus": type(bus).__name__, "capacity": self.config.capacity})
        try:
            yield
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            for conn in list(self.connections):
                conn.cancel()
            for task in list(rooms.background):
                task.cancel()
            await asyncio.gather(*rooms.background, return_exceptions=True)
            await bus.close()
            log.info("signaling stopped")

    async def close_all(self) -> None:
        """Close every socket with 1001 (server going away): clients reconnect elsewhere (on_shutdown)."""
        conns = list(self.connections)
        await asyncio.gather(
            *(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down") for c in conns),
            return_exceptions=True,
        )

    async def _sweep(self) -> None:
        """Close silent and never-joined sockets, release places whose grace period is over."""
        cfg = self.config
        silent = cfg.heartbeat * cfg.heartbeat_misses
        lease = self.rooms.bus.lease
        next_reap = time.monotonic() + (lease or 0.0) / 3
        while True:
            await asyncio.sleep(cfg.tick if lease is None else min(cfg.tick, lease / 3))
            now = time.monotonic()
            try:
                if lease is not None and now >= next_reap:  # places held by dead server processes
                    next_reap = now + lease / 3
                    try:
                        await self.rooms.reap_all()
                    except BusUnavailable:  # the bus's reader logs the outage; heartbeats are still checked
                        pass
                await self._check_sockets(now, silent)
                await self.rooms.expire(now)
                self.joins.prune(now)
            except BusUnavailable as exc:  # the bus's reader logs the outage; this sweep is retried
                log.warning("sweep deferred: bus unavailable", extra={"error": str(exc)})
            except Exception:  # the sweeper must survive a bus hiccup
                log.exception("sweep failed")

    async def _check_sockets(self, now: float, silent: float) -> None:
        """One pass over the open sockets (its own frame: the loop's last socket is not kept alive
        by the sweeper's sleep)."""
        cfg = self.config
        for conn in list(self.connections):
            if conn.end_reason != "lost" or conn.ws.closed:
                continue
            if conn.participant is None and now - conn.opened > cfg.join_timeout:
                conn.end_reason = "join-timeout"
                self.rooms._spawn(conn.close(CloseCode.PROTOCOL_VIOLATION, "no join in time", "join-timeout"))
            elif conn.participant is not None and now - conn.last_seen > silent:
                conn.end_reason = "heartbeat"
                log.info("heartbeat timeout", extra={"room": conn.room, "account": conn.participant.id})
                await self.rooms.ended(conn)
                self.rooms._spawn(conn.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout", "heartbeat"))

    # --- one socket ----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """GET /rooms/{room}: one participant's WebSocket."""
        cfg = self.config
        ws = _Socket(
            max_msg_size=4 * cfg.max_message_bytes, compress=False, timeout=CLOSE_TIMEOUT, autoping=True
        )
        await ws.prepare(request)
        conn = Connection(
            ws, Rooms.new_epoch(), request.match_info["room"], cfg.rate, cfg.burst,
            request.transport, cfg.send_backlog_bytes,  # type: ignore[arg-type]
        )
        conn.on_slow = self.rooms.ended  # its place goes into its grace period at once
        self.connections.add(conn)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await self._refuse(conn, ProtocolError(ErrorCode.BAD_MESSAGE, "binary frames are not accepted"))
        finally:
            self.connections.discard(conn)
            if conn.participant is not None:
                await self.rooms.ended(conn)
        if ws.too_big:
            log.info("frame too big", extra={"room": conn.room, "limit": 4 * cfg.max_message_bytes})
            await ws.linger(request.transport)  # type: ignore[arg-type]
            return ws
        if ws.close_code is not None and ws.close_code >= 1002 and ws.close_code < 4000:
            log.info("socket closed", extra={"room": conn.room, "code": ws.close_code})
        return ws

    async def _refuse(self, conn: Connection[Participant], exc: ProtocolError, ref: str | None = None) -> None:
        """An error reply once joined; before joining, any bad message closes the socket (4008)."""
        if conn.participant is None:
            await conn.close(CloseCode.PROTOCOL_VIOLATION, exc.message, "protocol")
        else:
            await conn.send(self.rooms.error(exc, ref))

    async def _on_text(self, conn: Connection[Participant], data: str) -> None:
        cfg = self.config
        if not conn.admit(time.monotonic()):
            if conn.strikes == 1:
                await conn.send(self.rooms.error(ProtocolError(
                    ErrorCode.RATE_LIMITED, f"too many messages: at most {cfg.rate:g}/s, bursts of {cfg.burst}"
                )))
            elif conn.strikes > cfg.burst:
                log.warning("flood", extra={"room": conn.room, "epoch": conn.epoch})
                await conn.close(CloseCode.TOO_MANY_MESSAGES, "too many messages", "flood")
            return
        size = len(data)
        if size > cfg.max_message_bytes // 4 and (size := len(data.encode("utf-8"))) > cfg.max_message_bytes:
            await self._refuse(conn, ProtocolError(
                ErrorCode.TOO_LARGE, f"message is {size} bytes, the limit is {cfg.max_message_bytes}"
            ))
            return
        try:
            msg = parse_client(data)
        except ProtocolError as exc:
            await self._refuse(conn, exc)
            return
        if conn.participant is None:
            await self._join(conn, msg)
            return
        if conn.participant.conn is not conn:  # removed, replaced or too slow: its close is under way
            return
        try:
            if isinstance(msg, (Offer, Candidate, IceRestart)):  # Answer is an Offer
                await self.rooms.relay(conn, msg, data)
            elif isinstance(msg, Ping):
                await conn.send(Pong(msg.ts).to_json())
            elif isinstance(msg, Mute):
                await self.rooms.mute(conn, msg)
            elif isinstance(msg, Remove):
                await self.rooms.remove(conn, msg)
            elif isinstance(msg, MediaState):
                await self.rooms.media_state(conn, msg)
            elif isinstance(msg, Leave):
                await self.rooms.leave(conn)
                await conn.close(WSCloseCode.OK, "left", "left")
            elif isinstance(msg, Join):
                raise ProtocolError(ErrorCode.ALREADY_JOINED, "already joined")
        except ProtocolError as exc:
            await conn.send(self.rooms.error(exc, msg.TYPE))
        except BusUnavailable:
            log.warning("refused: bus unavailable", extra={"room": conn.room, "type": msg.TYPE})
            await conn.send(self.rooms.error(ProtocolError(ErrorCode.PEER_UNAVAILABLE, BUS_DOWN), msg.TYPE))

    async def _join(self, conn: Connection[Participant], msg: object) -> None:
        if not isinstance(msg, Join):
            await conn.close(CloseCode.PROTOCOL_VIOLATION, 'the first message must be "join"', "protocol")
            return
        try:
            grant = self.signer.verify(msg.token, conn.room)
            wait = self.joins.take(grant.room, grant.account, time.monotonic())
            if wait:
                raise JoinRefused(CloseCode.TOO_MANY_JOINS, f"too many joins: try again in {wait} s")
            await self.rooms.join(grant, conn)
        except (TokenError, JoinRefused) as exc:
            code = exc.close_code if isinstance(exc, TokenError) else exc.code
            log.info("join refused", extra={"room": conn.room, "code": int(code), "why": exc.message})
            await conn.close(code, exc.message, "refused")
        except BusUnavailable as exc:
            log.warning("join refused: bus unavailable", extra={"room": conn.room, "error": str(exc)})
            if conn.participant is not None:  # claimed before the bus went: a lost socket, as any other
                await self.rooms.ended(conn)
            await conn.close(CloseCode.TRY_AGAIN_LATER, BUS_DOWN, "unavailable")


SERVER = web.AppKey("signaling_server", SignalingServer)


def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    return app[SERVER].run()


async def _on_shutdown(app: web.Application) -> None:
    await app[SERVER].close_all()


async def _handle(request: web.Request) -> web.StreamResponse:
    return await request.app[SERVER].handle(request)


def signaling_app(config: SignalingConfig, hooks: SignalingHooks | None = None) -> web.Application:
    """The signaling application: mount it as a sub-application, or run it on its own."""
    app = web.Application()
    app[SERVER] = SignalingServer(config, hooks or NoHooks())
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_get(ROOM_ROUTE, _handle)
    return app

