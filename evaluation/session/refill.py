"""Refilling a seat after a member withdrew at check-in (回避, 补抽), docs/evaluation.md.

1. ``refill``: the tender's agency has the withdrawn expert leave the draw (draw_service.decline,
   ground ``avoidance``, evidence the ``evaluation.member_recused`` entry): ``experts.declined`` +
   ``experts.replaced`` invite the next eligible expert of the draw's reserve.
2. The replacement accepts its invitation as usual (draw_service.accept); ``join_replacement``
   (called after the acceptance) adds it to the session: ``evaluation.member_added`` with the seat
   it fills. It then checks in; check-in completes when every seated member has checked in and no
   withdrawn member's seat is vacant (Session.check_in_complete_with).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.audit.entry import Actor
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError, Text
from evaluation.experts import draw, draw_service
from evaluation.experts.committee import CommitteeError, validate_committee_plan
from evaluation.experts.plan import METHODS
from evaluation.experts.pool import expert_of_account
from evaluation.experts.store import ACCEPTED, DECLINED, member_rows
from evaluation.session.events import lot_entries
from evaluation.session.rules import SessionState, require
from evaluation.session.session import (
    EvaluationContext,
    Member,
    Session,
    get_session,
    require_members_as_read,
    retrying,
    sessions_of,
    transition,
    write_state,
)
from evaluation.session.store import member_table
from evaluation.tenders.tender import NotPermitted, get

RECUSED_KIND = "evaluation.member_recused"


class ReserveExhausted(ConflictError):
    """The draw's reserve has no eligible expert left for a withdrawn member's seat (409)."""


def exhausted_line(name: str, lawful_without: bool) -> Text:
    """What the agency reads when the reserve cannot refill `name`'s seat. 87号令 art. 48: a
    committee whose composition no longer conforms (art. 47) is completed, else the evaluation
    stops and a new committee is formed; one that still conforms may go on without the seat."""
    if lawful_without:
        return Text("备选专家已用尽，无法补足{name}的席位；现有成员仍符合评标委员会组成要求，可选择“不再补足”按现有成员"
                    "继续评标，否则请停止本次评标，重新申请抽取专家", name=name)
    return Text("备选专家已用尽，无法补足{name}的席位：依87号令第四十八条，请停止本次评标，封存投标文件和评标资料，"
                "重新申请抽取专家组建评标委员会后再评标", name=name)


def composition_problem(spec: Any, seated: Sequence[Member]) -> Text | None:
    """Why the members `seated` are not a lawful committee for the tender `spec` (87号令 art. 47,
    evaluation/experts/committee.py: the minimum of its method and budget, an odd number, experts
    at least two thirds), in one Chinese line; None when they are."""
    reps = sum(m.kind != "expert" for m in seated)
    try:
        validate_committee_plan(METHODS[spec.method], spec.budget_fen // 100, len(seated), reps)
    except CommitteeError as exc:
        return Text("现有 {n} 名成员（其中专家 {experts} 名）不符合评标委员会组成要求：{problem}", n=len(seated),
                    experts=len(seated) - reps, problem=exc.text)
    return None


async def _recusal_evidence(ctx: EvaluationContext, session: Session, member: Member) -> str:
    """The reference of `member`'s recusal entry (in `session`'s lot): its kind and index in the log."""
    entries = await ctx.tenders.audit.entries_for_tender(session.tender_id, kinds=[RECUSED_KIND])
    mine = [e for e in lot_entries(entries, session.lot) if e.actor.account == member.account]
    if not mine:
        raise ConflictError("日志中没有{name}的回避记录（{kind}）", name=member.name, kind=RECUSED_KIND)
    return f"{RECUSED_KIND} #{mine[-1].index}"


async def refill(ctx: EvaluationContext, actor: Actor, session_id: str, account: Any) -> dict[str, Any]:
    """The owning agency refills the seat of `account`, a drawn expert that withdrew at check-in,
    from the draw's reserve. Returns ``{"seat", "replaced": n}`` (who replaces it stays sealed until
    it accepts and joins). Refused, with nothing changed: another agency (403), no such member
    (404), not withdrawn, not a drawn expert, already refilled, not at check-in or the reserve
    exhausted (409, ReserveExhausted: one line saying a new committee must be drawn)."""
    if not isinstance(account, str) or not account.strip() or len(account) > 256:
        raise InvalidRequest("请指明成员账号（account，不超过 256 字）")
    session = await get_session(ctx, session_id)
    tender_id = session.tender_id
    tender = await get(ctx.tenders, tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("《{title}》属于另一家代理机构", title=tender.spec.title)
    require(session.title, session.state, SessionState.CHECKIN, doing=Text("不能补抽专家（仅限签到阶段）"))
    member = session.member(account)
    if member is None:
        raise NotFoundError("{account}不是{title}评标委员会的成员", account=account[:60], title=session.title)
    if member.recused_us is None:
        raise ConflictError("{name}未回避：只有回避成员的席位才能补抽", name=member.name)
    if member.kind != "expert" or member.expert_id is None:
        raise ConflictError("{name}不是抽取的专家，其席位不能从备选专家中补抽", name=member.name)
    if member not in session.vacant():
        raise ConflictError("{name}的席位已补足", name=member.name)
    async with ctx.engine.connect() as conn:
        rows = await member_rows(conn, tender_id)
    if any(r.expert_id == member.expert_id and r.status == DECLINED for r in rows):
        raise ConflictError("已为{name}的席位补抽专家，请等待替补专家接受邀请", name=member.name)
    evidence = await _recusal_evidence(ctx, session, member)
    try:
        out = await draw_service.decline(ctx.tenders, actor, tender_id, member.expert_id, "签到时申请回避 withdrew at check-in",
                                         "avoidance", evidence, in_session=True)
    except ConflictError as exc:
        if not isinstance(exc.__cause__, draw.TooFewExperts):
            raise
        raise ReserveExhausted(exhausted_line(member.name, composition_problem(tender.spec, session.seated) is None)) from None
    ctx.notify(session_id, {"type": "members"})
    return {"seat": member.seat, "replaced": len(out["replacements"])}


async def release(ctx: EvaluationContext, actor: Actor, session_id: str, account: Any, reason: Any) -> Session:
    """不再补足: the owning agency leaves the seat of `account`, a member that withdrew at check-in,
    unfilled, because the members still seated are a lawful committee (87号令 arts. 47–48:
    `composition_problem`); `reason` is the agency's words. Logs ``evaluation.seat_released``;
    when every seated member has checked in and no other seat waits, the election opens.
    Refused, with nothing changed: another agency (403), no such member (404), not withdrawn,
    already filled or released, a replacement already invited, not at check-in, or the committee
    without the seat not lawful (409, one line naming the rule)."""
    if not isinstance(account, str) or not account.strip() or len(account) > 256:
        raise InvalidRequest("请指明成员账号（account，不超过 256 字）")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidRequest("请说明不再补足的理由，不超过 500 字")
    session = await get_session(ctx, session_id)
    tender = await get(ctx.tenders, session.tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("《{title}》属于另一家代理机构", title=tender.spec.title)

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        require(session.title, session.state, SessionState.CHECKIN, doing=Text("不能不再补足席位（仅限签到阶段）"))
        member = session.member(account)
        if member is None:
            raise NotFoundError("{account}不是{title}评标委员会的成员", account=account[:60], title=session.title)
        if member.recused_us is None:
            raise ConflictError("{name}未回避：只有回避成员的席位可以不再补足", name=member.name)
        if member not in session.vacant():
            raise ConflictError("{name}的席位已补足或已确认不再补足", name=member.name)
        if member.expert_id is not None:
            async with ctx.engine.connect() as conn:
                rows = await member_rows(conn, session.tender_id)
            if any(r.replaces == member.expert_id and r.status != DECLINED for r in rows):
                raise ConflictError("已为{name}的席位补抽专家，请等待替补专家接受邀请", name=member.name)
        problem = composition_problem(tender.spec, session.seated)
        if problem:
            raise ConflictError("不能不再补足：{problem}；请补抽专家或重新组建评标委员会（87号令第四十八条）", problem=problem)
        payload = {"account": member.account, "name": member.name, "seat": member.seat,
                   "seated": len(session.seated), "reason": reason.strip()}
        drafts = [session.entry("evaluation.seat_released", payload, actor)]
        waiting = [m for m in session.seated if m.checked_in_us is None]
        opens = not waiting and [m.account for m in session.vacant()] == [member.account]
        if opens:
            drafts.append(transition(session, SessionState.ELECTION, actor))
        now = ctx.tenders.now_us()

        async def apply(conn: AsyncConnection) -> None:
            await require_members_as_read(conn, session)
            await write_state(conn, session, SessionState.ELECTION if opens else None)
            c = member_table.c
            await conn.execute(sa.update(member_table).where(c.session_id == session_id, c.account == member.account)
                               .values(released_us=now))

        await ctx.tenders.audit.append_many(drafts, apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "state", "state": result.state.value})
    return result


async def join_replacement(ctx: EvaluationContext, actor: Actor, tender_id: str) -> Session | None:
    """After `actor`'s acceptance: when it replaces a withdrawn member of a session of `tender_id`
    at check-in (of any of its lots), add it as a member (``evaluation.member_added`` with
    ``fills``, the withdrawn member's seat). Returns the session, or None when there is nothing to
    join (no session, not a replacement, already a member). Idempotent."""
    expert = await expert_of_account(ctx.engine, actor.account)
    if expert is None:
        return None
    async with ctx.engine.connect() as conn:
        mine = next((r for r in await member_rows(conn, tender_id) if r.expert_id == expert.id), None)
    if mine is None or mine.status != ACCEPTED or mine.replaces is None:
        return None
    for found in (await sessions_of(ctx.engine, [tender_id])).get(tender_id, []):
        joined = await _join(ctx, actor, found["id"], expert, mine)
        if joined is not None:
            ctx.notify(joined.id, {"type": "members"})
            return joined
    return None


async def _join(ctx: EvaluationContext, actor: Actor, session_id: str, expert: Any, mine: Any) -> Session | None:
    async def step() -> Session | None:
        session = await get_session(ctx, session_id)
        if session.state is not SessionState.CHECKIN or session.member(actor.account) is not None:
            return None
        withdrawn = next((m for m in session.vacant() if m.expert_id == mine.replaces), None)
        if withdrawn is None:
            return None
        seat = max(m.seat for m in session.members) + 1
        row = {"account": actor.account, "kind": "expert", "expert_id": expert.id, "name": expert.name,
               "site": mine.site_role, "specialty": mine.specialty, "seat": seat, "fills": withdrawn.seat}

        async def apply(conn: AsyncConnection) -> None:
            await write_state(conn, session)
            c = member_table.c
            taken = await conn.execute(sa.select(sa.func.count()).select_from(member_table).where(
                c.session_id == session_id, c.fills == withdrawn.seat))
            if taken.scalar_one():
                raise ConflictError("{name}的席位已补足", name=withdrawn.name)
            await conn.execute(member_table.insert().values(session_id=session_id, **row))

        payload = {**row, "replaces": withdrawn.account}
        await ctx.tenders.audit.append(session.entry("evaluation.member_added", payload, actor), apply=apply)
        return await get_session(ctx, session_id)

    result: Session | None = await retrying(step)
    return result
