"""What each tender waits for now (待办), for the role workbenches (工作台): one pure rule over a
tender's stage, and one query that reads the stage of many tenders at once.

The stage of a tender is its own state plus, after the opening, the state of its expert draw, of
its evaluation session (of each lot, for a multi-lot tender: 分包) and the number of objections
still unanswered. ``next_step`` names what
the tender's agency does next; the pages turn the name into words and a link.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.audit.store import entry_table
from evaluation.experts.store import draw_table
from evaluation.session.events import lot_of
from evaluation.session.store import session_table
from evaluation.tenders.rules import TenderState
from evaluation.tenders.store import bid_table, objection_table


class Step(str, enum.Enum):
    """The agency's next action on a tender (in the order a tender meets them)."""

    PUBLISH = "publish"  # 发布: a draft
    AWAIT_OPENING = "await_opening"  # 等待开标: published, bids coming in
    AWAIT_RECORD = "await_record"  # 开标中: bids being opened
    ANSWER_OBJECTIONS = "answer_objections"  # 答复异议
    AWAIT_CONFIRMATION = "await_confirmation"  # 确认期: bidders confirm or object
    REQUEST_DRAW = "request_draw"  # 申请抽取专家
    AWAIT_DRAW = "await_draw"  # 抽取中: waiting for the beacon round
    REDRAW = "redraw"  # 专家不足: the pool ran out, draw again
    START_EVALUATION = "start_evaluation"  # 开始评标
    FOLLOW_EVALUATION = "follow_evaluation"  # 评标中
    PUBLISH_RESULT = "publish_result"  # 评标报告已签署: publish the result
    NONE = "none"  # 流标, or nothing left to do


@dataclass(frozen=True)
class Stage:
    """Where a tender stands, as far as the workbench needs to know."""

    state: TenderState
    draw: str | None = None  # expert draw: requested, drawn, exhausted
    session: str | None = None  # evaluation session state (checkin … done)
    open_objections: int = 0
    lots: int = 0  # a multi-lot tender's number of lots (2 or more; else 0)
    lot_sessions: tuple[tuple[int, str], ...] = ()  # (lot, session state) of each lot started
    published: frozenset[int] = frozenset()  # the lots whose result is published

    @property
    def lot_step(self) -> Step:
        """A multi-lot tender's next action while its lots are evaluated: a lot's result to publish,
        else a lot to start, else follow the lots under way."""
        started = dict(self.lot_sessions)
        if any(state == "done" and lot not in self.published for lot, state in started.items()):
            return Step.PUBLISH_RESULT
        if len(started) < self.lots:
            return Step.START_EVALUATION
        return Step.FOLLOW_EVALUATION


def next_step(stage: Stage) -> Step:
    """The agency's next action on a tender at `stage` (pure)."""
    s = stage.state
    if s is TenderState.DRAFT:
        return Step.PUBLISH
    if s is TenderState.PUBLISHED:
        return Step.AWAIT_OPENING
    if s in (TenderState.OPENING, TenderState.OPENED):
        return Step.AWAIT_RECORD
    if s is TenderState.CONFIRMING:
        return Step.ANSWER_OBJECTIONS if stage.open_objections else Step.AWAIT_CONFIRMATION
    if s is TenderState.CONFIRMED:
        if stage.open_objections:
            return Step.ANSWER_OBJECTIONS
        if stage.draw is None:
            return Step.REQUEST_DRAW
        if stage.draw == "requested":
            return Step.AWAIT_DRAW
        if stage.draw == "exhausted":
            return Step.REDRAW
        if stage.lots:
            return stage.lot_step
        return Step.START_EVALUATION if stage.session is None else Step.FOLLOW_EVALUATION
    if s is TenderState.EVALUATING and stage.lots:
        return stage.lot_step
    if s is TenderState.EVALUATING:
        return Step.PUBLISH_RESULT if stage.session == "done" else Step.FOLLOW_EVALUATION
    return Step.NONE


async def stages(engine: AsyncEngine, tenders: Iterable[tuple[str, TenderState]],
                 lots: Mapping[str, int] | None = None) -> dict[str, Stage]:
    """The stage of each (tender id, state) given, in four queries whatever their number; `lots`:
    the number of lots of each multi-lot tender."""
    states = dict(tenders)
    if not states:
        return {}
    ids = list(states)
    lots = lots or {}
    o, sc, e = objection_table.c, session_table.c, entry_table.c
    async with engine.connect() as conn:
        draws = dict((await conn.execute(sa.select(draw_table.c.tender_id, draw_table.c.state).where(draw_table.c.tender_id.in_(ids)))).all())
        sessions: dict[str, str] = {}
        by_lot: dict[str, list[tuple[int, str]]] = {}
        for tid, lot, state in (await conn.execute(sa.select(sc.tender_id, sc.lot, sc.state).where(sc.tender_id.in_(ids)))).all():
            if lot is None:
                sessions[tid] = state
            else:
                by_lot.setdefault(tid, []).append((lot, state))
        published: dict[str, set[int]] = {}
        multi = [tid for tid in ids if lots.get(tid, 0) >= 2]
        if multi:
            for tid, payload in (await conn.execute(sa.select(e.tender_id, e.payload).where(
                    e.kind == "tender.result_published", e.tender_id.in_(multi)))).all():
                lot = lot_of(json.loads(payload))
                if lot is not None:
                    published.setdefault(tid, set()).add(lot)
        pending = dict(
            (await conn.execute(
                sa.select(o.tender_id, sa.func.count()).where(o.tender_id.in_(ids), o.answer.is_(None)).group_by(o.tender_id)
            )).all()
        )
    return {
        tid: Stage(state, draws.get(tid), sessions.get(tid), int(pending.get(tid, 0)),
                   lots.get(tid, 0) if lots.get(tid, 0) >= 2 else 0, tuple(sorted(by_lot.get(tid, []))),
                   frozenset(published.get(tid, set())))
        for tid, state in states.items()
    }


async def bids_of(engine: AsyncEngine, bidder: str) -> dict[str, str]:
    """The status of `bidder`'s current bid in each tender it bid in (the latest row wins)."""
    b = bid_table.c
    query = sa.select(b.tender_id, b.status).where(b.bidder == bidder).order_by(b.updated_us)
    async with engine.connect() as conn:
        return {tid: status for tid, status in (await conn.execute(query)).all()}
