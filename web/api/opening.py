"""JSON API of the opening record (开标记录表): read it, confirm it, object (异议), answer, and the
collusion leads for the owning agency and supervisors after the opening."""

from __future__ import annotations

from aiohttp import web

from evaluation.tenders import opening_record
from web.api.body import json_body
from web.api.tenders import ctx, current_actor, visible_tender
from web.errors import Forbidden

routes = web.RouteTableDef()


@routes.get("/api/tenders/{id}/record", name="opening.record")
async def record(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    return web.json_response(await opening_record.record(ctx(request), tender.id))


@routes.post("/api/tenders/{id}/record/confirm", name="opening.confirm")
async def confirm(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    return web.json_response(await opening_record.confirm(ctx(request), actor, tender.id), status=201)


@routes.post("/api/tenders/{id}/record/objections", name="opening.object")
async def object_to(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    data = await json_body(request)
    return web.json_response(await opening_record.object_to(ctx(request), actor, tender.id, data.get("text")), status=201)


@routes.post("/api/tenders/{id}/record/objections/{objection}/answer", name="opening.answer")
async def answer(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    data = await json_body(request)
    result = await opening_record.answer(ctx(request), actor, tender.id, request.match_info["objection"], data.get("text"))
    return web.json_response(result, status=201)


@routes.get("/api/tenders/{id}/leads", name="opening.leads")
async def leads(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    if actor.role != "supervisor" and not tender.owned_by(actor):
        raise Forbidden(f"tender {tender.id} belongs to another agency")
    return web.json_response({"leads": await opening_record.collusion_leads(ctx(request), tender.id)})
