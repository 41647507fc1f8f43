"""JSON API of the expert pool and the draw (docs/experts.md, "Routes"), and its pages.

Roles are checked by web/access/permissions/experts.py; ownership and the sealed list by evaluation/.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation.errors import NotFoundError
from evaluation.experts import draw_service, pool_edit
from evaluation.experts import pool as experts
from evaluation.experts.draw_job import DrawJob
from evaluation.experts.pool_csv import ExpertRecord, mask_id_number
from evaluation.experts.pool_edit import FormErrors
from evaluation.experts.pool_import import template_csv
from evaluation.experts.views import draw_status, invitations_of, visible_to_expert
from evaluation.inputs import check_text
from evaluation.session import refill
from evaluation.tenders.tender import get
from web.api.body import PayloadTooLarge, json_body, optional_json_body
from web.api.evaluation import EVALUATION
from web.api.tenders import ctx, current_actor
from web.errors import BadRequest, error_response
from web.i18n import language_of, localize
from web.rendering import render
from web.replies import json_response

routes = web.RouteTableDef()
MAX_CSV = 8 << 20


DRAW_JOB = web.AppKey("draw_job", DrawJob)


@routes.get("/api/experts", name="experts.list")
async def list_pool(request: web.Request) -> web.Response:
    pool = await experts.list_experts(ctx(request).engine)
    return json_response({"experts": [e.to_json() for e in pool]})


def decode_csv(raw: bytes) -> str:
    """The CSV text of an upload: UTF-8 (with or without a byte-order mark), else one clear error."""
    try:
        return check_text(raw.decode("utf-8-sig"), "CSV 文件")
    except UnicodeDecodeError:
        raise BadRequest("表格文件不是 UTF-8 编码（可能是 GBK），请在表格软件中另存为“CSV UTF-8”后再导入") from None


@routes.post("/api/experts/import", name="experts.csv_import")
async def import_pool(request: web.Request) -> web.Response:
    actor = current_actor(request)
    if request.content_type == "application/json":
        text = (await json_body(request)).get("csv")
    else:
        if request.content_length is not None and request.content_length > MAX_CSV:
            raise PayloadTooLarge("表格文件超过 {mib} MiB，请拆分后分批导入", mib=MAX_CSV >> 20)
        raw = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            raw += chunk
            if len(raw) > MAX_CSV:
                raise PayloadTooLarge("表格文件超过 {mib} MiB，请拆分后分批导入", mib=MAX_CSV >> 20)
        text = decode_csv(bytes(raw))
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("表格文件是空的，请选择填好的文件（可下载模板）")
    report = await experts.import_csv(ctx(request).engine, ctx(request).audit, text, actor)
    lang = language_of(request)
    return json_response(report.to_json(lambda reason: localize(reason, lang)))


@routes.get("/experts/template.csv", name="experts.template")
async def template(request: web.Request) -> web.Response:
    return web.Response(body=template_csv().encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": "attachment; filename*=UTF-8''%E4%B8%93%E5%AE%B6%E5%BA%93%E6%A8%A1%E6%9D%BF.csv"})


def _form_errors(request: web.Request, exc: FormErrors) -> web.Response:
    return error_response(400, exc.text, request, errors=exc.errors)


@routes.post("/api/experts", name="experts.add")
async def add_expert(request: web.Request) -> web.Response:
    try:
        record = await pool_edit.save_expert(ctx(request).engine, ctx(request).audit, current_actor(request), None, await json_body(request))
    except FormErrors as exc:
        return _form_errors(request, exc)
    return json_response({"code": record.id}, status=201)


@routes.post("/api/experts/{code}", name="experts.edit")
async def edit_expert(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    try:
        record = await pool_edit.save_expert(ctx(request).engine, ctx(request).audit, current_actor(request), code, await json_body(request))
    except FormErrors as exc:
        return _form_errors(request, exc)
    return json_response({"code": record.id})


@routes.post("/api/experts/{code}/deactivate", name="experts.deactivate")
async def deactivate(request: web.Request) -> web.Response:
    await pool_edit.set_active(ctx(request).engine, ctx(request).audit, current_actor(request), request.match_info["code"], False)
    return json_response({"code": request.match_info["code"], "active": False})


@routes.post("/api/experts/{code}/reactivate", name="experts.reactivate")
async def reactivate(request: web.Request) -> web.Response:
    await pool_edit.set_active(ctx(request).engine, ctx(request).audit, current_actor(request), request.match_info["code"], True)
    return json_response({"code": request.match_info["code"], "active": True})


@routes.post("/api/tenders/{id}/draw", name="experts.draw.request")
async def request_draw(request: web.Request) -> web.Response:
    body = await draw_service.request_draw(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    if DRAW_JOB in request.app:
        request.app[DRAW_JOB].kick()
    return json_response(body, status=201)


@routes.post("/api/tenders/{id}/draw/preview", name="experts.draw.preview")
async def preview_draw(request: web.Request) -> web.Response:
    answer = await draw_service.preview_draw(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    if "problem" in answer:
        answer["problem"] = localize(answer["problem"], language_of(request))
    return json_response(answer)


@routes.get("/api/tenders/{id}/draw", name="experts.draw.status")
async def status(request: web.Request) -> web.Response:
    return json_response(await draw_status(ctx(request), current_actor(request), request.match_info["id"]))


def _decline_answer(out: dict[str, Any], lang: str) -> dict[str, Any]:
    """Neither the agency nor the expert learns who replaced the decliner (the list is sealed)."""
    answer: dict[str, Any] = {"declined": out["declined"], "replaced": len(out["replacements"])}
    if "problem" in out:
        answer["problem"] = localize(out["problem"], lang)
    return answer


@routes.post("/api/tenders/{id}/draw/decline", name="experts.draw.decline")
async def record_decline(request: web.Request) -> web.Response:
    body = await json_body(request)
    out = await draw_service.decline(ctx(request), current_actor(request), request.match_info["id"], body.get("expert_id"),
                                     body.get("reason"), body.get("ground"), body.get("evidence"))
    return json_response(_decline_answer(out, language_of(request)))


@routes.get("/api/experts/me/invitations", name="experts.invitations")
async def invitations(request: web.Request) -> web.Response:
    return json_response({"invitations": await invitations_of(ctx(request), current_actor(request))})


@routes.post("/api/experts/me/invitations/{id}/accept", name="experts.accept")
async def accept(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_to_expert(ctx(request), actor, request.match_info["id"])
    await draw_service.accept(ctx(request), actor, request.match_info["id"])
    # a replacement for a member that withdrew at check-in joins the session (补抽)
    evaluation = request.app.get(EVALUATION)
    joined = None if evaluation is None else await refill.join_replacement(evaluation, actor, request.match_info["id"])
    body = {"tender": request.match_info["id"], "status": "accepted"}
    return json_response({**body, "joined": True} if joined is not None else body)


@routes.post("/api/experts/me/invitations/{id}/decline", name="experts.decline")
async def decline(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_to_expert(ctx(request), actor, request.match_info["id"])
    body = await optional_json_body(request)
    out = await draw_service.decline(ctx(request), actor, request.match_info["id"], None, body.get("reason"),
                                     body.get("ground"), body.get("evidence"))
    return json_response(_decline_answer(out, language_of(request)))


# -- pages -------------------------------------------------------------------------------------


def _page_view(record: ExpertRecord, username: str | None) -> dict[str, Any]:
    """What the pool page shows of an expert: no account id, the ID number masked."""
    data = record.to_json()
    return {"code": record.id, "name": record.name, "id_number": mask_id_number(record.id_number), "username": username or "",
            "region": record.region, "specialties": data["specialties"], "sites": data["sites"], "active": record.active}


def _form_view(record: ExpertRecord, username: str | None) -> dict[str, str]:
    """The edit form's fields, in the CSV's cell format."""
    data = record.to_json()
    return {
        "name": record.name, "id_number": record.id_number or "", "username": username or "", "region": record.region,
        "sites": ";".join(data["sites"]), "specialties": ";".join(data["specialties"]),
        "employers": ";".join(f"{e['org']}|{e['role']}|{e['from']}|{e['to'] or ''}" for e in data["employers"]),
        "relatives": ";".join(f"{r['org']}|{r['kinship']}" for r in data["relatives"]),
        "unavailable": ";".join(f"{p['from']}|{p['to'] or ''}" for p in data["unavailable"]),
    }


@routes.get("/experts", name="experts.page")
async def pool_page(request: web.Request) -> web.Response:
    actor = current_actor(request)
    pool = await experts.pool_with_usernames(ctx(request).engine)
    return render(request, "experts_pool.html", experts=[_page_view(e, u) for e, u in pool], role=actor.role,
                  can_edit=actor.role in ("admin", "agency"))


@routes.get("/experts/new", name="experts.new.page")
async def new_page(request: web.Request) -> web.Response:
    return render(request, "experts_form.html", code=None, form={"sites": "main;remote"})


@routes.get("/experts/{code}/edit", name="experts.edit.page")
async def edit_page(request: web.Request) -> web.Response:
    record, username = await pool_edit.get_expert(ctx(request).engine, request.match_info["code"])
    return render(request, "experts_form.html", code=record.id, form=_form_view(record, username), active=record.active)


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
