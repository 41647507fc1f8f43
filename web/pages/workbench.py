"""The workbench (工作台): the landing page after sign-in, one per role, with what needs doing now
and a link to every step (evaluation/session/worklist.py decides the agency's next step)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from evaluation.accounts.account import Role, list_accounts
from evaluation.audit.entry import Actor
from evaluation.errors import NotFoundError
from evaluation.experts import pool as experts
from evaluation.experts.views import invitations_of
from evaluation.session.session import sessions_of
from evaluation.session.worklist import Step, bids_of, next_step, stages
from evaluation.tenders import tender as tenders
from evaluation.tenders.bids import may_bid
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import Tender
from web.api.tenders import ctx
from web.labels import N_
from web.rendering import render

DAY = 86400

STEPS: dict[Step, tuple[str, str]] = {
    Step.PUBLISH: (N_("编辑并发布"), "/tenders/{id}"),
    Step.AWAIT_OPENING: (N_("等待开标"), "/tenders/{id}/hall"),
    Step.AWAIT_RECORD: (N_("开标中"), "/tenders/{id}/hall"),
    Step.ANSWER_OBJECTIONS: (N_("答复异议"), "/tenders/{id}/hall"),
    Step.AWAIT_CONFIRMATION: (N_("等待投标人确认"), "/tenders/{id}/hall"),
    Step.REQUEST_DRAW: (N_("申请抽取专家"), "/tenders/{id}/experts"),
    Step.AWAIT_DRAW: (N_("抽取中"), "/tenders/{id}/experts"),
    Step.REDRAW: (N_("专家不足，重新抽取"), "/tenders/{id}/experts"),
    Step.START_EVALUATION: (N_("开始评标"), "/evaluation/{id}"),
    Step.FOLLOW_EVALUATION: (N_("评标进展"), "/evaluation/{id}"),
    Step.PUBLISH_RESULT: (N_("公告结果"), "/tenders/{id}#result-form-box"),
    Step.NONE: (N_("查看"), "/tenders/{id}"),
}
"""What the agency sees as the next action of a tender, and where it is done."""
LOT_STEPS = (Step.START_EVALUATION, Step.FOLLOW_EVALUATION, Step.PUBLISH_RESULT)


def _row(t: Tender, **extra: Any) -> dict[str, Any]:
    return {"id": t.id, "title": t.spec.title, "state": t.state.value, "opening": t.spec.opening_time,
            "agency_name": t.agency_name, **extra}


def _today(t: Tender, now: float) -> bool:
    return now - DAY / 2 <= t.spec.opening_time <= now + DAY


async def _agency(request: web.Request, actor: Actor, all_tenders: list[Tender]) -> dict[str, Any]:
    own = [t for t in all_tenders if t.owned_by(actor)]
    known = await stages(ctx(request).engine, [(t.id, t.state) for t in own], {t.id: len(t.spec.lots) for t in own})
    rows = []
    for t in own:
        stage = known[t.id]
        step = next_step(stage)
        text, link = STEPS[step]
        if stage.lots and step in LOT_STEPS:  # a multi-lot tender: its lots' evaluations are on its page
            link = "/tenders/{id}#evaluations"
        rows.append(_row(t, step=step.value, action=text, link=link.format(id=t.id), objections=stage.open_objections))
    todo = [r for r in rows if r["step"] in {Step.PUBLISH, Step.ANSWER_OBJECTIONS, Step.REQUEST_DRAW,
                                             Step.REDRAW, Step.START_EVALUATION, Step.PUBLISH_RESULT}]
    return {"todo": todo, "tenders": rows}


async def _bidder(request: web.Request, actor: Actor, all_tenders: list[Tender], now: float) -> dict[str, Any]:
    mine = await bids_of(ctx(request).engine, actor.account)
    open_now = [_row(t, bid=mine.get(t.id)) for t in all_tenders if may_bid(t, actor, now)]
    bid_on = [t for t in all_tenders if t.id in mine]
    my_bids = [_row(t, bid=mine[t.id]) for t in bid_on]
    today = [_row(t, bid=mine[t.id]) for t in bid_on if _today(t, now)]
    return {"open": open_now, "bids": my_bids, "today": today}


async def _expert(request: web.Request, actor: Actor) -> dict[str, Any]:
    try:
        invitations = await invitations_of(ctx(request), actor)
    except NotFoundError:
        return {"not_in_pool": True, "invitations": [], "sessions": []}
    accepted = [i for i in invitations if i["status"] == "accepted"]
    return {
        "not_in_pool": False,
        "invitations": [i for i in invitations if i["status"] == "invited"],
        "sessions": await _lot_sessions(request, accepted),
    }


async def _lot_sessions(request: web.Request, accepted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The accepted invitations, each with the sessions of its lots (分包) that have started:
    ``lots`` [{id, lot, name, state}], empty for a tender without lots."""
    found = await sessions_of(ctx(request).engine, [i["tender"] for i in accepted])
    out = []
    for i in accepted:
        lots = [s for s in found.get(i["tender"], []) if s["lot"] is not None]
        if lots:
            spec = (await tenders.get(ctx(request), i["tender"])).spec
            lots = [{**s, "name": spec.lots[s["lot"] - 1].name if s["lot"] <= len(spec.lots) else ""} for s in lots]
        out.append({**i, "lots": lots})
    return out


def _supervisor(all_tenders: list[Tender], now: float) -> dict[str, Any]:
    watch = {TenderState.OPENING, TenderState.OPENED, TenderState.CONFIRMING, TenderState.EVALUATING}
    return {
        "today": [_row(t) for t in all_tenders if t.state is TenderState.PUBLISHED and _today(t, now)],
        "active": [_row(t) for t in all_tenders if t.state in watch],
        "recent": [_row(t) for t in all_tenders if t.state is not TenderState.DRAFT][:20],
    }


async def _admin(request: web.Request) -> dict[str, Any]:
    accounts = await list_accounts(ctx(request).engine)
    counts = {role.value: sum(1 for a in accounts if a.role is role) for role in Role}
    pool = await experts.list_experts(ctx(request).engine)
    return {"counts": counts, "pool": len(pool), "pool_active": sum(1 for e in pool if e.active)}


async def workbench(request: web.Request, actor: Actor) -> web.Response:
    """The signed-in reader's workbench."""
    now = time.time()
    role = actor.role
    all_tenders: list[Tender] = []
    if role in ("agency", "bidder", "supervisor"):
        all_tenders = sorted(await tenders.list_all(ctx(request)), key=lambda t: t.spec.opening_time, reverse=True)
    data: dict[str, Any]
    if role == "agency":
        data = await _agency(request, actor, all_tenders)
    elif role == "bidder":
        data = await _bidder(request, actor, all_tenders, now)
    elif role == "expert":
        data = await _expert(request, actor)
    elif role == "supervisor":
        data = _supervisor(all_tenders, now)
    else:
        data = await _admin(request)
    return render(request, "workbench.html", role=role, data=data, now=now)
