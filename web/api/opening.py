"""JSON API of the opening record (开标记录表): read it, confirm it, object (异议), answer, and the
collusion leads for the owning agency and supervisors after the opening."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from urllib.parse import quote

from aiohttp import web

from evaluation.tenders import opening_record, record_signing
from evaluation.tenders.record_document import render_pdf
from web.api.body import json_body, optional_json_body
from web.api.tenders import ctx, current_actor, display_name, visible_tender
from web.errors import Forbidden
from web.formatting import local_when
from web.i18n import language_of, lookup_in, translate
from web.keys import SETTINGS
from web.labels import LABELS
from web.replies import json_response

routes = web.RouteTableDef()


@routes.get("/api/tenders/{id}/record", name="opening.record")
async def record(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    return json_response(await opening_record.record(ctx(request), tender.id))


STATUS = {"opened": "已开启", "failed": "未能开启"}
NUMBER = re.compile(r"-?[\d,]+(\.\d+)?")


def cell(value: object) -> str:
    """A cell a spreadsheet shows as text: what a bidder wrote never runs as a formula."""
    text = str(value)
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not NUMBER.fullmatch(text)):
        return "'" + text
    return text


def record_csv(tender_title: str, rec: dict) -> str:
    """The opening record as a CSV people open in a spreadsheet (pure): one line per bid, or per bid
    and lot; the record's own values (amounts as the bid states them), the status in words."""
    out = io.StringIO()
    raw = csv.writer(out)

    def line(cells: list) -> None:
        raw.writerow([cell(c) for c in cells])

    fields = rec["fields"]
    multi = bool(rec["lots"])
    line([tender_title])
    line(["序号", "投标人", *(["分包", "报价（元）"] if multi else []), *(f["label_zh"] for f in fields),
                "文件", "状态", "原因"])
    for row in rec["rows"]:
        for lot in (row.get("lots") or [None]) if multi else [None]:
            lot_cells = [] if not multi else ["" if lot is None else f"第{lot['lot']}包 {lot.get('name') or ''}".strip(),
                                               "" if lot is None else str(lot["price"])]
            line([row["seq"], row["bidder_name"], *lot_cells,
                        *("" if row["fields"].get(f["key"]) is None else str(row["fields"][f["key"]]) for f in fields),
                        "；".join(d["name"] for d in row["documents"]), STATUS.get(row["status"], row["status"]),
                        row["reason"] or ""])
    return "\ufeff" + out.getvalue()  # the BOM: spreadsheets then read the Chinese as UTF-8


@routes.get("/api/tenders/{id}/record.csv", name="opening.record_csv")
async def record_as_csv(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    rec = await opening_record.record(ctx(request), tender.id)
    name = quote(f"开标记录表-{tender.spec.title}.csv")
    return web.Response(text=record_csv(tender.spec.title, rec), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@routes.get("/api/tenders/{id}/record/document", name="opening.record_document")
async def record_document(request: web.Request) -> web.Response:
    """The record as the signed document: ``{"document", "sha256", "signatures"}`` — recompute the
    hash from ``document`` (canonical JSON) to check a signature (docs/tenders.md)."""
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    return json_response(await record_signing.document(ctx(request), tender.id))


@routes.get("/api/tenders/{id}/record.pdf", name="opening.record_pdf")
async def record_pdf(request: web.Request) -> web.Response:
    """The record as a PDF: bids, prices (with 大写), decryption status, attendance, read-out,
    confirmations, objections, signatures, hash — times on the installation's clock with the zone."""
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    body = await record_signing.document(ctx(request), tender.id)
    lang = language_of(request)  # a reader's English copy; the signed content stays as signed
    when = local_when(request.app[SETTINGS].time_zone, lookup_in(lang))
    method = translate(LABELS["method"].get(tender.spec.method.value, ""), lang)
    pdf = await asyncio.to_thread(render_pdf, body["document"], body["sha256"], body["signatures"], when, method,
                                  lookup_in(lang))
    name = quote(f"开标记录表-{tender.spec.title}.pdf")
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@routes.post("/api/tenders/{id}/record/sign", name="opening.sign")
async def sign(request: web.Request) -> web.Response:
    """The host (the tender's agency) signs the record: ``{"sha256"}`` of the
    document it saw; logged as ``opening.record_signed``."""
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    data = await optional_json_body(request)
    signed = await record_signing.sign(ctx(request), actor, tender.id, display_name(request), data.get("sha256"))
    return json_response(signed, status=201)


@routes.post("/api/tenders/{id}/record/confirm", name="opening.confirm")
async def confirm(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    return json_response(await opening_record.confirm(ctx(request), actor, tender.id), status=201)


@routes.post("/api/tenders/{id}/record/objections", name="opening.object")
async def object_to(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    data = await json_body(request)
    return json_response(await opening_record.object_to(ctx(request), actor, tender.id, data.get("text")), status=201)


@routes.post("/api/tenders/{id}/record/objections/{objection}/answer", name="opening.answer")
async def answer(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    data = await json_body(request)
    result = await opening_record.answer(ctx(request), actor, tender.id, request.match_info["objection"], data.get("text"))
    return json_response(result, status=201)


@routes.get("/api/tenders/{id}/leads", name="opening.leads")
async def leads(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    if actor.role != "supervisor" and not tender.owned_by(actor):
        raise Forbidden("「{title}」属于其他采购代理机构", title=tender.spec.title)
    return json_response({"leads": await opening_record.collusion_leads(ctx(request), tender.id)})
