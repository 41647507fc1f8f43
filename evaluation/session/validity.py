"""The committee's decisions that a bid is invalid (投标无效), and the 废标 they can lead to.

A bid fails the qualification review (资格审查, 87号令 art. 44), the conformity review (符合性审查,
art. 50), or is abnormally low without an accepted justification (art. 60). The group leader
records the committee's decision with its ground and reason (``evaluation.bid_invalid``); the bid
then takes no part in the tally. When fewer bids than the tender's minimum remain, the procurement
fails (废标, 87号令 arts. 43–44, 政府采购法 art. 36): ``evaluation.failed``, the session and the
tender become ``failed`` with the reason, and there is never a ranking. For a lot of a multi-lot
tender (分包) the lot fails (该包废标): the tender fails once every lot has failed, and a lot
that fails after the others' results leaves the tender awarded (evaluation/session/result.py).
"""

from __future__ import annotations

import enum
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.audit.entry import Actor, EntryDraft
from evaluation.errors import ConflictError, InvalidRequest, Text
from evaluation.session.result import published_results
from evaluation.session.rules import SessionState, require, valid_prices
from evaluation.session.scoring import abnormally_low
from evaluation.session.session import (
    EvaluationContext,
    Session,
    get_session,
    other_lots,
    retrying,
    tender_failed_with,
    transition,
    write_state,
)
from evaluation.session.tally import enough_bids
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import NotPermitted, set_state


class Ground(str, enum.Enum):
    """Why the committee finds a bid invalid."""

    QUALIFICATION = "qualification"  # 资格审查不通过 (art. 44)
    CONFORMITY = "conformity"  # 符合性审查不通过 (art. 50)
    ABNORMALLY_LOW = "abnormally_low"  # 异常低价未能合理说明 (art. 60)
    CORRECTION_REFUSED = "correction_refused"  # 投标人不确认算术修正 (art. 59)


GROUND_ZH = {
    Ground.QUALIFICATION: "资格审查不通过",
    Ground.CONFORMITY: "符合性审查不通过",
    Ground.ABNORMALLY_LOW: "报价明显低于其他报价且未能证明其合理性",
    Ground.CORRECTION_REFUSED: "投标人不确认算术修正后的报价",
}


def invalid_text(ground: Ground, reason: str) -> str:
    """The one line a report shows for an invalid bid."""
    return f"{GROUND_ZH[ground]}：{reason}"


def parse_decision(session: Session, data: Any) -> tuple[str, Ground, str]:
    """``{bid, ground, reason}`` checked against the session: a valid bid of it, a known ground, a
    stated reason; ``abnormally_low`` only for a bid flagged as abnormally low. Raises InvalidRequest."""
    if not isinstance(data, dict):
        raise InvalidRequest("请求须为 JSON 对象（含 bid、ground、reason）")
    bid, reason = data.get("bid"), data.get("reason")
    try:
        ground = Ground(data.get("ground"))
    except ValueError:
        allowed = ", ".join(g.value for g in Ground)
        raise InvalidRequest("请选择无效理由（ground 须为 {allowed} 之一）", allowed=allowed) from None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
        raise InvalidRequest("请填写评标委员会的理由（不超过 2000 字）")
    valid = valid_prices(session.bids)
    if not isinstance(bid, str) or bid not in valid:
        known = {str(b["bid"]) for b in session.bids}
        if isinstance(bid, str) and bid in known:
            name = next(b["bidder_name"] for b in session.bids if b["bid"] == bid)
            raise ConflictError("{bidder}的投标已被认定无效", bidder=name)
        raise InvalidRequest("所选投标不在本次评标中")
    if ground is Ground.ABNORMALLY_LOW and bid not in abnormally_low(valid, session.config.low_bid_rule):
        raise InvalidRequest("该投标的报价未被提示为异常低价")
    return bid, ground, reason.strip()


def leader_step(session: Session, actor: Actor, doing: Text) -> None:
    """Raise unless `actor` is the group leader and the session is scoring or in review; `doing` is
    the refusal otherwise (``Text("不能认定投标无效")``, rules.require)."""
    if session.leader != actor.account:
        raise NotPermitted("只有评标组长可以记录评标委员会的决定")
    require(session.title, session.state, SessionState.SCORING, SessionState.REVIEW, doing=doing)


async def commit(ctx: EvaluationContext, session: Session, actor: Actor, bids: list[dict[str, Any]],
                 drafts: list[EntryDraft], invalid: tuple[str, Ground, str] | None = None) -> Session:
    """Append `drafts` and store the session's `bids`. With `invalid` (bid, ground, reason) the bid
    is marked invalid first (``evaluation.bid_invalid``); too few valid bids left also log
    ``evaluation.failed`` and move the session and the tender to ``failed`` (废标)."""
    failure = None
    drafts = list(drafts)
    if invalid is not None:
        bid, ground, reason = invalid
        text = invalid_text(ground, reason)
        bids = [{**b, "invalid": text, "invalid_ground": ground.value, "invalid_reason": reason} if b["bid"] == bid else b
                for b in bids]
        left = len(valid_prices(bids))
        failure = enough_bids(left, session.config.min_bids)
        drafts.append(session.entry("evaluation.bid_invalid", {"bid": bid, "ground": ground.value, "reason": reason,
                                                               "invalid": text, "valid_left": left}, actor))
        if failure:
            drafts.append(session.entry("evaluation.failed", {"reason": failure, "valid": left,
                                                              "min_bids": session.config.min_bids}, actor))
            drafts.append(transition(session, SessionState.FAILED, actor))

    published = set(await published_results(ctx, session.tender_id)) if failure else set()

    async def apply(conn: AsyncConnection) -> None:
        await write_state(conn, session, SessionState.FAILED if failure else None, bids=json.dumps(bids, ensure_ascii=False))
        if failure and await tender_failed_with(conn, session):
            await set_state(conn, session.tender_id, TenderState.EVALUATING, TenderState.FAILED, failed_reason=failure)
        elif failure and session.lot is not None:  # 该包废标 after the other lots' results: the tender is awarded
            others = await other_lots(conn, session)
            if all(n in published or state == SessionState.FAILED.value for n, state in others.items()):
                await set_state(conn, session.tender_id, TenderState.EVALUATING, TenderState.AWARDED)

    await ctx.tenders.audit.append_many(drafts, apply=apply)
    return await get_session(ctx, session.id)


async def declare_invalid(ctx: EvaluationContext, actor: Actor, session_id: str, data: Any) -> Session:
    """The group leader records the committee's decision that a bid is invalid, during scoring or
    the review (``evaluation.bid_invalid``, and 废标 when too few remain: `commit`). An abnormally
    low bid is found invalid through the art. 60 query instead (evaluation/session/bid_queries.py)."""

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        leader_step(session, actor, Text("不能认定投标无效"))
        bid, ground, reason = parse_decision(session, data)
        if ground is Ground.CORRECTION_REFUSED:
            raise InvalidRequest("投标人不确认算术修正时投标自动无效，无需另行认定（87号令第五十九条）")
        if ground is Ground.ABNORMALLY_LOW:
            raise InvalidRequest("异常低价须先要求投标人说明，不接受说明才认定无效（87号令第六十条）")
        return await commit(ctx, session, actor, list(session.bids), [], (bid, ground, reason))

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "state", "state": result.state.value})
    return result
