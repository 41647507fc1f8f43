"""The opening hall (开标大厅): an in-process pub/sub fed after each commit, the WebSocket that
pushes its events, the JSON snapshot and sign-in (签到).

Before the opening, sign-ins are private: a bidder's sign-in is shown to itself and supervisors
only (nobody else may learn who bid); the ``phase`` event of the opening reveals the list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from evaluation.audit.entry import Actor
from evaluation.errors import Text
from evaluation.tenders import hall_host, opening_record
from evaluation.tenders.lots import bid_fields, lots_json
from evaluation.tenders.rules import TenderState, format_time, is_local_beacon
from evaluation.tenders.store import bid_of
from evaluation.tenders.tender import Tender
from web.api.body import json_body, optional_json_body
from web.api.tenders import ctx, current_actor, display_name, visible_tender
from web.errors import Forbidden
from web.replies import json_response

log = logging.getLogger("pingbiao.hall")
routes = web.RouteTableDef()
QUEUE_SIZE = 10_000
PRIVATE = "_private_to"


@dataclass(eq=False)
class Subscriber:
    tender_id: str
    account: str
    role: str
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class HallHub:
    """Per-tender fan-out of hall events to connected subscribers (one process)."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscriber]] = {}

    def subscribe(self, tender_id: str, actor: Actor) -> Subscriber:
        sub = Subscriber(tender_id, actor.account, actor.role)
        self._subs.setdefault(tender_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.tender_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.tender_id]

    def publish(self, tender_id: str, event: dict[str, Any]) -> None:
        """Queue `event` for every subscriber of `tender_id` allowed to see it. Never blocks."""
        private = event.get(PRIVATE)
        public = {k: v for k, v in event.items() if k != PRIVATE}
        for sub in list(self._subs.get(tender_id, ())):
            if private is not None and sub.account != private and sub.role != "supervisor":
                continue
            try:
                sub.queue.put_nowait(public)
            except asyncio.QueueFull:  # a reader too slow to keep up is dropped, not waited for
                self.unsubscribe(sub)
                sub.queue = asyncio.Queue(1)
                sub.queue.put_nowait(None)

    def count(self, tender_id: str) -> int:
        return len(self._subs.get(tender_id, ()))


HUB = web.AppKey("hall_hub", HallHub)


async def _may_enter(request: web.Request, tender: Tender, actor: Actor) -> None:
    if actor.role == "supervisor" or tender.owned_by(actor):
        return
    if actor.role == "bidder":
        async with ctx(request).engine.connect() as conn:
            if await bid_of(conn, tender.id, actor.account) is not None:
                return
    raise Forbidden(hall_closed(tender))


def hall_closed(tender: Tender) -> Text:
    """Who may enter a tender's hall, in one line naming the tender by its title."""
    return Text("「{title}」的开标大厅仅对其采购人、投标人和监督人开放", title=tender.spec.title[:60])


async def snapshot(request: web.Request, tender: Tender, actor: Actor) -> dict[str, Any]:
    """Everything the hall shows now, as `actor` may see it."""
    c = ctx(request)
    signins = await opening_record.signins(c, tender.id)
    if tender.state is TenderState.PUBLISHED and actor.role != "supervisor":
        signins = [s for s in signins if s["account"] == actor.account]
    before = tender.state is TenderState.PUBLISHED
    record = await opening_record.record(c, tender.id, partial=True) if not before else None
    # who bid is secret until the opening: the list of bidders (absent ones too) only then, or to supervisors
    attendance = await opening_record.attendance(c, tender.id) if not before or actor.role == "supervisor" else None
    bids = await opening_record.bid_statuses(c, tender.id) if not before else None
    host = await hall_host.logged_host_events(c, tender.id)
    return {
        "type": "snapshot",
        "server_time": time.time(),
        "tender": {
            "id": tender.id,
            "title": tender.spec.title,
            "state": tender.state.value,
            "opening_time": format_time(tender.spec.opening_time),
            "opening_round": tender.opening_round,
            "round_time": None if tender.opening_round is None else c.chain.time_of(tender.opening_round),
            "chain": tender.chain_hash,
            "fields": [f.to_json() for f in bid_fields(tender.spec)],
            "lots": lots_json(tender.spec),
            "local_beacon": is_local_beacon(c.chain),
        },
        "signins": signins,
        "attendance": attendance,
        "bids": bids,
        "record": record,
        "read_out": host["read_out"],  # 唱标 so far, in the order read
        "announcements": host["announcements"],
    }


@routes.get("/api/tenders/{id}/hall", name="hall.snapshot")
async def hall_snapshot(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    await _may_enter(request, tender, actor)
    return json_response(await snapshot(request, tender, actor))


@routes.post("/api/tenders/{id}/hall/signin", name="hall.signin")
async def signin(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    data = await optional_json_body(request)
    name = data.get("name") or display_name(request)
    if not isinstance(name, str) or len(name) > 200:
        name = display_name(request)
    row = await opening_record.sign_in(ctx(request), actor, request.match_info["id"], name)
    return json_response(row, status=201)


@routes.post("/api/tenders/{id}/hall/read-out", name="hall.read_out")
async def read_out(request: web.Request) -> web.Response:
    """唱标: the host reads the next bid of the record out (or the one named by ``bid_id``)."""
    data = await optional_json_body(request)
    event = await hall_host.read_out(ctx(request), current_actor(request), request.match_info["id"], data.get("bid_id"))
    return json_response(event, status=201)


@routes.post("/api/tenders/{id}/hall/announcements", name="hall.announce")
async def announce(request: web.Request) -> web.Response:
    """公告: the host posts a short text to everyone in the hall."""
    data = await json_body(request)
    event = await hall_host.announce(ctx(request), current_actor(request), request.match_info["id"], data.get("text"))
    return json_response(event, status=201)


@routes.get("/api/tenders/{id}/hall/ws", name="hall.ws")
async def hall_ws(request: web.Request) -> web.WebSocketResponse:
    """Snapshot on connect, then every hall event as one JSON text message.

    The Origin of a browser's upgrade is checked by web/access/csrf.py (this site's own pages only)."""
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    await _may_enter(request, tender, actor)
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    sub = hub.subscribe(tender.id, actor)
    log.info("hall joined", extra={"tender": tender.id, "account": actor.account, "role": actor.role})

    async def drain_incoming() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        await sub.queue.put(None)

    reader = asyncio.create_task(drain_incoming())
    try:
        await ws.send_json(await snapshot(request, tender, actor))
        while (event := await sub.queue.get()) is not None:
            await ws.send_json(event)
    except ConnectionResetError:
        pass
    finally:
        hub.unsubscribe(sub)
        reader.cancel()
        await ws.close()
        log.info("hall left", extra={"tender": tender.id, "account": actor.account})
    return ws
