"""Pages of the evaluation session: the session page (web/static/evaluation.js calls the JSON API)
and the evaluation report as printable HTML and as PDF."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from evaluation.errors import DomainError
from evaluation.session import documents
from evaluation.session import report as session_report
from evaluation.session import view as session_view
from evaluation.session.ids import parse_evaluation_id
from evaluation.tenders.criteria import DEFAULT_DEVIATION_PERCENT, percent_text
from evaluation.tenders.store import bid_rows
from evaluation.tenders.tender import get
from web.api.evaluation import ctx
from web.api.tenders import current_actor
from web.errors import NotFound
from web.formatting import local_when
from web.i18n import language_of, lookup_in
from web.keys import SETTINGS
from web.labels import labels_in
from web.rendering import render
from web.replies import json_response

routes = web.RouteTableDef()


@routes.get("/evaluation/{id}", name="evaluation.page")
async def page(request: web.Request) -> web.Response:
    """The session `{id}`: a tender's, or one lot's (``<tender>.<lot>``); before it starts, its
    agency's start form (for a lot, of that lot; for a multi-lot tender's own id, with a lot to choose)."""
    evaluation = request.match_info["id"]
    tender_id, lot = parse_evaluation_id(evaluation)
    tenders_ctx = ctx(request).tenders
    try:
        tender = await get(tenders_ctx, tender_id)
    except DomainError:
        tender = None
    lot_name = lot_of_tender(tender, lot)
    try:
        bids = await documents.bid_documents(tenders_ctx, current_actor(request), tender_id)
        fields = [f.to_json() for f in tender.spec.record_fields] if tender else []
        if lot is not None:  # a lot's session: the bids taking part in that lot (and those that failed to open)
            bids = [b for b in bids if b["status"] != "opened" or lot in b["lots"]]
    except DomainError:  # not opened yet, or not this reader's: the page shows the session only
        bids, fields = [], []
    lang = language_of(request)
    return render(request, "evaluation_session.html", tender_id=tender_id, evaluation_id=evaluation,
                  lot=None if lot_name is None else {"lot": lot, "name": lot_name}, account=request["account"],
                  tender_title=tender.spec.title if tender else tender_id, criteria_text=criteria_texts(tender),
                  state_labels=labels_in(lang, "session_state"), site_labels=labels_in(lang, "site_role"),
                  bid_documents=bids, record_fields=fields, start=await start_form(request, tender_id, lot))


def lot_of_tender(tender: Any, lot: int | None) -> str | None:
    """The name of the lot `lot` of `tender`; None without a lot. A lot the tender lacks: 404."""
    if lot is None:
        return None
    if tender is None or not 1 <= lot <= len(tender.spec.lots) or len(tender.spec.lots) < 2:
        raise NotFound("本项目没有第{lot}包", lot=lot)
    return str(tender.spec.lots[lot - 1].name)


def criteria_texts(tender: Any) -> dict[str, dict[str, Any]]:
    """What the score sheet prints beside each box, by the session's criterion code (``c1``… in the
    tender's order, evaluation/session/rules.py criteria_from_tender): name, description, points."""
    if tender is None:
        return {}
    return {f"c{i}": {"name": c.name, "description": c.description, "points": c.points}
            for i, c in enumerate(tender.spec.criteria, start=1)}


async def start_form(request: web.Request, tender_id: str, lot: int | None = None) -> dict[str, Any] | None:
    """What the start section shows its owning agency: the tender's criteria (read-only; the session
    takes them as they are) and its 畸高畸低 threshold in percent; the lots to choose from when the
    page is a multi-lot tender's own (none when it is one lot's). None for everyone else."""
    try:
        tender = await get(ctx(request).tenders, tender_id)
    except DomainError:
        return None
    if not tender.owned_by(current_actor(request)):
        return None
    spec = tender.spec
    percent = DEFAULT_DEVIATION_PERCENT if spec.deviation_threshold is None else spec.deviation_threshold
    lots = [{"lot": n, "name": each.name} for n, each in enumerate(spec.lots, start=1)] if len(spec.lots) > 1 and lot is None else []
    return {"criteria": [c.to_json() for c in spec.criteria], "threshold": percent_text(percent),
            "method": spec.evaluation_method.value, "lots": lots}


async def report_names(request: web.Request, report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """What the report's ids read as: members and bidders by account, bids by bid id, criteria by
    code. The report keeps the ids (they are what was signed); a person reads the names."""
    async with ctx(request).tenders.engine.connect() as conn:
        rows = await bid_rows(conn, report["tender"]["id"])
    people = {r.bidder: r.bidder_name for r in rows}
    people.update({m["account"]: m["name"] for m in report.get("members", [])})
    bids = {b["bid"]: b["bidder_name"] for b in report.get("bids", [])}
    criteria = {c["code"]: c.get("title") or c["code"] for c in report.get("criteria", [])}
    return {"people": people, "bids": bids, "criteria": criteria}


@routes.get("/evaluation/{id}/report", name="evaluation.report_page")
async def report_page(request: web.Request) -> web.Response:
    body = await session_view.report(ctx(request), current_actor(request), request.match_info["id"])
    names = await report_names(request, body["report"])
    return render(request, "evaluation_report.html", tender_id=request.match_info["id"], names=names, **body)


@routes.get("/evaluation/{id}/report.pdf", name="evaluation.report_pdf")
async def report_pdf(request: web.Request) -> web.Response:
    body = await session_view.report(ctx(request), current_actor(request), request.match_info["id"])
    names = await report_names(request, body["report"])
    lookup = lookup_in(language_of(request))  # a reader's English copy; the signed content stays as signed
    when = local_when(request.app[SETTINGS].time_zone, lookup)
    pdf = await asyncio.to_thread(session_report.render_pdf, body["report"], body["sha256"], body["signatures"], names,
                                  when, lookup)
    name = f"evaluation-report-{request.match_info['id']}.pdf"
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


INLINE = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".txt": "text/plain"}
"""Document types a browser shows in the page; every other type is offered as a download."""


@routes.get("/api/tenders/{id}/documents", name="evaluation.documents")
async def documents_api(request: web.Request) -> web.Response:
    items = await documents.bid_documents(ctx(request).tenders, current_actor(request), request.match_info["id"])
    return json_response({"bids": items})


@routes.get("/tenders/{id}/bids/{bid}/documents/{sha256}", name="evaluation.document")
async def document(request: web.Request) -> web.StreamResponse:
    """One document of an opened bid: shown in the page when the browser can (PDF, images, text),
    else downloaded (``?download=1`` always downloads). The opening is logged first."""
    m = request.match_info
    doc = await documents.open_document(ctx(request).tenders, current_actor(request), m["id"], m["bid"], m["sha256"])
    return document_response(request, doc.name, doc.path)


def document_response(request: web.Request, name: str, path: Path) -> web.FileResponse:
    """A bidder's file as the browser gets it: shown in the page when it can (PDF, images, text),
    else downloaded (``?download=1`` always downloads); nothing in it may run or load, and only
    this site's pages may frame it."""
    suffix = Path(name).suffix.lower()
    inline = suffix in INLINE and not request.query.get("download")
    headers = {
        "Content-Type": INLINE.get(suffix, "application/octet-stream") if inline else "application/octet-stream",
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    }
    return web.FileResponse(path, headers=headers)
