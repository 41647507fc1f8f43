"""Scoring in the evaluation session: signed sheets (独立评分), the review (偏差与修改), the tally
(汇总) and the signed evaluation report (评标报告).

Independence: until every member has submitted, a member reads only its own sheets (the view and
`sheets_of` enforce it). Each signed document is canonical JSON (session_rules.parse_document)
verified with the member's registered key before anything is stored; a refusal stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.audit.entry import Actor, EntryDraft, canonical_json
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError, Text
from evaluation.session import report as session_report
from evaluation.session.events import change_from_json, current_sheets, lot_entries
from evaluation.session.rules import (
    CHANGE_DOC,
    REPORT_DOC,
    SHEETS_DOC,
    SessionState,
    at_least,
    criteria_json,
    parse_document,
    require,
    tally_bids,
    valid_prices,
    waiting_on,
)
from evaluation.session.scoring import (
    Finding,
    Method,
    Problem,
    ScoringError,
    Sheet,
    abnormally_low,
    check_sheet,
    check_sheets,
    display,
    points,
)
from evaluation.session.session import (
    EvaluationContext,
    Session,
    Stale,
    get_session,
    retrying,
    transition,
    write_state,
)
from evaluation.session.signatures import verify
from evaluation.session.store import change_table, report_signature_table, session_table, sheet_table
from evaluation.session.tally import (
    Deviation,
    Tally,
    TieRule,
    apply_change,
    deviations,
    recommend,
    tally,
    too_few_bids,
    unresolved,
)
from evaluation.tenders.opening_record import record as opening_record
from evaluation.tenders.rules import is_local_beacon
from evaluation.tenders.tender import NotPermitted, get

REFUSED_AT_SUBMISSION = (Problem.MISSING, Problem.UNKNOWN)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def submitted(conn: AsyncConnection, session_id: str) -> dict[str, list[dict[str, Any]]]:
    """Each member's submitted sheets (as signed), by account."""
    rows = await conn.execute(sa.select(sheet_table).where(sheet_table.c.session_id == session_id))
    return {r.account: json.loads(r.document)["sheets"] for r in rows}


async def changes(conn: AsyncConnection, session_id: str) -> list[dict[str, Any]]:
    c = change_table.c
    rows = await conn.execute(sa.select(change_table).where(c.session_id == session_id).order_by(c.id))
    return [json.loads(r.change) for r in rows]


def replay_view(session: Session, sheets: dict[str, Any], logged_changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The session in the shape session_events' reducers build, for current_sheets/recompute."""
    return {"config": session.config.to_json(), "criteria": criteria_json(session.criteria), "bids": session.bids,
            "sheets": sheets, "changes": logged_changes}


def deviation_json(d: Deviation) -> dict[str, Any]:
    return {"expert": d.expert, "bid": d.bid, "criterion": d.criterion, "score": str(d.score),
            "others_mean": str(d.others_mean), "high": d.high, "median": str(d.median),
            "others_low": str(d.others_low), "others_high": str(d.others_high)}


def finding_json(f: Finding) -> dict[str, Any]:
    return {"problem": f.problem.value, "expert": f.expert, "bid": f.bid, "criterion": f.criterion,
            "message": str(f.message)}


def review_of(session: Session, sheets: tuple[Sheet, ...]) -> dict[str, Any]:
    """Findings, deviations and abnormally low bids over the sheets of the bids still valid (shown
    to every member). Under 最低评标价法 findings are shown but do not block the tally."""
    prices = valid_prices(session.bids)
    sheets = tuple(s for s in sheets if s.bid in prices)
    return {
        "findings": [finding_json(f) for f in check_sheets(session.criteria, sheets)],
        "deviations": [deviation_json(d) for d in deviations(session.criteria, sheets, session.config.deviation_threshold)],
        "abnormally_low": abnormally_low(prices, session.config.low_bid_rule) if prices else {},
    }


def blocking_findings(session: Session, sheets: tuple[Sheet, ...]) -> list[Finding]:
    """The sheet findings that stop the tally: those on valid bids under 综合评分法; none under
    最低评标价法, where sheets play no part in the result (docs/scoring.md)."""
    if session.config.method is not Method.COMPREHENSIVE:
        return []
    valid = valid_prices(session.bids)
    return check_sheets(session.criteria, tuple(s for s in sheets if s.bid in valid))


# -- sheets -----------------------------------------------------------------------------------------------


async def submit_sheets(ctx: EvaluationContext, actor: Actor, session_id: str, document: Any, signature: Any) -> Session:
    """A member's sheets for every valid bid, as the canonical JSON it signed in the booth.

    The document is ``{"kind": "pingbiao-sheets/1", "tender", "signer", "sheets": [Sheet.to_json]}``;
    each sheet's expert is the signer. Missing or unknown criteria are refused; a score off its
    scale or a wrong total is accepted and shown in the review (fixed only by an allowed change).
    The last submission opens the review (``evaluation.review``).
    """
    doc = parse_document(document, SHEETS_DOC, session_id, actor.account)
    assert isinstance(document, str)

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        member = session.require_seated(actor)
        require(session.title, session.state, SessionState.SCORING, doing=Text("不能提交评分表"))
        raw = doc.get("sheets")
        if not isinstance(raw, list):
            raise InvalidRequest("签署的评分表格式无效（sheets 须为列表）")
        try:
            sheets = [Sheet.from_json(s) for s in raw]
        except ScoringError as exc:
            raise InvalidRequest("评分表格式无效：{problem}", problem=exc.text) from None
        if any(s.expert != actor.account for s in sheets):
            raise InvalidRequest("只能提交您本人的评分表")
        if sorted(s.bid for s in sheets) != sorted(valid_prices(session.bids)):
            raise InvalidRequest("请为每一份有效投标各提交一张评分表")
        if [s.to_json() for s in sheets] != raw:
            raise InvalidRequest("评分表格式无效（分值须为精确的文字）")
        for s in sheets:
            bad = [f for f in check_sheet(session.criteria, s) if f.problem in REFUSED_AT_SUBMISSION]
            if bad:
                raise InvalidRequest("{bidder}的评分表：{problem}", bidder=bidder_name(session, s.bid),
                                     problem=bad[0].message)
        assert member.public_key is not None
        verify(member.public_key, document.encode(), signature)
        async with ctx.engine.connect() as conn:
            done = await submitted(conn, session_id)
        if actor.account in done:
            raise ConflictError("您已提交评分表")
        digest, now = sha256_hex(document.encode()), ctx.tenders.now_us()
        payload = {"sheets": raw, "sha256": digest, "signature": signature}
        drafts = [session.entry("evaluation.sheet_submitted", payload, actor)]
        last = len(done) + 1 == len(session.seated)
        if last:
            every = {**done, actor.account: raw}
            all_sheets = current_sheets(replay_view(session, every, []))
            drafts.append(session.entry("evaluation.review", review_of(session, all_sheets), actor))
            drafts.append(transition(session, SessionState.REVIEW, actor))
        count = len(done)

        async def apply(conn: AsyncConnection) -> None:
            if len(await submitted(conn, session_id)) != count:
                raise Stale("评分表刚有变化，请重试")
            await write_state(conn, session, SessionState.REVIEW if last else None)
            await conn.execute(sheet_table.insert().values(session_id=session_id, account=actor.account, document=document,
                                                           sha256=digest, signature=signature, submitted_us=now))

        await ctx.tenders.audit.append_many(drafts, apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "state", "state": result.state.value})
    return result


async def sheets_of(ctx: EvaluationContext, actor: Actor, session_id: str, account: str) -> dict[str, Any]:
    """`account`'s signed sheets. Before everyone submitted only the member itself (and supervisors)
    may read them: anyone else gets NotFoundError, as if there were none."""
    session = await get_session(ctx, session_id)
    await require_reader(ctx, session, actor)
    if account != actor.account and actor.role != "supervisor" and not at_least(session.state, SessionState.REVIEW):
        raise NotFoundError("全体成员提交评分表之前，不能查看其他成员的评分表")
    async with ctx.engine.connect() as conn:
        row = (await conn.execute(sa.select(sheet_table).where(sheet_table.c.session_id == session_id,
                                                               sheet_table.c.account == account))).first()
    if row is None:
        raise NotFoundError("{member}尚未提交评分表", member=_member_name(session, account))
    return {"account": account, "document": row.document, "sha256": row.sha256, "signature": row.signature,
            "submitted_us": row.submitted_us, "sheets": json.loads(row.document)["sheets"]}


async def require_reader(ctx: EvaluationContext, session: Session, actor: Actor) -> None:
    """Members, the owning agency and supervisors read the session; anyone else: NotPermitted."""
    if actor.role == "supervisor" or session.member(actor.account) is not None:
        return
    tender = await get(ctx.tenders, session.tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("您不参加{title}的评标", title=session.title)


# -- changes --------------------------------------------------------------------------------------------------


async def change_score(ctx: EvaluationContext, actor: Actor, session_id: str, document: Any, signature: Any) -> Session:
    """A member changes one of its own scores during the review: ``{"kind": "pingbiao-change/1",
    "tender", "signer", "change": ScoreChange.to_json()}`` signed in the booth. Refused (ChangeRefused,
    409) without an allowed reason that holds, or without an explanation; nothing is stored then."""
    doc = parse_document(document, CHANGE_DOC, session_id, actor.account)
    assert isinstance(document, str)
    raw = doc.get("change")
    if not isinstance(raw, dict):
        raise InvalidRequest("签署的评分修改格式无效（change 须为对象）")
    try:
        change = change_from_json(raw)
    except (KeyError, TypeError, ScoringError) as exc:
        problem = exc.text if isinstance(exc, ScoringError) else str(exc)[:80]
        raise InvalidRequest("评分修改格式无效：{problem}", problem=problem) from None
    if change.expert != actor.account:
        raise NotPermitted("只能修改您本人的评分")

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        member = session.require_seated(actor)
        require(session.title, session.state, SessionState.REVIEW, doing=Text("不能修改评分（仅限复核阶段）"))
        async with ctx.engine.connect() as conn:
            done, before = await submitted(conn, session_id), await changes(conn, session_id)
        sheets = current_sheets(replay_view(session, done, before))
        apply_change(session.criteria, sheets, change, threshold=session.config.deviation_threshold)
        assert member.public_key is not None
        verify(member.public_key, document.encode(), signature)
        logged = change.to_json()
        payload = {"change": logged, "sha256": sha256_hex(document.encode()), "signature": signature}
        now, count = ctx.tenders.now_us(), len(before)

        async def apply(conn: AsyncConnection) -> None:
            if len(await changes(conn, session_id)) != count:
                raise Stale("评分刚有修改，请重试")
            await write_state(conn, session)
            await conn.execute(change_table.insert().values(session_id=session_id, account=actor.account, at_us=now,
                                                            change=json.dumps(logged, ensure_ascii=False),
                                                            document=document, signature=signature))

        await ctx.tenders.audit.append(session.entry("evaluation.score_changed", payload, actor), apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "changed"})
    return result


# -- 畸高畸低: confirming a deviating score -------------------------------------------------------------------

CONFIRMED_KIND = "evaluation.deviation_confirmed"
MAX_REASON = 1000


async def confirmations(ctx: EvaluationContext, session: Session) -> list[dict[str, Any]]:
    """The logged confirmations of deviating scores ({expert, bid, criterion, score, reason}) of
    `session` (of its lot), in log order."""
    found = await ctx.tenders.audit.entries_for_tender(session.tender_id, kinds=[CONFIRMED_KIND])
    return [dict(e.payload) for e in lot_entries(found, session.lot)]


def confirmed_keys(logged: list[dict[str, Any]]) -> list[tuple[str, str, str, Any]]:
    return [(c["expert"], c["bid"], c["criterion"], points(c["score"])) for c in logged]


def open_deviations(session: Session, sheets: tuple[Sheet, ...], logged: list[dict[str, Any]]) -> list[Deviation]:
    """The deviations on valid bids that no confirmation covers (综合评分法 only: under 最低评标价法
    sheets play no part in the result)."""
    if session.config.method is not Method.COMPREHENSIVE:
        return []
    prices = valid_prices(session.bids)
    found = deviations(session.criteria, tuple(s for s in sheets if s.bid in prices), session.config.deviation_threshold)
    return unresolved(found, confirmed_keys(logged))


def bidder_name(session: Session, bid: str) -> str:
    """How a line names the bidder of `bid` (its name; the bid id when the session lacks it)."""
    return next((str(b.get("bidder_name") or bid) for b in session.bids if b.get("bid") == bid), bid)


def _member_name(session: Session, account: str) -> str:
    member = session.member(account)
    return member.name if member is not None else account[:60]


def deviation_line(session: Session, d: Deviation, more: int = 0) -> Text:
    """One plain line naming the expert, the bidder and the criterion of an open deviation."""
    member = session.member(d.expert)
    bidder = next((b.get("bidder_name") or "" for b in session.bids if b.get("bid") == d.bid), "")
    values = {"expert": member.name if member else Text("一位专家"), "bidder": bidder or Text("一家投标人"),
              "criterion": session.criteria.get(d.criterion).title or d.criterion,
              "score": display(d.score), "median": display(d.median)}
    line = (Text("暂不能汇总：{expert}对{bidder}的“{criterion}”评分畸高（{score} 分，中位数 {median} 分），"
                 "须由{expert}确认并说明理由或修改评分", **values) if d.high else
            Text("暂不能汇总：{expert}对{bidder}的“{criterion}”评分畸低（{score} 分，中位数 {median} 分），"
                 "须由{expert}确认并说明理由或修改评分", **values))
    return Text.join([line, Text("另有 {n} 项畸高畸低待处理", n=more)]) if more else line


def with_reasons(review: dict[str, Any], logged: list[dict[str, Any]]) -> dict[str, Any]:
    """The review with each confirmed deviation's reason (``reason``; the last confirmation of that score)."""
    reasons = {(c["expert"], c["bid"], c["criterion"], points(c["score"])): c["reason"] for c in logged}
    return {**review, "deviations": [
        {**d, "reason": reasons.get((d["expert"], d["bid"], d["criterion"], points(d["score"])))} for d in review["deviations"]]}


async def confirm_deviation(ctx: EvaluationContext, actor: Actor, session_id: str, data: dict[str, Any]) -> Session:
    """A member confirms its own deviating score during the review with a reason: ``{bid, criterion,
    reason}``; logged as ``evaluation.deviation_confirmed``. The score it covers is the current one: a
    later change that still deviates must be confirmed again (or changed with reason abnormal_high_low)."""
    bid, code, reason = data.get("bid"), data.get("criterion"), data.get("reason")
    if not isinstance(bid, str) or not bid or len(bid) > 64:
        raise InvalidRequest("请指明投标")
    if not isinstance(code, str) or not code or len(code) > 64:
        raise InvalidRequest("请指明评分因素")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidRequest("请填写确认理由，不超过 {n} 字", n=MAX_REASON)

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        session.require_member(actor)
        require(session.title, session.state, SessionState.REVIEW, doing=Text("不能确认畸高畸低评分（仅限复核阶段）"))
        if not any(b.get("bid") == bid for b in session.bids):
            raise InvalidRequest("本次评标没有这个投标")
        if not any(c.code == code for c in session.criteria.items):
            raise InvalidRequest("没有这个评分因素")
        async with ctx.engine.connect() as conn:
            done, logged_changes = await submitted(conn, session_id), await changes(conn, session_id)
        sheets = current_sheets(replay_view(session, done, logged_changes))
        logged = await confirmations(ctx, session)
        mine = [d for d in open_deviations(session, sheets, logged)
                if d.expert == actor.account and d.bid == bid and d.criterion == code]
        if not mine:
            raise InvalidRequest("您在这一项上没有待确认的畸高畸低评分")
        d = mine[0]
        payload = {**deviation_json(d), "reason": reason.strip()}
        count = len(logged_changes)

        async def apply(conn: AsyncConnection) -> None:
            if len(await changes(conn, session_id)) != count:
                raise Stale("评分刚有变化，请重试")
            await write_state(conn, session)

        await ctx.tenders.audit.append(session.entry(CONFIRMED_KIND, payload, actor), apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "changed"})
    return result


# -- tally and report ---------------------------------------------------------------------------------------------


def _has_ties(result: Tally) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for b in result.bids:
        if b.rank is not None:
            groups.setdefault(b.rank, []).append(b.bid)
    return [g for g in groups.values() if len(g) > 1]


async def compute_tally(ctx: EvaluationContext, actor: Actor, session_id: str) -> Session:
    """The group leader closes the review: tally (tally.tally) with the tender's tie rule, the
    recommendation, and the report to sign. Refused while a sheet check finding remains. A drawn
    tie order logs ``evaluation.tie_draw_requested`` first and uses the next beacon round."""
    session = await get_session(ctx, session_id)
    if session.leader != actor.account:
        raise NotPermitted("只有评标组长可以结束复核并汇总")
    require(session.title, session.state, SessionState.REVIEW, doing=Text("不能汇总"))
    async with ctx.engine.connect() as conn:
        done, logged_changes = await submitted(conn, session_id), await changes(conn, session_id)
    sheets = current_sheets(replay_view(session, done, logged_changes))
    waiting = waiting_on(session.bids)
    if waiting:
        raise ConflictError("暂不能汇总：{waiting}", waiting=waiting)
    problems = blocking_findings(session, sheets)
    if problems:
        raise ConflictError("暂不能汇总：评分表有 {n} 处问题须先修改，第一处：{bidder}，{problem}", n=len(problems),
                            bidder=bidder_name(session, problems[0].bid), problem=problems[0].message)
    logged_confirmations = await confirmations(ctx, session)
    still_open = open_deviations(session, sheets, logged_confirmations)
    if still_open:
        raise ConflictError(deviation_line(session, still_open[0], len(still_open) - 1))
    bids = tally_bids(session.bids)
    failure = too_few_bids(sum(b.invalid is None for b in bids), session.config.min_bids)
    if failure:
        raise ConflictError(failure)  # the decision that made it so failed the session already
    rule, round, randomness = session.config.tie_rule, None, None
    drafts: list[EntryDraft] = []
    if rule is TieRule.DRAW:
        tied = _has_ties(tally(session.criteria, session.config.method, bids, sheets, min_valid=session.config.min_bids))
        if not tied:
            rule = TieRule.SHARED
        else:
            if ctx.beacon is None:
                raise ConflictError("抽签决定并列名次需要随机信标，本平台未配置")
            chain = ctx.tenders.chain
            round = chain.round_at(ctx.tenders.clock()) + 2
            draw = session.entry("evaluation.tie_draw_requested", {"round": round, "tied": tied}, actor)
            moving = transition(session, SessionState.TALLY, actor)

            async def request(conn: AsyncConnection) -> None:
                await write_state(conn, session, SessionState.TALLY, tie_round=round)

            await ctx.tenders.audit.append_many([draw, moving], apply=request)
            session = await get_session(ctx, session_id)
            randomness = (await ctx.beacon.wait_for(round)).randomness
    if session.state is SessionState.REVIEW:
        drafts.append(transition(session, SessionState.TALLY, actor))
    result = tally(session.criteria, session.config.method, bids, sheets, tie_rule=rule, randomness=randomness,
                   min_valid=session.config.min_bids)
    rec = recommend(result, session.config.recommend, separated=session.config.separated)
    tally_payload = {
        "tally": result.to_json(), "recommendation": {"candidates": list(rec.candidates), "ranked": rec.ranked},
        "tie_rule": rule.value, "round": round, "randomness": None if randomness is None else randomness.hex(),
    }
    tender = await get(ctx.tenders, session.tender_id)
    record = await opening_record(ctx.tenders, session.tender_id)
    report = session_report.build(tender.to_json(), session, done, logged_changes, sheets,
                                  with_reasons(review_of(session, sheets), logged_confirmations),
                                  tally_payload, record["objections"], local_beacon=is_local_beacon(ctx.tenders.chain))
    digest = session_report.digest(report)
    drafts.append(session.entry("evaluation.tally", tally_payload, actor))
    drafts.append(session.entry("evaluation.report_issued", {"sha256": digest}, actor))
    at_tally = replace(session, state=SessionState.TALLY)
    drafts.append(transition(at_tally, SessionState.SIGNING, actor))

    async def apply(conn: AsyncConnection) -> None:
        c = session_table.c
        moved = await conn.execute(sa.update(session_table).where(c.id == session_id, c.state == session.state.value)
                                   .values(state=SessionState.SIGNING.value, tally=json.dumps(tally_payload),
                                           report=canonical_json(report).decode(), report_sha256=digest))
        if moved.rowcount != 1:
            raise ConflictError("{title}的评标刚有变化，请刷新页面", title=session.title)

    await ctx.tenders.audit.append_many(drafts, apply=apply)
    ctx.notify(session_id, {"type": "state", "state": SessionState.SIGNING.value})
    return await get_session(ctx, session_id)


async def report_signatures(conn: AsyncConnection, session_id: str) -> list[dict[str, Any]]:
    """Who signed the report and when (``{"account", "at_us"}``), in the order they signed."""
    c = report_signature_table.c
    rows = await conn.execute(sa.select(c.account, c.at_us).where(c.session_id == session_id).order_by(c.at_us))
    return [{"account": r.account, "at_us": r.at_us} for r in rows]


async def report_signers(conn: AsyncConnection, session_id: str) -> list[str]:
    return [s["account"] for s in await report_signatures(conn, session_id)]


async def sign_report(ctx: EvaluationContext, actor: Actor, session_id: str, document: Any, signature: Any) -> Session:
    """A member signs the report: ``{"kind": "pingbiao-report/1", "tender", "signer", "sha256"}``
    with the report's hash, in the booth. The last signature makes it final (``evaluation.report_final``)."""
    doc = parse_document(document, REPORT_DOC, session_id, actor.account)
    assert isinstance(document, str)

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        member = session.require_seated(actor)
        require(session.title, session.state, SessionState.SIGNING, doing=Text("不能签署评标报告"))
        if doc.get("sha256") != session.report_sha256:
            raise InvalidRequest("签署的不是当前的评标报告，请刷新页面后签署（SHA-256 {sha256}）", sha256=session.report_sha256)
        assert member.public_key is not None
        verify(member.public_key, document.encode(), signature)
        async with ctx.engine.connect() as conn:
            signers = await report_signers(conn, session_id)
        if actor.account in signers:
            raise ConflictError("您已签署评标报告")
        drafts = [session.entry("evaluation.report_signed", {"sha256": session.report_sha256, "signature": signature}, actor)]
        last = len(signers) + 1 == len(session.seated)
        if last:
            final = {"sha256": session.report_sha256, "signers": sorted([*signers, actor.account])}
            drafts += [session.entry("evaluation.report_final", final, actor), transition(session, SessionState.DONE, actor)]
        now, count = ctx.tenders.now_us(), len(signers)

        async def apply(conn: AsyncConnection) -> None:
            if len(await report_signers(conn, session_id)) != count:
                raise Stale("签名刚有变化，请重试")
            await write_state(conn, session, SessionState.DONE if last else None)
            await conn.execute(report_signature_table.insert().values(session_id=session_id, account=actor.account,
                                                                      signature=signature, at_us=now))

        await ctx.tenders.audit.append_many(drafts, apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "state", "state": result.state.value})
    return result
