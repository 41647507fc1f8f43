"""What each role may see of a draw (docs/experts.md, "Who sees what").

Before the evaluation session starts the committee is sealed: supervisors see everything, the
tender's agency sees only the draw's progress (state, round, seat count), each drawn expert sees
its own invitation. Once the session has started the agency sees the committee too.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from evaluation.audit.entry import Actor
from evaluation.errors import NotFoundError
from evaluation.experts.pool import expert_of_account, is_revealed
from evaluation.experts.store import SEATED, draw_row, expert_table, member_rows, member_table
from evaluation.tenders.rules import LOCAL_BEACON_NOTE, is_local_beacon
from evaluation.tenders.store import tender_table
from evaluation.tenders.tender import NotPermitted, TenderContext, get


async def draw_status(ctx: TenderContext, actor: Actor, tender_id: str) -> dict[str, Any]:
    """The draw of `tender_id` as `actor` may see it. Raises NotPermitted for other agencies."""
    tender = await get(ctx, tender_id)
    supervisor = actor.role == "supervisor"
    if not (supervisor or tender.owned_by(actor)):
        raise NotPermitted("只有该项目的采购代理机构和监督人员可以查看专家抽取")
    async with ctx.engine.connect() as conn:
        row = await draw_row(conn, tender_id)
        revealed = await is_revealed(conn, tender_id)
        members = await member_rows(conn, tender_id) if row is not None else []
        ids = [m.expert_id for m in members]
        names = {r[0]: r[1] for r in await conn.execute(sa.select(expert_table.c.id, expert_table.c.name).where(expert_table.c.id.in_(ids)))} if ids else {}
    local = is_local_beacon(ctx.chain)
    flag = {"local_beacon": local, "local_beacon_note": LOCAL_BEACON_NOTE if local else None}
    if row is None:
        return {"tender": tender_id, "state": "none", "sealed": not revealed, **flag}
    plan = json.loads(row.plan)
    request = json.loads(row.request)
    body: dict[str, Any] = {
        "tender": tender_id,
        "state": row.state,
        "round": row.round or None,
        "round_time": ctx.chain.time_of(row.round) if row.round else None,
        "request_index": row.request_leaf if row.request_leaf >= 0 else None,
        "seats": request["criteria"]["seats"],
        "size": plan["plan"]["size"],
        "sealed": not revealed,
        "committee": None,
        **flag,
    }
    if supervisor or revealed:
        body["committee"] = [
            {"expert_id": m.expert_id, "name": names.get(m.expert_id, ""), "site": m.site, "site_role": m.site_role,
             "specialty": m.specialty, "status": m.status, "replaces": m.replaces}
            for m in members if m.status in SEATED
        ]
    if supervisor:
        body.update(
            criteria=request["criteria"], pool=len(request["pool"]), excluded=plan["excluded"],
            signature=row.signature, declined=[
                {"expert_id": m.expert_id, "name": names.get(m.expert_id, ""), "reason": m.reason}
                for m in members if m.status not in SEATED
            ],
        )
    return body


async def invitations_of(ctx: TenderContext, actor: Actor) -> list[dict[str, Any]]:
    """The signed-in expert's own invitations (never the other members), newest tender first."""
    expert = await expert_of_account(ctx.engine, actor.account)
    if expert is None:
        raise NotFoundError("此账号未关联专家库中的专家")
    c, t = member_table.c, tender_table.c
    query = (
        sa.select(member_table, t.spec, t.state.label("tender_state"))
        .select_from(member_table.join(tender_table, t.id == c.tender_id))
        .where(c.expert_id == expert.id)
        .order_by(t.created_us.desc())
    )
    async with ctx.engine.connect() as conn:
        rows = list(await conn.execute(query))
    out = []
    for r in rows:
        spec = json.loads(r.spec)
        out.append({
            "tender": r.tender_id, "title": spec.get("title", ""), "tender_state": r.tender_state,
            "status": r.status, "site": r.site, "site_role": r.site_role, "specialty": r.specialty,
        })
    return out


async def visible_to_expert(ctx: TenderContext, actor: Actor, tender_id: str) -> None:
    """Raise NotFoundError unless the signed-in expert has an invitation to `tender_id`."""
    await get(ctx, tender_id)
    if not any(i["tender"] == tender_id for i in await invitations_of(ctx, actor)):
        raise NotFoundError("你没有该项目的邀请")
