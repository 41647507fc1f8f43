"""The remote evaluation booth (评标舱): signaling mounted at /signaling, room tokens, the booth page.

``install(app)`` (picked up by web.app's feature hook) adds:

* the signaling application (signaling/) at ``/signaling``; clients connect to
  ``/signaling/rooms/<room>`` and join with a room token (docs/signaling.md);
* ``GET /api/booth/{room}/token`` — a short-lived room token for the signed-in account, if
  :func:`may_join` lets it into the room, at most `TOKEN_BURST` at once and then one per
  `1 / TOKEN_RATE` seconds per account (beyond: 429 with Retry-After);
* ``GET /booth/{room}`` — the booth page (web/pages/templates/booth.html, web/static/booth.js);
* hooks that write the signaling presence events to the audit log as ``booth.joined``,
  ``booth.left``, ``booth.reconnected`` and ``booth.removed`` (evaluation/session/booth_events.py).

The token secret is a file in the data directory (``signaling.key``, 32 random bytes, mode 0600),
created on first start and shared by every process using that data directory. STUN/TURN come from
the settings ``stun_urls``, ``turn_urls`` (comma-separated), ``turn_secret`` and ``turn_ttl``;
``booth_grace`` is how long a lost participant keeps its place; ``signaling_bus_url`` selects the
Redis bus for several processes (docs/configuration.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from evaluation.accounts.account import Account
from evaluation.accounts.account import Role as AccountRole
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.errors import DomainError, Text
from evaluation.session import booth_events
from evaluation.tenders.tender import get as get_tender
from signaling.codes import Role as BoothRole
from signaling.config import SignalingConfig
from signaling.janus.launcher import JanusUnavailable
from signaling.server import SERVER, SignalingServer, signaling_app
from signaling.throttle import AccountBudget
from signaling.tokens import TokenSigner
from signaling.turn import IceConfig
from web.api.tenders import TENDERS
from web.booth import janus_proxy, recording_rule
from web.booth.media import MEDIA, MediaPlane
from web.config import Settings
from web.errors import Forbidden, NotFound, error_response
from web.keys import AUDIT_LOG, ENGINE, SETTINGS
from web.rendering import render
from web.replies import json_response

log = logging.getLogger("pingbiao.booth")
routes = web.RouteTableDef()

SECRET_FILE = "signaling.key"
SECRET_BYTES = 32
TOKEN_TTL = 120.0  # seconds; a client fetches a fresh token for every (re)connection
ROOM_PATTERN = re.compile(r"eval-([A-Za-z0-9._:@-]{1,59})")  # rooms are evaluation sessions
ROOM_ROLES = {
    AccountRole.expert: BoothRole.EXPERT,
    AccountRole.agency: BoothRole.HOST,
    AccountRole.supervisor: BoothRole.SUPERVISOR,
}
PLATFORM_ROLES = {booth: account for account, booth in ROOM_ROLES.items()}
TOKEN_BURST = 20  # room tokens one account may fetch at once (every (re)connection needs one) ...
TOKEN_RATE = 1 / 6  # ... and then per second; the signaling server also limits joins per account
AUDIT_QUEUE = 10_000  # presence events waiting for the audit log; beyond, they are dropped (logged)

SIGNER = web.AppKey("booth_signer", TokenSigner)
SIGNALING = web.AppKey("booth_signaling", SignalingServer)  # this process's signaling (metrics count its participants)
TOKEN_BUDGET = web.AppKey("booth_token_budget", AccountBudget)


# -- who may join which room ----------------------------------------------------------------------


def tender_of(room: str) -> str | None:
    """The tender whose evaluation session `room` is (rooms are named ``eval-<tender_id>``)."""
    m = ROOM_PATTERN.fullmatch(room)
    return m.group(1) if m else None


async def may_join(request: web.Request, account: Account, room: str) -> BoothRole | None:
    """The role `account` takes in `room`, or None if it may not join.

    The one place that decides entry to a booth room: supervisors (as supervisors); the tender's
    own agency (as the host); members of the tender's evaluation committee — the drawn experts and
    a purchaser's representative — as experts. Everyone else: None.
    """
    tender_id = tender_of(room)
    if tender_id is None:
        return None
    if account.role is AccountRole.supervisor:
        return BoothRole.SUPERVISOR
    from evaluation.session.access import booth_standing

    standing = await booth_standing(request.app[ENGINE], tender_id, account.id)
    if standing == "owner" and account.role is AccountRole.agency:
        return BoothRole.HOST
    if standing == "member":
        return BoothRole.EXPERT
    return None


# -- settings ---------------------------------------------------------------------------------------


def _url_list(value: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip())


def load_or_create_secret(path: Path) -> bytes:
    """The signaling token secret at `path`, created once (32 random bytes, mode 0600)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < SECRET_BYTES:
            raise RuntimeError(f"{path.name} in the data directory is shorter than {SECRET_BYTES} bytes") from None
        return secret
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret


def signaling_config(settings: Settings) -> SignalingConfig:
    """The signaling server's configuration from the installation's settings."""
    turn_urls = _url_list(settings.turn_urls)
    turn_secret = settings.turn_secret
    if turn_urls and not turn_secret:
        raise RuntimeError("setting turn_urls needs turn_secret (coturn's static-auth-secret)")
    ice = IceConfig(
        stun_urls=_url_list(settings.stun_urls),
        turn_urls=turn_urls,
        turn_secret=turn_secret.encode("utf-8"),
        turn_ttl=float(settings.turn_ttl),
    )
    return SignalingConfig(
        token_secret=load_or_create_secret(settings.data_dir / SECRET_FILE),
        ice=ice,
        grace=float(settings.booth_grace),
        bus_url=settings.signaling_bus_url,
    )


# -- presence → audit log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    kind: str
    room: str
    account: str
    role: BoothRole
    reason: str


class AuditHooks:
    """Signaling hooks that queue presence events for the audit log and write them in order.

    Signaling never waits on the audit log: a hook only enqueues; one writer task appends. Events
    that arrive when the queue is full, or after the app stopped, are logged and dropped.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._queue: asyncio.Queue[_Event] = asyncio.Queue(AUDIT_QUEUE)
        self._writer: asyncio.Task[None] | None = None
        self._pending = 0

    def _put(self, kind: str, room: str, account: str, role: BoothRole, reason: str) -> None:
        if self._writer is None or self._writer.done():
            log.error("presence event after shutdown: not logged", extra={"kind": kind, "room": room, "account": account})
            return
        try:
            self._queue.put_nowait(_Event(kind, room, account, role, reason))
        except asyncio.QueueFull:
            log.error("audit queue full: presence event dropped", extra={"kind": kind, "room": room, "account": account})

    async def on_join(self, room: str, account: str, role: BoothRole, reason: str) -> None:
        self._put("booth.joined", room, account, role, reason)

    async def on_leave(self, room: str, account: str, role: BoothRole, reason: str) -> None:
        self._put("booth.left", room, account, role, reason)

    async def on_reconnect(self, room: str, account: str, role: BoothRole, reason: str) -> None:
        self._put("booth.reconnected", room, account, role, reason)

    async def on_remove(self, room: str, account: str, role: BoothRole, reason: str) -> None:
        self._put("booth.removed", room, account, role, reason)

    @staticmethod
    def draft(event: _Event) -> EntryDraft:
        platform_role = PLATFORM_ROLES.get(event.role)
        actor = Actor(event.account, platform_role.value if platform_role else event.role.value)
        payload = {"room": event.room, "role": event.role.value, "reason": event.reason}
        return EntryDraft(event.kind, payload, tender_of(event.room), actor)

    async def _write(self) -> None:
        audit = self._app[AUDIT_LOG]
        while True:
            event = await self._queue.get()
            try:
                await audit.append(self.draft(event))
            except Exception as exc:  # noqa: BLE001 — the audit log failing must not stop later events
                log.error("presence event not logged", extra={"kind": event.kind, "account": event.account, "error": repr(exc)})
            finally:
                self._queue.task_done()

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: the writer runs while the app does; at the end, what is queued is written."""
        self._writer = asyncio.create_task(self._write(), name="booth-audit-writer")
        try:
            yield
        finally:
            try:
                await asyncio.wait_for(self._queue.join(), timeout=5.0)
            except TimeoutError:
                log.error("presence events not logged at shutdown", extra={"count": self._queue.qsize()})
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued event is in the log (tests)."""
        await asyncio.wait_for(self._queue.join(), timeout)


PRESENCE = web.AppKey("booth_presence", AuditHooks)


# -- routes -------------------------------------------------------------------------------------------


def _account(request: web.Request) -> Account:
    account: Account | None = request.get("account")
    if account is None:  # the permission rules require sign-in; this is a second lock
        raise Forbidden("请先登录")
    return account


async def _admitted(request: web.Request, room: str) -> tuple[Account, BoothRole]:
    """The signed-in account and its role in `room`; NotFound for no such room, Forbidden if it may not join."""
    account = _account(request)
    if tender_of(room) is None:
        raise NotFound("没有评标舱 {room}", room=room)
    role = await may_join(request, account, room)
    if role is None:
        raise Forbidden("无权进入评标舱 {room}", room=room)
    return account, role


@routes.get("/api/booth/{room}/token", name="booth.token")
async def booth_token(request: web.Request) -> web.Response:
    """A room token (valid ~2 minutes) for the signed-in account, to join the room once."""
    room = request.match_info["room"]
    account, role = await _admitted(request, room)
    budget = request.app[TOKEN_BUDGET]
    now = time.monotonic()
    if len(budget) > 10_000:
        budget.prune(now)
    wait = budget.take("", account.id, now)  # per account, whatever the room
    if wait:
        log.info("room tokens throttled", extra={"account": account.id, "room": room})
        refused = error_response(429, Text("请求入场凭证过于频繁，请 {wait} 秒后再试", wait=wait), request)
        refused.headers["Retry-After"] = str(wait)
        return refused
    media = request.app[MEDIA]
    if media.sfu:
        try:
            await media.ensure_room(room)  # the booth opens: its VideoRoom exists, recording
        except JanusUnavailable:
            pass  # logged; the booth falls back to the mesh and says so
    if not media.sfu:
        await media.note_no_recording(room)
    token = request.app[SIGNER].issue(room, account.id, role, account.display_name[:128] or account.username, TOKEN_TTL)
    body = {
        "token": token,
        "room": room,
        "id": account.id,
        "role": role.value,
        "name": account.display_name,
        "expires": int(time.time() + TOKEN_TTL),
        "url": f"/signaling/rooms/{room}",
        "media": media.grant(room),
    }
    return json_response(body, headers={"Cache-Control": "no-store"})


@routes.get("/booth/{room}", name="booth.page")
async def booth_page(request: web.Request) -> web.Response:
    room = request.match_info["room"]
    account, role = await _admitted(request, room)
    media = request.app[MEDIA]
    tender_id = tender_of(room)
    waived = tender_id is not None and await recording_rule.waived(request.app, tender_id)
    return render(request, "booth.html", room=room, tender_id=tender_id, booth_role=role.value, account=account,
                  recording=media.sfu, waived=waived, title=await _tender_title(request.app, tender_id))


async def _tender_title(app: web.Application, tender_id: str | None) -> str:
    """The project's name, which the booth's heading shows (the room code stays beside it, small)."""
    if tender_id is None:
        return ""
    try:
        return (await get_tender(app[TENDERS], tender_id)).spec.title
    except DomainError:
        return ""


def install(app: web.Application) -> None:
    booth_events.register()
    config = signaling_config(app[SETTINGS])
    hooks = AuditHooks(app)
    app[SIGNER] = TokenSigner(config.token_secret)
    app[TOKEN_BUDGET] = AccountBudget(TOKEN_RATE, TOKEN_BURST)
    app[PRESENCE] = hooks
    app.cleanup_ctx.append(hooks.run)
    media = MediaPlane(app, app[SETTINGS])

    async def admit(request: web.Request, room: str) -> str:
        return (await _admitted(request, room))[0].id

    media.admit = admit
    app[MEDIA] = media
    app.cleanup_ctx.append(media.run)
    app.add_routes(routes)
    app.add_routes(janus_proxy.routes)
    signaling = signaling_app(config, hooks)
    app[SIGNALING] = signaling[SERVER]
    app.add_subapp("/signaling", signaling)


def participants(app: web.Application) -> int:
    """Booth participants connected to this process now (joined a room)."""
    server = app.get(SIGNALING)
    return 0 if server is None else sum(1 for c in list(server.connections) if c.participant is not None)
