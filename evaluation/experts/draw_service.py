"""The expert draw workflow (随机抽取) on the database and the audit log (docs/experts.md).

1. ``request_draw``: the tender's agency asks, in state opened/confirming/confirmed; avoidance and
   eligibility freeze the pool; ``experts.draw_requested`` is logged FIRST (request + chain info).
2. The randomness is the first beacon round strictly after that entry's time,
   ``chain.round_at(entry time) + 1``; the draw job (evaluation/experts/draw_job.py) waits for it and
   calls ``complete_draw``, which logs ``experts.drawn`` and invites the committee.
3. ``decline`` removes a member and refills its seat from the same sequence (``draw.refill``):
   ``experts.declined`` + ``experts.replaced`` (or ``experts.exhausted`` when the reserve runs out).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crypto.drand import Beacon
from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError
from evaluation.experts import avoidance, draw, exclusions
from evaluation.experts import events as experts_events  # noqa: F401  (registers the kinds)
from evaluation.experts.plan import parse_plan, seat, site_role
from evaluation.experts.pool import expert_of_account, is_revealed, now_us, record_from_row
from evaluation.experts.store import (
    ACCEPTED,
    DECLINED,
    DRAWN,
    EXHAUSTED,
    INVITED,
    REQUESTED,
    SEATED,
    draw_row,
    draw_table,
    expert_rows,
    expert_table,
    member_rows,
    member_table,
)
from evaluation.experts.views import draw_status
from evaluation.tenders.rules import InvalidStateError, TenderState, state_name
from evaluation.tenders.store import bid_table
from evaluation.tenders.tender import NotPermitted, Tender, TenderContext, get

log = logging.getLogger("pingbiao.draw")
DRAWABLE = (TenderState.OPENED, TenderState.CONFIRMING, TenderState.CONFIRMED)
REQUESTED_KIND, DRAWN_KIND = "experts.draw_requested", "experts.drawn"
ACTIVE_BIDS = ("withdrawn", "void")  # bids in these statuses are not bidders for avoidance
MAX_REASON = 200
DECLINE_GROUNDS = {"avoidance": "回避申请", "unavailable": "无法到场"}
"""Why a member leaves the committee: a 回避 found late (its application), or it cannot attend."""


def parse_decline(reason: Any, ground: Any, evidence: Any) -> tuple[str, str, str]:
    """A decline's reason, ground and evidence reference (e.g. the 回避申请's number or a document's
    SHA-256), each required. Raises InvalidRequest naming what is missing."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidRequest("请填写理由（1–{max} 个字）", max=MAX_REASON)
    if ground not in DECLINE_GROUNDS:
        raise InvalidRequest("请选择退出理由：回避申请或无法到场（ground 须为 {allowed}，收到 {got}）",
                             allowed=", ".join(DECLINE_GROUNDS), got=repr(str(ground)[:40]))
    if not isinstance(evidence, str) or not evidence.strip() or len(evidence) > MAX_REASON:
        raise InvalidRequest("请填写证明材料（1–{max} 个字）", max=MAX_REASON)
    return reason.strip(), str(ground), evidence.strip()


def first_round_after(ctx: TenderContext, entry_time: float) -> int:
    """The beacon round of a request logged at `entry_time`: strictly after it."""
    return ctx.chain.round_at(entry_time) + 1


async def _bidder_orgs(conn: AsyncConnection, tender_id: str) -> list[str]:
    query = (
        sa.select(account_table.c.organization)
        .select_from(bid_table.join(account_table, account_table.c.id == bid_table.c.bidder))
        .where(bid_table.c.tender_id == tender_id, bid_table.c.status.not_in(ACTIVE_BIDS))
    )
    return sorted({o.strip() for o in (await conn.execute(query)).scalars() if o and o.strip()})


async def _agency_org(conn: AsyncConnection, account_id: str) -> str:
    org = (await conn.execute(sa.select(account_table.c.organization).where(account_table.c.id == account_id))).scalar()
    return (org or "").strip() or account_id


def _owner(tender: Tender, actor: Actor) -> None:
    if not tender.owned_by(actor):
        raise NotPermitted("只有「{title}」的采购代理机构可以办理", title=tender.spec.title)


async def _eligible(ctx: TenderContext, tender: Tender, plan: Any) -> tuple[Any, dict[str, int], list[tuple[str, str, str]]]:
    """Who of the pool may sit on `tender` under `plan`: the eligibility (draw.eligibility), the
    exclusion counts by rule and each exclusion's (rule, expert, fact). Reads only."""
    tender_id = tender.id
    async with ctx.engine.connect() as conn:
        records = [record_from_row(r) for r in await expert_rows(conn)]
        bidders = await _bidder_orgs(conn, tender_id)
        agency = avoidance.Agency(await _agency_org(conn, tender.agency), plan.purchaser)
        declined = set((await conn.execute(
            sa.select(member_table.c.expert_id).where(member_table.c.tender_id == tender_id, member_table.c.status == DECLINED)
        )).scalars())
    return exclusions.derive(tender_id, plan.criteria, records, bidders, agency, plan.evaluation_date, declined)


async def expert_export(engine: Any, tender_id: str) -> dict[str, Any]:
    """What an auditor needs besides the bundle to re-derive `tender_id`'s pool
    (evaluation/experts/rederive.py): every expert's rule inputs, the bidder organisations and the
    agency's organisation, as the draw request reads them. Reads only. Raises NotFoundError."""
    from evaluation.experts.rederive import export_json
    from evaluation.tenders.store import tender_table

    async with engine.connect() as conn:
        agency = (await conn.execute(sa.select(tender_table.c.agency).where(tender_table.c.id == tender_id))).scalar()
        if agency is None:
            raise NotFoundError("找不到该项目（{tender}）", tender=tender_id)
        records = [record_from_row(r) for r in await expert_rows(conn)]
        return export_json(tender_id, records, await _bidder_orgs(conn, tender_id), await _agency_org(conn, agency))


async def preview_draw(ctx: TenderContext, actor: Actor, tender_id: str, body: Any) -> dict[str, Any]:
    """How many experts a draw with these criteria could seat from, before it is requested (the draw
    form shows it as the agency types): ``{"eligible", "seats", "enough", "problem"?}``. Logs nothing."""
    tender = await get(ctx, tender_id)
    _owner(tender, actor)
    if tender.state not in DRAWABLE:
        raise InvalidStateError("项目当前为「{state}」，开标后才能抽取专家",
                                state=state_name(tender.state))
    plan = parse_plan(tender.spec, body, ctx.clock())
    elig, counts, _ = await _eligible(ctx, tender, plan)
    answer: dict[str, Any] = {"eligible": len(elig.pool), "seats": plan.criteria.seats, "enough": True}
    try:
        draw.make_request(tender_id, plan.criteria, elig.pool, counts)
    except draw.TooFewExperts as exc:
        answer.update(enough=False, problem=exc.text)  # a Text: the web layer says it in the reader's language
    return answer


async def request_draw(ctx: TenderContext, actor: Actor, tender_id: str, body: Any) -> dict[str, Any]:
    """Check the criteria, freeze the eligible pool and log the request. Returns the draw status.

    Raises NotPermitted (not the tender's agency), InvalidStateError (wrong tender state),
    ConflictError (already requested or drawn), InvalidRequest (criteria) and draw.TooFewExperts
    (one line naming how many each rule excluded).
    """
    tender = await get(ctx, tender_id)
    _owner(tender, actor)
    if tender.state not in DRAWABLE:
        raise InvalidStateError("项目当前为「{state}」，开标后才能抽取专家",
                                state=state_name(tender.state))
    plan = parse_plan(tender.spec, body, ctx.clock())
    async with ctx.engine.connect() as conn:
        existing = await draw_row(conn, tender_id)
    if existing is not None and existing.state != EXHAUSTED:
        raise ConflictError("该项目已抽取过专家")
    elig, counts, facts = await _eligible(ctx, tender, plan)
    request = draw.make_request(tender_id, plan.criteria, elig.pool, counts)
    chain = ctx.chain.to_json()
    payload = {"request": request.to_json(), "plan": plan.to_json(), "excluded": counts,
               "exclusions": exclusions.committed(tender_id, facts),
               "chain": chain}

    async def apply(conn: AsyncConnection) -> None:
        row = await draw_row(conn, tender_id)
        if row is not None and row.state != EXHAUSTED:
            raise ConflictError("该项目已抽取过专家")
        values = {
            "state": REQUESTED, "plan": json.dumps({"plan": plan.to_json(), "excluded": counts}),
            "request": json.dumps(request.to_json(), ensure_ascii=False), "request_leaf": -1, "request_us": 0,
            "chain_hash": ctx.chain.hash, "round": 0, "signature": None, "result": None,
            "requested_by": actor.account, "drawn_us": None, "revealed_us": None,
        }
        if row is None:
            await conn.execute(sa.insert(draw_table).values(tender_id=tender_id, **values))
        else:
            await conn.execute(sa.update(draw_table).where(draw_table.c.tender_id == tender_id).values(**values))
            await conn.execute(sa.delete(member_table).where(member_table.c.tender_id == tender_id, member_table.c.status.in_(SEATED)))

    entry = await ctx.audit.append(EntryDraft(REQUESTED_KIND, payload, tender_id, actor), apply=apply)
    await fix_round(ctx, tender_id, entry.index, entry.time.timestamp())
    log.info("draw requested", extra={"tender": tender_id, "pool": len(request.pool), "seats": plan.criteria.seats})
    return await draw_status(ctx, actor, tender_id)


async def fix_round(ctx: TenderContext, tender_id: str, index: int | None = None, at: float | None = None) -> int:
    """Store the request entry's index and beacon round (finds the entry when not given). Idempotent."""
    if index is None or at is None:
        entries = await ctx.audit.entries_for_tender(tender_id, kinds=[REQUESTED_KIND])
        if not entries:
            raise NotFoundError("该项目没有抽取申请的记录（{kind}）", kind=REQUESTED_KIND)
        index, at = entries[-1].index, entries[-1].time.timestamp()
    round = first_round_after(ctx, at)
    async with ctx.engine.begin() as conn:
        await conn.execute(
            sa.update(draw_table)
            .where(draw_table.c.tender_id == tender_id, draw_table.c.state == REQUESTED)
            .values(round=round, request_leaf=index, request_us=int(at * 1_000_000))
        )
    return round


async def pending_draws(ctx: TenderContext) -> list[tuple[str, int]]:
    """(tender, round) of every draw waiting for its beacon; round 0: not fixed yet (see fix_round)."""
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(sa.select(draw_table.c.tender_id, draw_table.c.round).where(draw_table.c.state == REQUESTED))
        return [(r.tender_id, int(r.round)) for r in rows]


def _request(row: Any) -> draw.DrawRequest:
    return draw.DrawRequest.from_json(json.loads(row.request))


def _result(row: Any) -> draw.DrawResult:
    obj = json.loads(row.result)
    return draw.DrawResult(bytes.fromhex(obj["seed"]), tuple(obj["ranking"]), tuple(obj["committee"]))


async def _own_specialties(conn: AsyncConnection, ids: list[str]) -> dict[str, list[str]]:
    rows = await conn.execute(sa.select(expert_table.c.id, expert_table.c.specialties).where(expert_table.c.id.in_(ids)))
    return {r.id: json.loads(r.specialties) for r in rows}


async def _reseat(conn: AsyncConnection, tender_id: str, request: draw.DrawRequest, seated: list[str], at: int) -> list[dict[str, str]]:
    """Give each seated member its site and a specialty meeting the quotas; returns the seating."""
    by_id = {e.id: e for e in request.pool}
    given = seat(request.criteria, [by_id[i] for i in seated], await _own_specialties(conn, seated))
    out = []
    for i in seated:
        site, role = site_role(request.criteria, by_id[i].region)
        await conn.execute(
            sa.update(member_table).where(member_table.c.tender_id == tender_id, member_table.c.expert_id == i)
            .values(site=site, site_role=role, specialty=given[i], updated_us=at)
        )
        out.append({"expert": i, "site": site, "role": role, "specialty": given[i]})
    return out


async def complete_draw(ctx: TenderContext, tender_id: str, beacon: Beacon) -> None:
    """Draw with `beacon` (the request's round, verified by the source) and invite the committee.

    Idempotent: a draw already completed is left alone. Raises ConflictError for another round.
    """
    async with ctx.engine.connect() as conn:
        row = await draw_row(conn, tender_id)
    if row is None or row.state != REQUESTED:
        return
    if beacon.round != row.round:
        raise ConflictError("时间信标的轮次与本次抽取不符：应为第 {want} 轮，收到第 {got} 轮", want=row.round, got=beacon.round)
    request = _request(row)
    result = draw.draw(request, beacon.randomness)
    seated = list(result.committee)

    async def apply(conn: AsyncConnection) -> None:
        at = now_us()
        changed = await conn.execute(
            sa.update(draw_table).where(draw_table.c.tender_id == tender_id, draw_table.c.state == REQUESTED).values(
                state=DRAWN, signature=beacon.signature.hex(), drawn_us=at,
                result=json.dumps({"seed": result.seed.hex(), "ranking": list(result.ranking), "committee": seated}),
            )
        )
        if changed.rowcount != 1:
            raise ConflictError("本次抽取已同时完成")
        start = int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(member_table.c.seat), -1)).where(member_table.c.tender_id == tender_id))).scalar_one()) + 1
        for n, i in enumerate(seated):
            await conn.execute(sa.insert(member_table).values(
                tender_id=tender_id, expert_id=i, seat=start + n, status=INVITED, site="", site_role="main",
                specialty="", replaces=None, reason=None, updated_us=at,
            ))
        seats_out.extend(await _reseat(conn, tender_id, request, seated, at))

    seats_out: list[dict[str, str]] = []
    payload = {
        "round": beacon.round, "signature": beacon.signature.hex(), "randomness": beacon.randomness.hex(),
        "seed": result.seed.hex(), "committee": seated, "sequence": list(result.sequence),
    }
    try:
        await ctx.audit.append(EntryDraft(DRAWN_KIND, payload, tender_id), apply=apply)
    except ConflictError:
        log.info("draw already completed", extra={"tender": tender_id})
        return
    log.info("experts drawn", extra={"tender": tender_id, "round": beacon.round, "seats": len(seated)})


async def _open_draw(conn: AsyncConnection, tender_id: str, in_session: bool = False) -> Any:
    """The drawn draw of `tender_id`; once the session has started, only for a refill (`in_session`)."""
    row = await draw_row(conn, tender_id)
    if row is None:
        raise NotFoundError("该项目还没有抽取评标委员会")
    if row.state != DRAWN:
        raise InvalidStateError("该项目的专家抽取尚未完成")
    if not in_session and await is_revealed(conn, tender_id):
        raise InvalidStateError("评标已开始，评标委员会不能再变动")
    return row


async def _acting_expert(ctx: TenderContext, actor: Actor) -> str:
    expert = await expert_of_account(ctx.engine, actor.account)
    if expert is None:
        raise NotFoundError("此账号未关联专家库中的专家")
    return expert.id


async def accept(ctx: TenderContext, actor: Actor, tender_id: str) -> None:
    """The signed-in expert accepts its invitation (``experts.accepted``). Idempotent. After the
    session has started only a replacement (a seat refilled after a 回避) still has one to accept."""
    expert_id = await _acting_expert(ctx, actor)
    async with ctx.engine.connect() as conn:
        member = next((m for m in await member_rows(conn, tender_id, seated_only=True) if m.expert_id == expert_id), None)
        await _open_draw(conn, tender_id, in_session=member is not None and member.replaces is not None)
    if member is None:
        raise NotFoundError("你没有该项目待答复的邀请")
    if member.status == ACCEPTED:
        return

    async def apply(conn: AsyncConnection) -> None:
        c = member_table.c
        done = await conn.execute(sa.update(member_table).where(c.tender_id == tender_id, c.expert_id == expert_id, c.status == INVITED).values(status=ACCEPTED, updated_us=now_us()))
        if done.rowcount != 1:
            raise ConflictError("邀请刚有变动，请刷新")

    await ctx.audit.append(EntryDraft("experts.accepted", {"expert": expert_id}, tender_id, actor), apply=apply)


async def decline(ctx: TenderContext, actor: Actor, tender_id: str, expert_id: str | None, reason: Any,
                  ground: Any = None, evidence: Any = None, in_session: bool = False) -> dict[str, Any]:
    """A member declines (itself, or the tender's agency records it); its seat is refilled. Only a
    seated member can decline; the decline carries its reason, ground (``avoidance`` 回避申请 or
    ``unavailable`` 无法到场) and evidence reference (parse_decline).

    Returns ``{"declined": id, "replacements": [...]}`` or with ``"problem"`` when the reserve cannot
    refill the quotas (the draw becomes exhausted: request a new draw).

    `in_session`: the evaluation session has started and a member withdrew at check-in (the session's
    refill, evaluation/session/refill.py): allowed after the committee is revealed, and an exhausted
    reserve is refused (ConflictError) with nothing logged or changed.
    """
    reason, ground, evidence = parse_decline(reason, ground, evidence)
    if actor.role == "expert":
        expert_id = await _acting_expert(ctx, actor)
    else:
        _owner(await get(ctx, tender_id), actor)
        if not isinstance(expert_id, str) or not expert_id:
            raise InvalidRequest("请指定专家（expert_id）")
    async with ctx.engine.connect() as conn:
        row = await _open_draw(conn, tender_id, in_session)
        rows = await member_rows(conn, tender_id)
    seated = [m.expert_id for m in rows if m.status in SEATED]
    if expert_id not in seated:
        raise NotFoundError("专家「{expert}」没有该项目待答复的邀请", expert=expert_id)
    members = [i for i in seated if i != expert_id]
    declined = sorted({m.expert_id for m in rows if m.status == DECLINED} | {expert_id})
    request, result = _request(row), _result(row)
    problem = None
    try:
        replacements = list(draw.refill(request, result, members, declined))
    except draw.TooFewExperts as exc:
        if in_session:
            raise ConflictError("备选专家已用完，无法补足席位：{problem}", problem=exc.text) from exc
        replacements, problem, problem_text = [], exc.message, exc.text
    first_seat = max(m.seat for m in rows) + 1

    async def apply(conn: AsyncConnection) -> None:
        at, c = now_us(), member_table.c
        done = await conn.execute(sa.update(member_table).where(c.tender_id == tender_id, c.expert_id == expert_id, c.status.in_(SEATED)).values(status=DECLINED, reason=reason, updated_us=at))
        if done.rowcount != 1:
            raise ConflictError("邀请刚有变动，请刷新")
        for n, i in enumerate(replacements):
            await conn.execute(sa.insert(member_table).values(
                tender_id=tender_id, expert_id=i, seat=first_seat + n, status=INVITED, site="", site_role="main",
                specialty="", replaces=expert_id, reason=None, updated_us=at,
            ))
        if problem:
            await conn.execute(sa.update(draw_table).where(draw_table.c.tender_id == tender_id).values(state=EXHAUSTED))
        else:
            await _reseat(conn, tender_id, request, members + replacements, at)

    said = {"expert": expert_id, "by": actor.role, "reason": reason, "ground": ground, "evidence": evidence}
    drafts = [EntryDraft("experts.declined", said, tender_id, actor)]
    follow = {"declined": declined, "members": members}
    if problem:
        drafts.append(EntryDraft("experts.exhausted", {**follow, "problem": problem}, tender_id, actor))
    else:
        drafts.append(EntryDraft("experts.replaced", {**follow, "replacements": replacements}, tender_id, actor))
    await ctx.audit.append_many(drafts, apply=apply)
    log.info("expert declined", extra={"tender": tender_id, "replacements": len(replacements), "exhausted": bool(problem)})
    out: dict[str, Any] = {"declined": expert_id, "replacements": replacements}
    if problem:
        out["problem"] = problem_text  # the log keeps the Chinese line; the answer translates
    return out
