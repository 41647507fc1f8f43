"""Supervisor pages (监管回放): the log overview and a tender's replay with filters.

The entries come from the log's checked reads (evaluation/audit/check.py): when a stored entry
does not match its leaf or the signed tree, the page shows the failure and no entries at all.
"""

from __future__ import annotations

from aiohttp import web

from evaluation.audit import overview
from evaluation.audit.events import replay
from evaluation.errors import IntegrityFailure
from web.api.audit import int_param
from web.keys import AUDIT_LOG, ENGINE, LOG_VKEY
from web.rendering import render

routes = web.RouteTableDef()


@routes.get("/audit", name="audit.home")
async def audit_home(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    try:
        entries = await overview.platform_entries(log)
        verified = await overview.verify_view(log, request.app[LOG_VKEY], entries)
    except IntegrityFailure as exc:
        entries, verified = [], overview.Verification(False, exc.message)
    cp = verified.checkpoint
    checkpoint = {
        "origin": log.origin,
        "size": cp.size if cp else "—",
        "root_hex": cp.root.hex() if cp else "—",
    }
    return render(
        request,
        "audit.html",
        verified=verified,
        checkpoint=checkpoint,
        vkey=request.app[LOG_VKEY],
        tenders=await overview.tender_summaries(request.app[ENGINE]),
        entries=entries,
        selected=None,
        tender_id=None,
    )


@routes.get("/audit/tenders/{tender_id}", name="audit.tender")
async def audit_tender(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    tender_id = request.match_info["tender_id"]
    try:
        everything = await log.entries_for_tender(tender_id)
    except IntegrityFailure as exc:
        return render(
            request, "audit_tender.html", tender_id=tender_id, entries=[], kinds=[], actors=[], kind=None,
            actor=None, selected=None, state={}, verified=overview.Verification(False, exc.message),
        )
    if not everything:
        raise web.HTTPNotFound(reason=f"no audit entries for tender {tender_id}")
    kind = request.query.get("kind") or None
    actor = request.query.get("actor") or None
    until = int_param(request, "until", -1) if "until" in request.query else None
    shown = [e for e in everything if (kind is None or e.kind == kind) and (actor is None or e.actor.account == actor)]
    state = replay(everything, until_index=until)
    return render(
        request,
        "audit_tender.html",
        tender_id=tender_id,
        entries=shown,
        kinds=sorted({e.kind for e in everything}),
        actors=sorted({e.actor.account for e in everything}),
        kind=kind,
        actor=actor,
        selected=until,
        state={k: v for k, v in state.items() if k != "timeline"},
        verified=await overview.verify_view(log, request.app[LOG_VKEY], everything),
    )
