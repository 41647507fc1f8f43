"""Pages of the evaluation session: the session page (web/static/evaluation.js calls the JSON API)
and the evaluation report as printable HTML and as PDF."""

from __future__ import annotations

from aiohttp import web

from evaluation.session import report as session_report
from evaluation.session import view as session_view
from web.api.evaluation import ctx
from web.api.tenders import current_actor
from web.rendering import render

routes = web.RouteTableDef()


@routes.get("/evaluation/{id}", name="evaluation.page")
async def page(request: web.Request) -> web.Response:
    tender_id = request.match_info["id"]
    return render(request, "evaluation_session.html", tender_id=tender_id, account=request["account"])


@routes.get("/evaluation/{id}/report", name="evaluation.report_page")
async def report_page(request: web.Request) -> web.Response:
    body = await session_view.report(ctx(request), current_actor(request), request.match_info["id"])
    return render(request, "evaluation_report.html", tender_id=request.match_info["id"], **body)


@routes.get("/evaluation/{id}/report.pdf", name="evaluation.report_pdf")
async def report_pdf(request: web.Request) -> web.Response:
    body = await session_view.report(ctx(request), current_actor(request), request.match_info["id"])
    pdf = session_report.render_pdf(body["report"], body["sha256"], body["signers"])
    name = f"evaluation-report-{request.match_info['id']}.pdf"
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
