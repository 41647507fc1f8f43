"""JSON API of the evaluation session (评标), docs/evaluation.md. Errors are raised, never returned:
web/errors.py maps them once. Who may call each route: web/access/permissions/evaluation.py."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from evaluation.accounts.account import find_by_username
from evaluation.session import bid_queries, member_keys, refill, result, validity
from evaluation.session import session as sessions
from evaluation.session import sheets as session_scoring
from evaluation.session import view as session_view
from evaluation.session.session import EvaluationContext
from web.api.body import json_body
from web.api.tenders import current_actor
from web.errors import NotFound

routes = web.RouteTableDef()
EVALUATION = web.AppKey("evaluation", EvaluationContext)


def ctx(request: web.Request) -> EvaluationContext:
    return request.app[EVALUATION]


async def _view(request: web.Request, status: int = 200) -> web.Response:
    body = await session_view.view(ctx(request), current_actor(request), request.match_info["id"])
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


def _signed(data: dict[str, Any]) -> tuple[Any, Any]:
    return data.get("document"), data.get("signature")


@routes.get("/api/evaluation/{id}", name="evaluation.view")
async def view(request: web.Request) -> web.Response:
    return await _view(request)


@routes.post("/api/evaluation/{id}/start", name="evaluation.start")
async def start(request: web.Request) -> web.Response:
    """开始评标. `{id}` is the session to start: the tender, or one lot's ``<tender>.<lot>`` (or the
    tender with ``lot`` in the body); the view returned is the new session's (its ``id``)."""
    started = await sessions.start(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    body = await session_view.view(ctx(request), current_actor(request), started.id)
    return web.json_response(body, status=201, headers={"Cache-Control": "no-store", "Location": f"/evaluation/{started.id}"})


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
    return web.json_response(body, status=201, dumps=lambda v: json.dumps(v, ensure_ascii=False))


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
    return web.json_response(body, headers={"Cache-Control": "no-store"})


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
    session = await step(ctx(request), actor, request.match_info["id"], await json_body(request))
    if session.member(actor.account) is not None:
        return await _view(request, 201)
    return web.json_response(bid_queries.bidder_view(session, actor), status=201, headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/price-corrections/answer", name="evaluation.price_correction_answer")
async def price_correction_answer(request: web.Request) -> web.Response:
    return await _bidder_answer(request, bid_queries.answer_correction)


@routes.post("/api/evaluation/{id}/low-price-justifications", name="evaluation.low_price_justify")
async def low_price_justify(request: web.Request) -> web.Response:
    return await _bidder_answer(request, bid_queries.justify_low_price)


@routes.get("/api/evaluation/{id}/my-bid", name="evaluation.my_bid")
async def my_bid(request: web.Request) -> web.Response:
    session = await sessions.get_session(ctx(request), request.match_info["id"])
    return web.json_response(bid_queries.bidder_view(session, current_actor(request)), headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/tally", name="evaluation.tally")
async def tally(request: web.Request) -> web.Response:
    await session_scoring.compute_tally(ctx(request), current_actor(request), request.match_info["id"])
    return await _view(request, 201)


@routes.get("/api/evaluation/{id}/report", name="evaluation.report")
async def report(request: web.Request) -> web.Response:
    body = await session_view.report(ctx(request), current_actor(request), request.match_info["id"])
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@routes.post("/api/evaluation/{id}/report/signatures", name="evaluation.sign_report")
async def sign_report(request: web.Request) -> web.Response:
    await session_scoring.sign_report(ctx(request), current_actor(request), request.match_info["id"],
                                      *_signed(await json_body(request)))
    return await _view(request, 201)
