"""The session as one reader may see it: members and progress for everyone in the session; a
member's own sheets until every member has submitted; everything after that (and always for
supervisors). The owning agency sees progress, not scores, until the review."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from evaluation.audit.entry import Actor
from evaluation.session.events import current_sheets
from evaluation.session.report import bid_prices
from evaluation.session.rules import (
    COMMITMENT_SHA256,
    COMMITMENT_TEXT,
    DECLARATION_SHA256,
    DECLARATION_TEXT,
    SessionState,
    at_least,
    criteria_json,
    tally_bids,
    valid_prices,
)
from evaluation.session.scoring import Method, ScoringError, abnormally_low, display, price_scores
from evaluation.session.session import EvaluationContext, get_session
from evaluation.session.sheets import (
    changes,
    confirmations,
    replay_view,
    report_signatures,
    report_signers,
    require_reader,
    review_of,
    submitted,
    with_reasons,
)
from evaluation.session.store import vote_table
from evaluation.session.tally import enough_bids
from evaluation.tenders.rules import LOCAL_BEACON_NOTE, is_local_beacon
from evaluation.tenders.tender import get


async def view(ctx: EvaluationContext, actor: Actor, session_id: str) -> dict[str, Any]:
    """The session for `actor` (a member, the owning agency or a supervisor; else NotPermitted)."""
    session = await get_session(ctx, session_id)
    await require_reader(ctx, session, actor)
    tender = await get(ctx.tenders, session.tender_id)
    async with ctx.engine.connect() as conn:
        done = await submitted(conn, session_id)
        logged_changes = await changes(conn, session_id)
        signers = await report_signers(conn, session_id)
        c = vote_table.c
        votes = [{"round": r.round, "voter": r.voter, "candidate": r.candidate}
                 for r in await conn.execute(sa.select(vote_table).where(c.session_id == session_id).order_by(c.round))]
    me = session.member(actor.account)
    prices = valid_prices(session.bids)
    scores = price_score_texts(session)
    everything = actor.role == "supervisor" or at_least(session.state, SessionState.REVIEW)
    this_round = [v for v in votes if v["round"] == session.vote_round]
    lot = None if session.lot is None or session.lot > len(tender.spec.lots) else {
        "lot": session.lot, "name": tender.spec.lots[session.lot - 1].name}
    body: dict[str, Any] = {
        "id": session.id,
        "lot": lot,
        "tender": {"id": tender.id, "title": tender.spec.title, "agency_name": tender.agency_name,
                   "state": tender.state.value, "owner": tender.owned_by(actor)},
        "local_beacon": is_local_beacon(ctx.tenders.chain),
        "local_beacon_note": LOCAL_BEACON_NOTE if is_local_beacon(ctx.tenders.chain) else None,
        "state": session.state.value,
        "config": session.config.to_json(),
        "criteria": criteria_json(session.criteria),
        "bids": [{**b, **bid_prices(b), "price_score_display": scores.get(b["bid"])} for b in session.bids],
        "abnormally_low": abnormally_low(prices, session.config.low_bid_rule) if prices else {},
        "failed_reason": failed_reason(session, tender) if session.state is SessionState.FAILED else None,
        "members": [{**m.to_json(), "voted": any(v["voter"] == m.account for v in this_round),
                     "submitted": m.account in done, "signed": m.account in signers} for m in session.members],
        "leader": session.leader,
        "vote_round": session.vote_round,
        "votes": votes if everything or session.leader else [],
        "me": None if me is None else {"account": me.account, "kind": me.kind,
                                       "checked_in": me.checked_in_us is not None,
                                       "recused": me.recused_us is not None,
                                       "voted_for": next((v["candidate"] for v in this_round if v["voter"] == me.account), None),
                                       "submitted": me.account in done, "signed": me.account in signers,
                                       "leader": me.account == session.leader},
        "texts": {"declaration": DECLARATION_TEXT, "declaration_sha256": DECLARATION_SHA256,
                  "commitment": COMMITMENT_TEXT, "commitment_sha256": COMMITMENT_SHA256},
        "sheets": {},
        "review": None,
        "changes": [],
        "tally": session.tally,
        "report_sha256": session.report_sha256,
        "report_signers": signers,
    }
    if everything:
        body["sheets"] = {a: s for a, s in done.items()}
        body["changes"] = logged_changes
        if at_least(session.state, SessionState.REVIEW):
            sheets = current_sheets(replay_view(session, done, logged_changes))
            body["current"] = [s.to_json() for s in sheets]
            body["review"] = with_reasons(review_of(session, sheets), await confirmations(ctx, session))
    elif me is not None and me.account in done:
        body["sheets"] = {me.account: done[me.account]}
    if session.tally:
        body["ranking"] = [{**b, **bid_prices(b), "total_display": display(Fraction(b["total"])),
                            "price_score_display": display(Fraction(b["price_score"]))}
                           for b in session.tally["tally"]["bids"]]
    return body


def price_score_texts(session: Any) -> dict[str, str]:
    """Each valid bid's price score (价格分, 87号令 art. 55) as the score sheet shows it read-only
    beside the experts' items: computed from the evaluated prices; empty when there is no price item."""
    price = session.criteria.price
    if price is None or session.config.method is not Method.COMPREHENSIVE:
        return {}
    evaluated = {b.id: b.evaluated_fen for b in tally_bids(session.bids) if b.invalid is None}
    try:
        return {k: display(v) for k, v in price_scores(evaluated, price.max_points).items()} if evaluated else {}
    except ScoringError:  # a zero price: the tally reports it; the sheet shows no price score
        return {}


def failed_reason(session: Any, tender: Any) -> str | None:
    """Why the session failed: the tender's reason, or for a lot (该包废标) the lot's, read from its bids."""
    if session.lot is None:
        return str(tender.failed_reason or "")
    return enough_bids(len(valid_prices(session.bids)), session.config.min_bids) or tender.failed_reason


async def report(ctx: EvaluationContext, actor: Actor, session_id: str) -> dict[str, Any]:
    """The report's content, hash and signers, once built (from the signing state on)."""
    from evaluation.errors import NotFoundError

    session = await get_session(ctx, session_id)
    await require_reader(ctx, session, actor)
    if session.report is None:
        raise NotFoundError(f"{session.title}的评标报告尚未生成 the evaluation report is not built yet")
    async with ctx.engine.connect() as conn:
        signatures = await report_signatures(conn, session_id)
    return {"report": session.report, "sha256": session.report_sha256,
            "signers": [s["account"] for s in signatures], "signatures": signatures,
            "final": session.state is SessionState.DONE, "text": json.dumps(session.report, ensure_ascii=False)}
