"""What the committee asks a bidder during the evaluation, and the bidder's answers.

**算术修正 (87号令 art. 59).** The group leader records a correction of a bid's price by one of the
article's rules (rules.CorrectionRule), the corrected total computed from what was read in the bid
(``evaluation.price_correction``). The bidder confirms or refuses it
(``evaluation.price_correction_answered``): confirmed, the corrected price replaces the record's
before any price score; refused, the bid is invalid. The tally waits for the answer.

**异常低价 (art. 60).** For a bid the platform flags, the leader asks for a written justification
within a set time (``evaluation.low_price_query``); the bidder sends it (or the leader records one
given in the booth: ``evaluation.low_price_justified``); the leader records the committee's
decision (``evaluation.low_price_decision``): accepted, the bid stays; not accepted — or no
justification by the deadline — the bid is invalid (``evaluation.bid_invalid``), and the tally runs
without it. The tally waits while a query is undecided.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from evaluation.audit.entry import Actor
from evaluation.errors import ConflictError, InvalidRequest, Text
from evaluation.session.rules import CorrectionRule, _enum, corrected_total, valid_prices
from evaluation.session.scoring import abnormally_low, evaluated_price
from evaluation.session.session import EvaluationContext, Session, get_session, retrying
from evaluation.session.validity import Ground, commit, leader_step
from evaluation.tenders.tender import NotPermitted

MAX_TEXT = 4000
MAX_MINUTES = 24 * 60
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _bid(session: Session, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest("请求须为 JSON 对象")
    bid = data.get("bid")
    found = next((b for b in session.bids if b["bid"] == bid), None) if isinstance(bid, str) else None
    if found is None:
        raise InvalidRequest("所选投标不在本次评标中")
    if found.get("invalid"):
        raise ConflictError("{bidder}的投标已被认定无效", bidder=found["bidder_name"])
    return found


def _text(value: Any, name: str) -> str:
    """`value` stripped, when it is 1–MAX_TEXT characters of text; `name` is the field's label (修正理由…)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidRequest("请填写{field}（1–{n} 字）", field=Text(name), n=MAX_TEXT)
    return value.strip()


def _replace(session: Session, bid: str, **values: Any) -> list[dict[str, Any]]:
    return [{**b, **values} if b["bid"] == bid else b for b in session.bids]


def _bidder_of(session: Session, actor: Actor, bid: dict[str, Any]) -> None:
    if actor.role != "bidder" or bid["bidder"] != actor.account:
        raise NotPermitted("只有{bidder}本人可以答复", bidder=bid["bidder_name"])


async def _run(ctx: EvaluationContext, tender_id: str, step: Any) -> Session:
    async def once() -> Session:
        result: Session = await step(await get_session(ctx, tender_id))
        return result

    session: Session = await retrying(once)
    ctx.notify(tender_id, {"type": "state", "state": session.state.value})
    return session


# -- 算术修正 art. 59 ------------------------------------------------------------------------------


async def correct_price(ctx: EvaluationContext, actor: Actor, tender_id: str, data: Any) -> Session:
    """The leader records a correction ``{bid, rule, words? | items?, explanation}``."""

    async def step(session: Session) -> Session:
        leader_step(session, actor, Text("不能记录算术修正"))
        bid = _bid(session, data)
        if (bid.get("correction") or {}).get("status") == "pending":
            raise ConflictError("{bidder}已有一项算术修正待其确认", bidder=bid["bidder_name"])
        rule = _enum(CorrectionRule, data.get("rule"), "rule")
        corrected = corrected_total(rule, data, int(bid["price_fen"]))
        explanation = _text(data.get("explanation"), "修正理由")
        correction = {"rule": rule.value, "original_fen": int(bid["price_fen"]), "corrected_fen": corrected,
                      "explanation": explanation, "status": "pending"}
        draft = session.entry("evaluation.price_correction", {"bid": bid["bid"], **correction}, actor)
        return await commit(ctx, session, actor, _replace(session, bid["bid"], correction=correction), [draft])

    return await _run(ctx, tender_id, step)


async def answer_correction(ctx: EvaluationContext, actor: Actor, tender_id: str, data: Any) -> Session:
    """The bidder confirms (``{bid, confirm: true}``) or refuses its bid's pending correction."""

    async def step(session: Session) -> Session:
        bid = _bid(session, data)
        _bidder_of(session, actor, bid)
        correction = bid.get("correction") or {}
        if correction.get("status") != "pending":
            raise ConflictError("{bidder}没有待确认的算术修正", bidder=bid["bidder_name"])
        confirm = data.get("confirm")
        if not isinstance(confirm, bool):
            raise InvalidRequest("请选择确认或不确认修正后的报价（confirm 须为 true 或 false）")
        draft = session.entry("evaluation.price_correction_answered", {"bid": bid["bid"], "confirmed": confirm}, actor)
        answered = {**correction, "status": "confirmed" if confirm else "refused"}
        if not confirm:
            bids = _replace(session, bid["bid"], correction=answered)
            fen = int(correction["corrected_fen"])
            reason = f"修正后报价 {fen // 100:,}.{fen % 100:02d} 元（投标人不确认）"
            return await commit(ctx, session, actor, bids, [draft], (bid["bid"], Ground.CORRECTION_REFUSED, reason))
        fen = int(correction["corrected_fen"])
        rate = Fraction(str(bid.get("deduction", "0")))
        bids = _replace(session, bid["bid"], correction=answered, price_fen=fen, evaluated_fen=str(evaluated_price(fen, rate)))
        return await commit(ctx, session, actor, bids, [draft])

    return await _run(ctx, tender_id, step)


# -- 异常低价 art. 60 --------------------------------------------------------------------------------


async def query_low_price(ctx: EvaluationContext, actor: Actor, tender_id: str, data: Any) -> Session:
    """The leader asks the bidder of a flagged bid to justify its price within ``minutes``."""

    async def step(session: Session) -> Session:
        leader_step(session, actor, Text("不能要求投标人说明报价"))
        bid = _bid(session, data)
        flags = abnormally_low(valid_prices(session.bids), session.config.low_bid_rule)
        if bid["bid"] not in flags:
            raise InvalidRequest("{bidder}的报价未被提示为异常低价", bidder=bid["bidder_name"])
        if bid.get("low_price"):
            raise ConflictError("已要求{bidder}说明报价", bidder=bid["bidder_name"])
        minutes = data.get("minutes")
        if type(minutes) is not int or not 1 <= minutes <= MAX_MINUTES:
            raise InvalidRequest("说明时限须为 1–{n} 的整数分钟（minutes）", n=MAX_MINUTES)
        due_us = ctx.tenders.now_us() + minutes * 60_000_000
        query = {"reason": flags[bid["bid"]], "due_us": due_us, "status": "open", "justification": None}
        draft = session.entry("evaluation.low_price_query", {"bid": bid["bid"], "reason": query["reason"], "due_us": due_us},
                              actor)
        return await commit(ctx, session, actor, _replace(session, bid["bid"], low_price=query), [draft])

    return await _run(ctx, tender_id, step)


def justifiable(session: Session, actor: Actor, data: Any, now_us: int) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The bid, its open query and whether the leader records it in the booth, when `actor` may send
    a justification for it now; raises otherwise (before any file is taken: a late upload stores nothing)."""
    bid = _bid(session, data)
    in_booth = session.leader == actor.account
    if not in_booth:
        _bidder_of(session, actor, bid)
    query = bid.get("low_price") or {}
    if query.get("status") != "open":
        raise ConflictError("{bidder}没有待提交的报价说明", bidder=bid["bidder_name"])
    if now_us > int(query["due_us"]):
        raise ConflictError("说明期限已过，不再接收书面说明")
    _text(data.get("text"), "书面说明")
    return bid, query, in_booth


async def justify_low_price(ctx: EvaluationContext, actor: Actor, tender_id: str, data: Any,
                            stored: dict[str, Any] | None = None) -> Session:
    """The bidder sends ``{bid, text, document_sha256?}`` before the deadline; or the leader records
    a justification given in the booth (``in_booth`` true). `stored` is the supporting document
    already in the blob store (``{sha256, name, size}``): its hash, name and size are logged."""

    async def step(session: Session) -> Session:
        bid, query, in_booth = justifiable(session, actor, data, ctx.tenders.now_us())
        document = None if stored is not None else data.get("document_sha256")
        if document is not None and (not isinstance(document, str) or not _SHA256.fullmatch(document)):
            raise InvalidRequest("证明材料的哈希无效（document_sha256 须为 64 位小写十六进制）")
        said = {"text": _text(data.get("text"), "书面说明"), "document_sha256": document, "in_booth": in_booth,
                "at_us": ctx.tenders.now_us()}
        if stored is not None:
            said.update(document_sha256=stored["sha256"], document_name=stored["name"], document_size=stored["size"])
        draft = session.entry("evaluation.low_price_justified", {"bid": bid["bid"], **said}, actor)
        bids = _replace(session, bid["bid"], low_price={**query, "status": "justified", "justification": said})
        return await commit(ctx, session, actor, bids, [draft])

    return await _run(ctx, tender_id, step)


async def decide_low_price(ctx: EvaluationContext, actor: Actor, tender_id: str, data: Any) -> Session:
    """The leader records the committee's decision ``{bid, accepted, reason}``. Accepting needs a
    justification; without one the decision can only be taken once the deadline has passed."""

    async def step(session: Session) -> Session:
        leader_step(session, actor, Text("不能对报价说明作出决定"))
        bid = _bid(session, data)
        query = bid.get("low_price") or {}
        if query.get("status") not in ("open", "justified"):
            raise ConflictError("{bidder}没有待决定的报价说明", bidder=bid["bidder_name"])
        accepted = data.get("accepted")
        if not isinstance(accepted, bool):
            raise InvalidRequest("请选择接受或不接受说明（accepted 须为 true 或 false）")
        reason = _text(data.get("reason"), "决定理由")
        if query["status"] == "open":
            if accepted:
                raise ConflictError("{bidder}尚未提交说明，无可接受", bidder=bid["bidder_name"])
            if ctx.tenders.now_us() <= int(query["due_us"]):
                raise ConflictError("{bidder}的说明期限未到，尚不能认定", bidder=bid["bidder_name"])
        draft = session.entry("evaluation.low_price_decision", {"bid": bid["bid"], "accepted": accepted, "reason": reason},
                              actor)
        bids = _replace(session, bid["bid"], low_price={**query, "status": "accepted" if accepted else "rejected",
                                                        "decision": reason})
        invalid = None if accepted else (bid["bid"], Ground.ABNORMALLY_LOW, reason)
        return await commit(ctx, session, actor, bids, [draft], invalid)

    return await _run(ctx, tender_id, step)


def bidder_view(session: Session, actor: Actor, now_us: int | None = None) -> dict[str, Any]:
    """What a bidder sees of the evaluation: only its own bid's correction and price query (with its
    price as read at the opening, the evaluated price, and the server's clock for the deadline)."""
    mine = [b for b in session.bids if b["bidder"] == actor.account]
    if not mine:
        raise NotPermitted("您在本次评标中没有投标")
    return {"tender": session.tender_id, "state": session.state.value, "now_us": now_us,
            "bids": [{"bid": b["bid"], "bidder_name": b["bidder_name"], "price_fen": b["price_fen"],
                      "correction": b.get("correction"), "low_price": b.get("low_price"), "invalid": b.get("invalid"),
                      "invalid_ground": b.get("invalid_ground"), "invalid_reason": b.get("invalid_reason")}
                     for b in mine]}
