"""JSON API of the evaluation session (评标), docs/evaluation.md. Errors are raised, never returned:
web/errors.py maps them once. Who may call each route: web/access/permissions/evaluation.py."""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from evaluation.accounts.account import find_by_username
from evaluation.errors import Text
from evaluation.inputs import check_text, printable
from evaluation.session import bid_queries, justifications, member_keys, refill, result, validity
from evaluation.session import session as sessions
from evaluation.session import sheets as session_scoring
from evaluation.session import view as session_view
from evaluation.session.rules import SessionState
from evaluation.session.session import EvaluationContext
from evaluation.tenders.blobstore import TooLarge
from web.api.body import PayloadTooLarge, json_body
from web.api.tenders import current_actor
from web.booth.media import MEDIA
from web.booth.recording_rule import recording_required
from web.errors import BadRequest, NotFound
from web.replies import json_response

routes = web.RouteTableDef()
EVALUATION = web.AppKey("evaluation", EvaluationContext)


def ctx(request: web.Request) -> EvaluationContext:
    return request.app[EVALUATION]


async def _view(request: web.Request, status: int = 200) -> web.Response:
    body = await session_view.view(ctx(request), current_actor(request), request.match_info["id"])
    return json_response(body, status=status, headers={"Cache-Control": "no-store"})


def _signed(data: dict[str, Any]) -> tuple[Any, Any]:
    return data.get("document"), data.get("signature")


@routes.get("/api/evaluation/{id}", name="evaluation.view")
async def view(request: web.Request) -> web.Response:
    return await _view(request)


@routes.post("/api/evaluation/{id}/start", name="evaluation.start")
@recording_required
async def start(request: web.Request) -> web.Response:
    """开始评标. `{id}` is the session to start: the tender, or one lot's ``<tender>.<lot>`` (or the
    tender with ``lot`` in the body); the view returned is the new session's (its ``id``)."""
    started = await sessions.start(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    body = await session_view.view(ctx(request), current_actor(request), started.id)
    return json_response(body, status=201, headers={"Cache-Control": "no-store", "Location": f"/evaluation/{started.id}"})


@routes.post("/api/evaluation/{id}/members", name="evaluation.add_member")
async def add_member(request: web.Request) -> web.Response:
    data = await json_body(request)
    account = data.get("account")
    if "username" in data:  # the page names the representative by the username an officer knows
        username = data["username"]
        found = await find_by_username(ctx(request).engine, username) if isinstance(username, str) and username.strip() else None
        if found is None:
            raise NotFound("没有这个用户名的账户：请核对采购人代表的用户名")
        account = found.id
    await sessions.add_purchaser_rep(ctx(request), current_actor(request), request.match_info["id"], account)
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/members/{account}/refill", name="evaluation.refill")
async def refill_seat(request: web.Request) -> web.Response:
    """补抽: the agency refills the seat of a member that withdrew at check-in (evaluation/session/refill.py)."""
    await refill.refill(ctx(request), current_actor(request), request.match_info["id"], request.match_info["account"])
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/members/{account}/release", name="evaluation.release")
async def release_seat(request: web.Request) -> web.Response:
    """不再补足: the agency leaves a withdrawn member's seat unfilled when the committee without it is
    still lawfully composed (evaluation/session/refill.py release); ``{reason}``."""
    data = await json_body(request)
    await refill.release(ctx(request), current_actor(request), request.match_info["id"], request.match_info["account"],
                         data.get("reason"))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/checkin", name="evaluation.checkin")
async def checkin(request: web.Request) -> web.Response:
    await sessions.check_in(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


@routes.post("/api/tenders/{id}/result", name="evaluation.publish_result")
async def publish_result(request: web.Request) -> web.Response:
    """The agency publishes the result (结果公告) once the report is signed."""
    body = await result.publish_result(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return json_response(body, status=201)


@routes.post("/api/evaluation/{id}/key", name="evaluation.replace_key")
async def replace_key(request: web.Request) -> web.Response:
    """A member who lost its signing key registers a new one, after confirming its password."""
    await member_keys.replace_key(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 200)


@routes.post("/api/evaluation/{id}/votes", name="evaluation.vote")
async def vote(request: web.Request) -> web.Response:
    data = await json_body(request)
    await sessions.vote(ctx(request), current_actor(request), request.match_info["id"], data.get("candidate"))
    return await _view(request, 201)


@routes.get("/api/evaluation/{id}/sheets/{account}", name="evaluation.sheets")
async def sheets(request: web.Request) -> web.Response:
    body = await session_scoring.sheets_of(ctx(request), current_actor(request), request.match_info["id"],
                                           request.match_info["account"])
    return json_response(body, headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/sheets", name="evaluation.submit")
async def submit(request: web.Request) -> web.Response:
    await session_scoring.submit_sheets(ctx(request), current_actor(request), request.match_info["id"],
                                        *_signed(await json_body(request)))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/changes", name="evaluation.change")
async def change(request: web.Request) -> web.Response:
    await session_scoring.change_score(ctx(request), current_actor(request), request.match_info["id"],
                                       *_signed(await json_body(request)))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/deviations/confirm", name="evaluation.confirm_deviation")
async def confirm_deviation(request: web.Request) -> web.Response:
    """A member confirms its own 畸高畸低 score with a reason: ``{bid, criterion, reason}``."""
    await session_scoring.confirm_deviation(ctx(request), current_actor(request), request.match_info["id"],
                                            await json_body(request))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/invalid-bids", name="evaluation.invalid_bid")
async def invalid_bid(request: web.Request) -> web.Response:
    await validity.declare_invalid(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/price-corrections", name="evaluation.price_correction")
async def price_correction(request: web.Request) -> web.Response:
    await bid_queries.correct_price(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/low-price-queries", name="evaluation.low_price_query")
async def low_price_query(request: web.Request) -> web.Response:
    await bid_queries.query_low_price(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/low-price-decisions", name="evaluation.low_price_decision")
async def low_price_decision(request: web.Request) -> web.Response:
    await bid_queries.decide_low_price(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


async def _bidder_answer(request: web.Request, step: Any) -> web.Response:
    actor = current_actor(request)
    data = {} if request.content_type == "multipart/form-data" else await json_body(request)
    session = await step(ctx(request), actor, request.match_info["id"], data)
    if session.member(actor.account) is not None:
        return await _view(request, 201)
    return json_response(bid_queries.bidder_view(session, actor, ctx(request).tenders.now_us()), status=201,
                             headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/price-corrections/answer", name="evaluation.price_correction_answer")
async def price_correction_answer(request: web.Request) -> web.Response:
    return await _bidder_answer(request, bid_queries.answer_correction)


@routes.post("/api/evaluation/{id}/low-price-justifications", name="evaluation.low_price_justify")
async def low_price_justify(request: web.Request) -> web.Response:
    """JSON ``{bid, text}``, or a form (multipart: bid, text, then the file ``document``) whose
    document goes into the blob store once the deadline is checked (evaluation/session/justifications.py)."""
    if request.content_type != "multipart/form-data":
        return await _bidder_answer(request, bid_queries.justify_low_price)
    kept: list[dict[str, Any]] = []
    try:
        fields, stored = await justification_form(request, kept)
        return await _bidder_answer(request, lambda c, a, t, _data: bid_queries.justify_low_price(c, a, t, fields, stored))
    except BaseException:
        for blob in kept:  # refused after all (a later field, a race): keep no file nothing else had
            if blob["created"]:
                ctx(request).tenders.blobs.delete(blob["sha256"])
        raise


FORM_TEXT_BYTES = 64 << 10


async def _next_part(reader: Any) -> Any:
    """The form's next part; a body that does not follow its own boundary is a 400, not a 500."""
    try:
        return await reader.next()
    except (ValueError, AssertionError):
        raise BadRequest("表单格式无效（须为 multipart/form-data）") from None


async def justification_form(request: web.Request, kept: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Read the justification form: its text fields, and its file streamed into the blob store only
    after `bid_queries.justifiable` accepts who sends it and when (a late file is never stored).
    The stored file is appended to `kept` at once, for the caller to remove if the request fails."""
    actor, tender_id = current_actor(request), request.match_info["id"]
    fields: dict[str, str] = {}
    stored: dict[str, Any] | None = None
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError):  # no boundary, or a Content-Type aiohttp cannot read
        raise BadRequest("表单格式无效（须为 multipart/form-data）") from None
    while (part := await _next_part(reader)) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("表单格式无效：不能嵌套分段")
        if part.name == "document" and part.filename is not None:
            if stored is not None:
                raise BadRequest("只能附一份证明材料")
            name = justifications.document_name(part.filename)
            session = await sessions.get_session(ctx(request), tender_id)
            bid_queries.justifiable(session, actor, fields, ctx(request).tenders.now_us())
            writer = ctx(request).tenders.blobs.writer(justifications.MAX_DOCUMENT_BYTES)
            try:
                while chunk := await part.read_chunk(1 << 16):
                    writer.write(chunk)
                if writer.size == 0:
                    raise BadRequest("证明材料是空文件")
                blob = await writer.commit()
            except TooLarge:
                raise PayloadTooLarge("证明材料不能超过 {mib} MiB",
                                      mib=justifications.MAX_DOCUMENT_BYTES >> 20) from None
            except BaseException:
                writer.abort()
                raise
            stored = {"sha256": blob.sha256, "name": name, "size": blob.size, "created": blob.created}
            kept.append(stored)
            continue
        if part.name not in ("bid", "text"):
            raise BadRequest("表单字段无效")
        raw = b""
        while chunk := await part.read_chunk(1 << 14):
            raw += chunk
            if len(raw) > FORM_TEXT_BYTES:
                raise BadRequest("表单字段过长")
        try:
            fields[part.name] = check_text(raw.decode("utf-8"), Text("表单字段 {name}", name=printable(part.name or "", 80)))
        except UnicodeDecodeError:
            raise BadRequest("表单字段 {field} 含有无效字符（须为 UTF-8）", field=part.name) from None
    return fields, stored


@routes.get("/api/evaluation/{id}/my-bid", name="evaluation.my_bid")
async def my_bid(request: web.Request) -> web.Response:
    session = await sessions.get_session(ctx(request), request.match_info["id"])
    body = bid_queries.bidder_view(session, current_actor(request), ctx(request).tenders.now_us())
    return json_response(body, headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/tally", name="evaluation.tally")
async def tally(request: web.Request) -> web.Response:
    await session_scoring.compute_tally(ctx(request), current_actor(request), request.match_info["id"])
    return await _view(request, 201)


@routes.get("/api/evaluation/{id}/report", name="evaluation.report")
async def report(request: web.Request) -> web.Response:
    body = await session_view.report(ctx(request), current_actor(request), request.match_info["id"])
    return json_response(body, headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/report/signatures", name="evaluation.sign_report")
async def sign_report(request: web.Request) -> web.Response:
    session = await session_scoring.sign_report(ctx(request), current_actor(request), request.match_info["id"],
                                                *_signed(await json_body(request)))
    if session.state is SessionState.DONE and MEDIA in request.app:
        request.app[MEDIA].evaluation_ended(session.tender_id)  # the booth's recordings into the archive
    return await _view(request, 201)
