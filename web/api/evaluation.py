"""JSON API of the evaluation session (评标), docs/evaluation.md. Errors are raised, never returned:
web/errors.py maps them once. Who may call each route: web/access/permissions/evaluation.py."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation.session import session as sessions
from evaluation.session import sheets as session_scoring
from evaluation.session import view as session_view
from evaluation.session.session import EvaluationContext
from web.api.body import json_body
from web.api.tenders import current_actor

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
    await sessions.start(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/members", name="evaluation.add_member")
async def add_member(request: web.Request) -> web.Response:
    data = await json_body(request)
    await sessions.add_purchaser_rep(ctx(request), current_actor(request), request.match_info["id"], data.get("account"))
    return await _view(request, 201)


@routes.post("/api/evaluation/{id}/checkin", name="evaluation.checkin")
async def checkin(request: web.Request) -> web.Response:
    await sessions.check_in(ctx(request), current_actor(request), request.match_info["id"], await json_body(request))
    return await _view(request, 201)


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
