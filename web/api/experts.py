"""JSON API of the expert pool and the draw (docs/experts.md, "Routes"), and its pages.

Roles are checked by web/access/permissions/experts.py; ownership and the sealed list by evaluation/.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation.errors import NotFoundError
from evaluation.experts import draw_service
from evaluation.experts import pool as experts
from evaluation.experts.draw_job import DrawJob
from evaluation.experts.views import draw_status, invitations_of, visible_to_expert
from evaluation.inputs import check_text
from evaluation.tenders.tender import get
from web.api.body import PayloadTooLarge, json_body, optional_json_body
from web.api.tenders import ctx, current_actor
from web.errors import BadRequest
from web.rendering import render

routes = web.RouteTableDef()
MAX_CSV = 8 << 20


DRAW_JOB = web.AppKey("draw_job", DrawJob)


@routes.get("/api/experts", name="experts.list")
async def list_pool(request: web.Request) -> web.Response:
    pool = await experts.list_experts(ctx(request).engine)
    return web.json_response({"experts": [e.to_json() for e in pool]})


@routes.post("/api/experts/import", name="experts.csv_import")
async def import_pool(request: web.Request) -> web.Response:
    actor = current_actor(request)
    if request.content_type == "application/json":
        text = (await json_body(request)).get("csv")
    else:
        raw = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            raw += chunk
            if len(raw) > MAX_CSV:
                raise PayloadTooLarge(f"CSV 文件过大 the CSV is larger than {MAX_CSV >> 20} MiB: split it")
        try:
            text = check_text(raw.decode("utf-8"), "the CSV")
        except UnicodeDecodeError:
            raise BadRequest("CSV 必须是 UTF-8 the CSV must be UTF-8") from None
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("send the CSV as text/csv, or JSON {\"csv\": \"…\"}")
    report = await experts.import_csv(ctx(request).engine, ctx(request).audit, text, actor)
    return web.json_response(report.to_json())


@routes.post("/api/tenders/{id}/draw", name="experts.draw.request")
async def request_draw(request: web.Request) -> web.Response:
    body = await draw_service.request_draw(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    if DRAW_JOB in request.app:
        request.app[DRAW_JOB].kick()
    return web.json_response(body, status=201)


@routes.get("/api/tenders/{id}/draw", name="experts.draw.status")
async def status(request: web.Request) -> web.Response:
    return web.json_response(await draw_status(ctx(request), current_actor(request), request.match_info["id"]))


def _decline_answer(out: dict[str, Any]) -> dict[str, Any]:
    """Neither the agency nor the expert learns who replaced the decliner (the list is sealed)."""
    answer: dict[str, Any] = {"declined": out["declined"], "replaced": len(out["replacements"])}
    if "problem" in out:
        answer["problem"] = out["problem"]
    return answer


@routes.post("/api/tenders/{id}/draw/decline", name="experts.draw.decline")
async def record_decline(request: web.Request) -> web.Response:
    body = await json_body(request)
    out = await draw_service.decline(ctx(request), current_actor(request), request.match_info["id"], body.get("expert_id"),
                                     body.get("reason"), body.get("ground"), body.get("evidence"))
    return web.json_response(_decline_answer(out))


@routes.get("/api/experts/me/invitations", name="experts.invitations")
async def invitations(request: web.Request) -> web.Response:
    return web.json_response({"invitations": await invitations_of(ctx(request), current_actor(request))})


@routes.post("/api/experts/me/invitations/{id}/accept", name="experts.accept")
async def accept(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_to_expert(ctx(request), actor, request.match_info["id"])
    await draw_service.accept(ctx(request), actor, request.match_info["id"])
    return web.json_response({"tender": request.match_info["id"], "status": "accepted"})


@routes.post("/api/experts/me/invitations/{id}/decline", name="experts.decline")
async def decline(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_to_expert(ctx(request), actor, request.match_info["id"])
    body = await optional_json_body(request)
    out = await draw_service.decline(ctx(request), actor, request.match_info["id"], None, body.get("reason"),
                                     body.get("ground"), body.get("evidence"))
    return web.json_response(_decline_answer(out))


# -- pages -------------------------------------------------------------------------------------


@routes.get("/experts", name="experts.page")
async def pool_page(request: web.Request) -> web.Response:
    actor = current_actor(request)
    pool = await experts.list_experts(ctx(request).engine)
    return render(request, "experts_pool.html", experts=[e.to_json() for e in pool], role=actor.role)


@routes.get("/experts/me", name="experts.me.page")
async def me_page(request: web.Request) -> web.Response:
    try:
        items = await invitations_of(ctx(request), current_actor(request))
    except NotFoundError:  # an expert account not (yet) linked to the pool has no invitations
        return render(request, "experts_invitations.html", invitations=[], not_in_pool=True)
    return render(request, "experts_invitations.html", invitations=items, not_in_pool=False)


@routes.get("/tenders/{id}/experts", name="experts.draw.page")
async def draw_page(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await get(ctx(request), request.match_info["id"])
    view = await draw_status(ctx(request), actor, tender.id)
    return render(request, "experts_draw.html", tender=tender.to_json(), draw=view, role=actor.role)
