"""JSON API of tenders (招标项目): create, edit a draft, publish, amend, postpone, list, detail.

Shared helpers for the tender feature's handlers live here too: the acting account and the
feature's app keys; every body is read by web/api/body.py. Errors are raised, never returned: web/errors.py maps them once.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from evaluation.audit.entry import Actor
from evaluation.tenders import tender as tenders
from evaluation.tenders.bids import bid_json
from evaluation.tenders.opening_record import AFTER_OPENING
from evaluation.tenders.rules import TenderState
from evaluation.tenders.store import bid_of, bid_rows
from web.api.body import json_body
from web.errors import NotFound, Unauthorized
from web.replies import json_response

routes = web.RouteTableDef()
TENDERS = web.AppKey("tenders", tenders.TenderContext)


class Kicker(Protocol):
    def kick(self) -> None: ...


SCHEDULER = web.AppKey("opening_scheduler", Kicker)  # type: ignore[type-abstract]


def current_actor(request: web.Request) -> Actor:
    """The signed-in account as an audit Actor (roles are enforced by web/access/permissions/tenders.py)."""
    account = request.get("account")
    if account is None:
        raise Unauthorized("请先登录")
    actor: Actor = account.actor
    return actor


def display_name(request: web.Request) -> str:
    account = request["account"]
    return str(getattr(account, "organization", "") or getattr(account, "display_name", "") or account.username)


def ctx(request: web.Request) -> tenders.TenderContext:
    return request.app[TENDERS]


async def visible_tender(request: web.Request, actor: Actor) -> tenders.Tender:
    """The tender in the path if `actor` may see it: drafts only for their owner and supervisors."""
    tender = await tenders.get(ctx(request), request.match_info["id"])
    if tender.state is TenderState.DRAFT and not (tender.owned_by(actor) or actor.role == "supervisor"):
        raise NotFound("找不到该项目")
    return tender


async def tender_view(request: web.Request, tender: tenders.Tender, actor: Actor) -> dict[str, Any]:
    """A tender as `actor` may see it: before the opening, only supervisors see who bid."""
    body = tender.to_json()
    chain = ctx(request).chain
    body["round_time"] = None if tender.opening_round is None else chain.time_of(tender.opening_round)
    async with ctx(request).engine.connect() as conn:
        if actor.role == "bidder":
            mine = await bid_of(conn, tender.id, actor.account)
            body["my_bid"] = None if mine is None else bid_json(mine)
        if actor.role == "supervisor" or (tender.owned_by(actor) and tender.state in AFTER_OPENING):
            body["bids"] = [bid_json(b) for b in await bid_rows(conn, tender.id)]
    return body


@routes.get("/api/tenders", name="tenders.list")
async def list_tenders(request: web.Request) -> web.Response:
    actor = current_actor(request)
    items = []
    for t in await tenders.list_all(ctx(request)):
        if t.state is TenderState.DRAFT and not (t.owned_by(actor) or actor.role == "supervisor"):
            continue
        if request.query.get("mine") and actor.role == "agency" and not t.owned_by(actor):
            continue
        row = t.to_json()
        items.append({k: row[k] for k in ("id", "title", "method", "state", "agency_name", "opening_time", "opening_round", "budget_fen")})
    return json_response({"tenders": items})


@routes.post("/api/tenders", name="tenders.create")
async def create(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await tenders.create(ctx(request), actor, display_name(request), await json_body(request))
    return json_response(await tender_view(request, tender, actor), status=201)


@routes.get("/api/tenders/{id}", name="tenders.detail")
async def detail(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    return json_response(await tender_view(request, tender, actor))


@routes.put("/api/tenders/{id}", name="tenders.edit_draft")
async def edit_draft(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    tender = await tenders.edit_draft(ctx(request), actor, request.match_info["id"], await json_body(request))
    return json_response(await tender_view(request, tender, actor))


@routes.post("/api/tenders/{id}/publish", name="tenders.publish")
async def publish(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    tender = await tenders.publish(ctx(request), actor, request.match_info["id"])
    request.app[SCHEDULER].kick()
    return json_response(await tender_view(request, tender, actor))


@routes.post("/api/tenders/{id}/amend", name="tenders.amend")
async def amend(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    data = await json_body(request)
    tender = await tenders.amend(ctx(request), actor, request.match_info["id"], data.get("changes"), data.get("reason"))
    return json_response(await tender_view(request, tender, actor))


@routes.post("/api/tenders/{id}/postpone", name="tenders.postpone")
async def postpone(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    data = await json_body(request)
    tender = await tenders.postpone(ctx(request), actor, request.match_info["id"], data.get("opening_time"), data.get("reason"))
    request.app[SCHEDULER].kick()
    return json_response(await tender_view(request, tender, actor))

