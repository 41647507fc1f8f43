"""Supervisor pages (监管回放): the log overview and a tender's replay with filters.

The entries come from the log's checked reads (evaluation/audit/check.py): when a stored entry
does not match its leaf or the signed tree, the page shows the failure and no entries at all.
"""

from __future__ import annotations

from aiohttp import web

from crypto.errors import CryptoError
from crypto.note import Verifier
from evaluation.audit import overview
from evaluation.audit.events import replay
from evaluation.errors import IntegrityFailure
from web.api.audit import entry_index, int_param
from web.errors import BadRequest, NotFound
from web.i18n import language_of, localize, translate
from web.keys import AUDIT_LOG, ENGINE, LOG_VKEY, SETTINGS
from web.labels import N_, label_in
from web.pages import audit_lookup, audit_recordings
from web.pages.audit_view import STAGES, Reader, entry_view, grouped, state_tables
from web.rendering import render

routes = web.RouteTableDef()


@routes.get("/audit", name="audit.home")
async def audit_home(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    try:
        entries = await overview.platform_entries(log)
        verified = await overview.verify_view(log, request.app[LOG_VKEY], entries)
    except IntegrityFailure as exc:
        detail = localize(exc.text, language_of(request))
        entries, verified = [], overview.Verification(False, detail, reason="integrity")
    cp = verified.checkpoint
    checkpoint = {
        "origin": log.origin,
        "size": cp.size if cp else "—",
        "root_hex": cp.root.hex() if cp else "—",
    }
    reader = await reader_for(request, entries)
    return render(
        request,
        "audit.html",
        verified=verified,
        checkpoint=checkpoint,
        vkey=request.app[LOG_VKEY],
        tenders=await audit_lookup.named_tenders(request.app[ENGINE], await overview.tender_summaries(request.app[ENGINE])),
        groups=grouped([entry_view(e, reader) for e in entries]),
        selected=None,
        tender_id=None,
        query={},
    )


async def reader_for(request: web.Request, entries: list) -> Reader:
    names = await audit_lookup.names(request.app[ENGINE], entries)
    return Reader(language_of(request), request.app[SETTINGS].time_zone, names)


@routes.get("/audit/tenders/{tender_id}", name="audit.tender")
async def audit_tender(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    tender_id = request.match_info["tender_id"]
    title, tender_state = await audit_lookup.tender_title(request.app[ENGINE], tender_id)
    common = {"tender_id": tender_id, "title": title, "tender_state": tender_state, "stages": STAGES}
    try:
        everything = await log.entries_for_tender(tender_id)
    except IntegrityFailure as exc:
        return render(
            request, "audit_tender.html", **common, groups=[], kinds=[], actors=[], stage_counts={}, query={},
            selected=None, state=None,
            verified=overview.Verification(False, localize(exc.text, language_of(request)), reason="integrity"),
        )
    if not everything:
        raise NotFound(translate(N_("此项目在审计日志中没有条目。"), language_of(request)))
    reader = await reader_for(request, everything)
    views = [entry_view(e, reader) for e in everything]
    kind = request.query.get("kind") or None
    actor = request.query.get("actor") or None
    stage = request.query.get("stage") or None
    if stage is not None and stage not in STAGES:
        stages = "、".join(label_in(language_of(request), "stage", s) for s in STAGES)
        raise BadRequest(translate(N_("没有这个阶段；可选：{stages}。"), language_of(request), stages=stages))
    until = page_number(request) if "until" in request.query else None
    shown = [
        (e, v) for e, v in zip(everything, views, strict=True)
        if (kind is None or e.kind == kind) and (actor is None or e.actor.account == actor)
        and (stage is None or v.stage == stage)
    ]
    stage_counts = {s: sum(1 for v in views if v.stage == s) for s in STAGES}
    query = {k: v for k, v in (("kind", kind), ("actor", actor), ("stage", stage)) if v}
    return render(
        request,
        "audit_tender.html",
        **common,
        groups=grouped([v for _, v in shown]),
        kinds=sorted({(v.kind, v.event) for v in views}, key=lambda kv: kv[1]),
        actors=sorted({(e.actor.account, v.actor) for e, v in zip(everything, views, strict=True)}, key=lambda a: a[1]),
        kind=kind,
        actor=actor,
        stage=stage,
        stage_counts=stage_counts,
        query=query,
        selected=until,
        state=state_tables(replay(everything, until_index=until), reader),
        verified=await overview.verify_view(log, request.app[LOG_VKEY], everything),
        recordings=audit_recordings.replay_recordings(request, tender_id, everything, reader.name),
    )


@routes.get("/audit/tenders/{tender_id}/recordings/{room}/{file}", name="audit.recording")
async def audit_recording(request: web.Request) -> web.StreamResponse:
    """An archived recording of the tender, for the replay's players (Range requests: seekable)."""
    return await audit_recordings.recording_file(request)


def page_number(request: web.Request) -> int:
    """The replay's ``until`` (show the state at that entry): a whole number, said in words when not."""
    try:
        return int_param(request, "until", -1)
    except BadRequest:
        raise BadRequest(translate(N_("“截至第几条”须为非负整数。"), language_of(request))) from None


@routes.get("/audit/receipt/{index}", name="audit.receipt_page")
async def audit_receipt(request: web.Request) -> web.Response:
    """An entry's receipt as a page: the entry read as on the replay, its inclusion proof and the
    signed checkpoint, checked here against the log's verifier key as an outside verifier would."""
    log = request.app[AUDIT_LOG]
    try:
        index = entry_index(request)
    except NotFound:
        raise NotFound(translate(N_("没有这个条目：日志共有 {n} 个条目。"), language_of(request), n=log.size)) from None
    except BadRequest:
        raise BadRequest(translate(N_("条目序号须为非负整数。"), language_of(request))) from None
    rec = await log.receipt(index)
    entry = (await log.entries(index, index + 1))[0]
    reader = await reader_for(request, [entry])
    try:
        rec.verify(Verifier.from_key_text(request.app[LOG_VKEY]))
        checked = overview.Verification(
            True, f"entry {entry.index} is included in the signed checkpoint of {rec.checkpoint.size} entries"
        )  # the page says this in the reader's language; the line stays for the record
    except CryptoError as exc:
        checked = overview.Verification(False, str(exc), reason="proof")
    title = (await audit_lookup.tender_title(request.app[ENGINE], entry.tender_id))[0] if entry.tender_id else None
    return render(request, "audit_receipt.html", view=entry_view(entry, reader), entry=entry, receipt=rec.to_json(),
                  title=title, verified=checked)
