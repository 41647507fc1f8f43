"""Pages of the committee's decisions on bids and the bidder's answers (87号令 arts. 59–60, 投标无效):
评审决定 for the committee (arithmetic corrections, price queries and their decisions, invalid
bids; web/static/decisions.js), 评审询问 for a bidder (confirm a correction, justify a low price
with a document; web/static/my_bid.js), and the justification's document, each reading logged."""

from __future__ import annotations

from aiohttp import web

from evaluation.errors import DomainError
from evaluation.session import justifications
from evaluation.session.bid_queries import MAX_MINUTES, MAX_TEXT
from evaluation.session.ids import parse_evaluation_id
from evaluation.tenders.tender import get
from web.api.evaluation import ctx
from web.api.tenders import current_actor
from web.i18n import language_of
from web.labels import labels_in
from web.pages.evaluation import document_response
from web.rendering import render

routes = web.RouteTableDef()
LABEL_SETS = ("invalid_ground", "correction_rule", "correction_status", "low_price_status", "session_state")


async def _page(request: web.Request, template: str, script: str) -> web.Response:
    evaluation = request.match_info["id"]  # the session: a tender's, or one lot's (<tender>.<lot>)
    tender_id, lot = parse_evaluation_id(evaluation)
    try:
        title = (await get(ctx(request).tenders, tender_id)).spec.title
    except DomainError:
        title = ""
    lang = language_of(request)
    data = {"tender_id": evaluation, "account": request["account"].id, "labels": {k: labels_in(lang, k) for k in LABEL_SETS},
            "max_minutes": MAX_MINUTES, "max_text": MAX_TEXT, "max_document_mib": justifications.MAX_DOCUMENT_BYTES >> 20}
    return render(request, template, tender_id=tender_id, evaluation_id=evaluation, lot=lot,
                  tender_title=title or tender_id, page_data=data, script=script)


@routes.get("/evaluation/{id}/decisions", name="evaluation.decisions_page")
async def decisions_page(request: web.Request) -> web.Response:
    return await _page(request, "evaluation_decisions.html", "decisions.js")


@routes.get("/evaluation/{id}/my-bid", name="evaluation.my_bid_page")
async def my_bid_page(request: web.Request) -> web.Response:
    return await _page(request, "evaluation_my_bid.html", "my_bid.js")


@routes.get("/evaluation/{id}/bids/{bid}/justification", name="evaluation.justification")
async def justification(request: web.Request) -> web.StreamResponse:
    """The supporting document of a price justification: shown in the page when the browser can,
    else downloaded (``?download=1`` always downloads). The reading is logged first."""
    m = request.match_info
    doc = await justifications.open_justification(ctx(request), current_actor(request), m["id"], m["bid"])
    return document_response(request, doc.name, doc.path)
