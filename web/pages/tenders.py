"""The tender pages (招标项目): list, new tender, detail, bid page and opening hall (开标大厅).

Server-rendered with jinja2; every action on a page is a small script in web/static/ calling the
JSON API of docs/tenders.md (with the ``X-CSRF-Token`` header), so these handlers only read. Each
page also carries what its script needs as JSON in ``<script type="application/json" id="page-data">``.
Who may open each page is declared in web/access/permissions/pages.py; the same ownership checks as the
JSON API apply (a draft is its agency's, the hall is for the tender's agency, its bidders and
supervisors). Bids are sealed in the browser: this module never sees a bid's plaintext.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from evaluation.audit.entry import Actor
from evaluation.errors import DomainError
from evaluation.session import result
from evaluation.session.ids import evaluation_id
from evaluation.session.rules import SessionState
from evaluation.session.session import get_session, sessions_of
from evaluation.tenders import opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.bids import may_bid
from evaluation.tenders.lots import bid_fields, lots_json
from evaluation.tenders.opening_record import AFTER_OPENING
from evaluation.tenders.rules import (
    DEFAULT_FIELDS,
    DEFAULT_MAX_BID_BYTES,
    DEFAULT_OBJECTION_WINDOW,
    TenderState,
)
from evaluation.tenders.store import bid_of
from web.api.evaluation import EVALUATION
from web.api.hall import hall_closed
from web.api.tenders import ctx, current_actor, tender_view, visible_tender
from web.errors import Forbidden
from web.pages.home import beacon_status
from web.rendering import render

routes = web.RouteTableDef()


def _common(request: web.Request) -> dict[str, Any]:
    return {
        "beacon": beacon_status(request.app),
        "now": time.time(),
    }


async def _may_enter_hall(request: web.Request, tender: tenders.Tender, actor: Actor) -> bool:
    if actor.role == "supervisor" or tender.owned_by(actor):
        return True
    if actor.role == "bidder":
        async with ctx(request).engine.connect() as conn:
            return await bid_of(conn, tender.id, actor.account) is not None
    return False


@routes.get("/tenders", name="pages.tenders")
async def tender_list(request: web.Request) -> web.Response:
    actor = current_actor(request)
    mine = bool(request.query.get("mine")) and actor.role == "agency"
    items = []
    for t in await tenders.list_all(ctx(request)):
        if t.state is TenderState.DRAFT and not (t.owned_by(actor) or actor.role == "supervisor"):
            continue
        if mine and not t.owned_by(actor):
            continue
        items.append(t.to_json())
    return render(request, "tender_list.html", tenders=items, role=actor.role, mine=mine, **_common(request))


def _form_page(request: web.Request, draft: dict[str, Any] | None) -> web.Response:
    defaults = {
        "record_fields": [f.to_json() for f in DEFAULT_FIELDS],
        "max_bid_bytes": DEFAULT_MAX_BID_BYTES,
        "objection_window_s": DEFAULT_OBJECTION_WINDOW,
    }
    data = {"draft": draft, "defaults": defaults, "beacon": beacon_status(request.app)}
    return render(request, "tender_new.html", draft=draft, defaults=defaults, page_data=data, **_common(request))


@routes.get("/tenders/new", name="pages.tender_new")
async def tender_new(request: web.Request) -> web.Response:
    current_actor(request)
    return _form_page(request, None)


@routes.get("/tenders/{id}/edit", name="pages.tender_edit")
async def tender_edit(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    if not tender.owned_by(actor):
        raise Forbidden("「{title}」属于其他采购代理机构", title=tender.spec.title)
    if tender.state is not TenderState.DRAFT:
        raise web.HTTPSeeOther(f"/tenders/{tender.id}")
    return _form_page(request, await tender_view(request, tender, actor))


async def _candidates(request: web.Request, session_id: str) -> list[dict[str, Any]] | None:
    """The recommended candidates of a signed report, for the agency's result form; else None."""
    try:
        session = await get_session(request.app[EVALUATION], session_id)
    except DomainError:
        return None
    if session.state is not SessionState.DONE or session.report is None:
        return None
    names = {b["bid"]: b["bidder_name"] for b in session.report["bids"]}
    return [{"bid": b, "bidder_name": names.get(b, b)} for b in session.report["recommendation"]["candidates"]]


async def _lot_evaluations(request: web.Request, tender: Any, published: dict[Any, Any]) -> list[dict[str, Any]]:
    """A multi-lot tender's lots (分包) once its record is confirmed: each with its session's id and
    state (``none`` before it starts) and whether its result is published; empty otherwise."""
    if len(tender.spec.lots) < 2 or tender.state not in LOT_STATES:
        return []
    started = {s["lot"]: s for s in (await sessions_of(request.app[EVALUATION].engine, [tender.id])).get(tender.id, [])}
    return [{"lot": n, "name": lot.name, "id": evaluation_id(tender.id, n),
             "state": started.get(n, {}).get("state", "none"), "published": n in published}
            for n, lot in enumerate(tender.spec.lots, start=1)]


LOT_STATES = (TenderState.CONFIRMED, TenderState.EVALUATING, TenderState.AWARDED, TenderState.FAILED)


@routes.get("/tenders/{id}", name="pages.tender")
async def tender_detail(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    view = await tender_view(request, tender, actor)
    owner = tender.owned_by(actor)
    after = tender.state in AFTER_OPENING
    record = await opening_record.record(ctx(request), tender.id) if after else None
    leads = None
    if after and (owner or actor.role == "supervisor"):
        leads = await opening_record.collusion_leads(ctx(request), tender.id)
    data = {"tender": view, "owner": owner, "role": actor.role, "record": record}
    published: dict[Any, Any] = {}
    if tender.state in (TenderState.AWARDED, TenderState.EVALUATING):
        published = await result.published_results(request.app[EVALUATION], tender.id)
    lots = await _lot_evaluations(request, tender, published)
    forms = []  # the agency's result form of each signed report not yet published (one per lot)
    if tender.state is TenderState.EVALUATING and owner:
        for item in lots or [{"lot": None, "name": "", "id": tender.id, "published": None in published}]:
            found = None if item["published"] else await _candidates(request, item["id"])
            if found:
                forms.append({"lot": item["lot"], "name": item["name"], "candidates": found})
    return render(
        request,
        "tender_detail.html",
        results=sorted(published.values(), key=lambda r: (r.get("lot") or {}).get("lot", 0)),
        result_forms=forms,
        lot_evaluations=lots,
        tender=view,
        owner=owner,
        role=actor.role,
        after_opening=after,
        before_deadline=tender.state is TenderState.PUBLISHED and time.time() < tender.spec.opening_time,
        may_bid=may_bid(tender, actor, time.time()),
        may_enter_hall=await _may_enter_hall(request, tender, actor),
        record=record,
        leads=leads,
        bidder_names={r["bidder"]: r["bidder_name"] for r in (record or {}).get("rows", [])},
        page_data=data,
        **_common(request),
    )


@routes.get("/tenders/{id}/bid", name="pages.bid")
async def bid_page(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    view = await tender_view(request, tender, actor)
    open_for_bids = tender.state is TenderState.PUBLISHED and time.time() < tender.spec.opening_time
    invited = not tender.spec.invited or actor.account in tender.spec.invited
    beacon = beacon_status(request.app)
    data = {
        "tender": view,
        "beacon_url": beacon["url"],
        "open": open_for_bids,
        "upload_url": f"/api/tenders/{tender.id}/bid",
        "lots": lots_json(tender.spec),
        "bid_fields": [f.to_json() for f in bid_fields(tender.spec)],
    }
    return render(
        request,
        "tender_bid.html",
        tender=view,
        lots=lots_json(tender.spec),
        bid_fields=[f.to_json() for f in bid_fields(tender.spec)],
        open_for_bids=open_for_bids,
        invited=invited,
        page_data=data,
        **_common(request),
    )


@routes.get("/tenders/{id}/hall", name="pages.hall")
async def hall_page(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    if not await _may_enter_hall(request, tender, actor):
        raise Forbidden(hall_closed(tender))
    view = await tender_view(request, tender, actor)
    bid: dict[str, Any] | None = view.get("my_bid")
    data = {
        "tender_id": tender.id,
        "role": actor.role,
        "account": actor.account,
        "owner": tender.owned_by(actor),
        "may_sign_in": tender.owned_by(actor) or (bid is not None and bid["status"] == "submitted"),
        "ws_path": f"/api/tenders/{tender.id}/hall/ws",
    }
    return render(request, "tender_hall.html", tender=view, page_data=data, **_common(request))

