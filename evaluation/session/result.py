"""The result (中标候选人公示 / 成交结果公告): after the committee signed its report, the tender's
agency names the winner among the recommended candidates and publishes the result; the tender
becomes ``awarded`` and everyone who can see the tender reads the result and its publicity
period (公示期). 87号令 art. 68–69: the purchaser decides among the candidates in the order the
report gives, and the result is published on the designated media for one working day.

The published result is one audit entry, ``tender.result_published``; pages read the result
from it (the signed leaf), not from a table that could be edited apart from the log.

A multi-lot tender (分包) publishes a result per lot, each after that lot's signed report; the
tender stays evaluating (评标中) until every lot has its result or failed (该包废标), then becomes
``awarded``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import reducer
from evaluation.errors import ConflictError, InvalidRequest
from evaluation.session.events import every_lot, lot_of
from evaluation.session.ids import evaluation_id, parse_evaluation_id
from evaluation.session.rules import SessionState
from evaluation.session.session import EvaluationContext, get_session, other_lots
from evaluation.tenders.lots import evaluated_lot
from evaluation.tenders.rules import TenderState, state_name
from evaluation.tenders.tender import NotPermitted, get, load_for_update, set_state

KIND = "tender.result_published"
PUBLICITY_WORKING_DAYS = 1
"""87号令 art. 69: 中标、成交结果公告期限为 1 个工作日."""
MAX_NOTE = 2000


@reducer(
    KIND,
    "The tender's agency published the result (结果公告) after the signed report: the winner among the "
    "recommended candidates, the publicity period. Payload: winner_bid, winner_name, price (yuan text), "
    "candidates [{bid, bidder_name, rank}], report_sha256, published_us, publicity_until (ISO date), note; "
    "for a lot of a multi-lot tender, lot {lot, name}: the result of that lot. "
    "Phase becomes 'awarded' (for a multi-lot tender, once every lot has its result or failed).",
)
def _published(state: dict[str, Any], entry: Any) -> None:
    state["result"] = dict(entry.payload)
    lot = lot_of(entry.payload)
    if lot is not None:
        state.setdefault("results", {})[lot] = dict(entry.payload)
        lots = state.get("lots", {})
        if not every_lot(state, lambda n: n in state["results"] or "failed" in lots.get(n, {})):
            return
    state["phase"] = "awarded"


def working_days_after(day: date, n: int) -> date:
    """The `n`-th working day (Monday–Friday) after `day`. Public holidays are not known here."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


async def publish_result(ctx: EvaluationContext, actor: Actor, target: str, data: dict[str, Any]) -> dict[str, Any]:
    """Publish the result of `target`, a tender or the session of one of its lots (``<tender>.<lot>``,
    or the tender with ``data["lot"]``): ``data["winner"]`` is a recommended candidate's bid id
    (the first one when absent); ``data["note"]`` an optional text. Only the tender's agency,
    once the report is final (session done), once per lot. Returns the payload logged."""
    tender_id, lot = parse_evaluation_id(target)
    asked = data.get("lot")
    if asked is not None and lot is not None and asked != lot:
        raise InvalidRequest("评标编号 {target} 是第{lot}包的，请求却指定了分包 {asked}", target=target[:60], lot=lot,
                             asked=str(asked)[:20])
    tender = await get(ctx.tenders, tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("《{title}》属于另一家代理机构", title=tender.spec.title)
    lot = evaluated_lot(tender.spec, lot if lot is not None else asked)
    if tender.state is not TenderState.EVALUATING:
        raise ConflictError("《{title}》现为「{state}」：评标报告签署后才能公告结果", title=tender.spec.title,
                            state=state_name(tender.state))
    session = await get_session(ctx, evaluation_id(tender_id, lot))
    if lot is not None and lot in await published_results(ctx, tender_id):
        raise ConflictError("第{lot}包的结果已经公告", lot=lot)
    if session.state is not SessionState.DONE or session.report is None:
        raise ConflictError("评标报告尚未经全体成员签署")
    candidates = list(session.report["recommendation"]["candidates"])
    if not candidates:
        raise ConflictError("评标报告没有推荐中标候选人")
    winner = data.get("winner") or candidates[0]
    if winner not in candidates:
        raise InvalidRequest("中标人须为评标报告推荐的中标候选人之一（87号令第六十八条）")
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidRequest("备注不超过 {n} 字", n=MAX_NOTE)
    ranking = {r["bid"]: r for r in session.report["ranking"]}
    names = {b["bid"]: b["bidder_name"] for b in session.report["bids"]}
    now = ctx.tenders.now_us()
    today = datetime.fromtimestamp(now / 1e6, tz=UTC).date()
    payload = {
        "winner_bid": winner, "winner_name": names.get(winner, winner),
        "price": ranking.get(winner, {}).get("price", ""),
        "candidates": [{"bid": b, "bidder_name": names.get(b, b), "rank": ranking.get(b, {}).get("rank")} for b in candidates],
        "report_sha256": session.report_sha256, "published_us": now,
        "publicity_until": working_days_after(today, PUBLICITY_WORKING_DAYS).isoformat(), "note": note.strip(),
        **({"lot": dict(named)} if (named := session.report["tender"].get("lot")) else {}),
    }

    published = set(await published_results(ctx, tender_id)) | {lot}
    awarded = True

    async def apply(conn: AsyncConnection) -> None:
        nonlocal awarded
        if lot is not None:  # the last lot's result (every other one published or failed) awards the tender
            others = await other_lots(conn, session)
            awarded = all(n in published or state == SessionState.FAILED.value for n, state in others.items())
        if awarded:
            await set_state(conn, tender_id, TenderState.EVALUATING, TenderState.AWARDED)
        else:
            await load_for_update(conn, tender_id)

    await ctx.tenders.audit.append(EntryDraft(KIND, payload, tender_id, actor), apply=apply)
    if awarded:
        ctx.tenders.notify(tender_id, {"type": "phase", "state": "awarded"})
    return payload


async def published_result(ctx: EvaluationContext, tender_id: str) -> dict[str, Any] | None:
    """The published result of `tender_id` (its last lot's, for a multi-lot tender), read from its
    audit entry; None before it."""
    found = await ctx.tenders.audit.entries_for_tender(tender_id, kinds=[KIND])
    return dict(found[-1].payload) if found else None


async def published_results(ctx: EvaluationContext, tender_id: str) -> dict[int | None, dict[str, Any]]:
    """The published results of `tender_id` by lot (None for a tender without lots), from the log."""
    found = await ctx.tenders.audit.entries_for_tender(tender_id, kinds=[KIND])
    return {lot_of(e.payload): dict(e.payload) for e in found}
