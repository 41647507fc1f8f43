"""Pages of the evaluation session: the session page (web/static/evaluation.js calls the JSON API)
and the evaluation report as printable HTML and as PDF."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation.session import report as session_report
from evaluation.session import view as session_view
from evaluation.tenders.store import bid_rows
from web.api.evaluation import ctx
from web.api.tenders import current_actor
from web.rendering import render

routes = web.RouteTableDef()


@routes.get("/evaluation/{id}", name="evaluation.page")
async def page(request: web.Request) -> web.Response:
    tender_id = request.match_info["id"]
    return render(request, "evaluation_session.html", tender_id=tender_id, account=request["account"])


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
    pdf = session_report.render_pdf(body["report"], body["sha256"], body["signers"])
    name = f"evaluation-report-{request.match_info['id']}.pdf"
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
