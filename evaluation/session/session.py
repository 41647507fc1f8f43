"""The evaluation session (评标): start, members, check-in (签到) and the leader vote (评标组长).

One session per tender, or per lot of a multi-lot tender (分包: its id is ``<tender id>.<lot>``,
evaluation/session/ids.py); each entry of a lot's session names the lot (``lot`` in its payload,
events.tagged). One state machine (evaluation/session/rules.py) changed only by
`transition`, which returns the ``evaluation.state`` entry (``old -> new``) to append with the
change. Every step is one audit append whose ``apply`` writes the rows in the same transaction.
Scoring, changes, the tally and the report are in evaluation/session/sheets.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto.drand import BeaconSource
from evaluation.accounts.account import get_account
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError, Text
from evaluation.experts.committee import minimum_experts
from evaluation.session import events as session_events
from evaluation.session.ids import evaluation_id, parse_evaluation_id
from evaluation.session.rules import (
    COMMITMENT_SHA256,
    COMMITMENT_VERSION,
    DECLARATION_SHA256,
    DECLARATION_VERSION,
    SessionConfig,
    SessionState,
    avoidance_answers,
    bids_from_record,
    check_criteria,
    check_transition,
    count_votes,
    criteria_from_json,
    criteria_from_tender,
    criteria_json,
    require,
    tender_threshold,
)
from evaluation.session.scoring import Criteria
from evaluation.session.signatures import key_fingerprint, load_public_key
from evaluation.session.store import member_table, session_table, vote_table
from evaluation.session.tally import too_few_bids
from evaluation.tenders import opening_record
from evaluation.tenders.lots import evaluated_lot
from evaluation.tenders.opening import record_rows
from evaluation.tenders.rules import TenderState, sme_deduction_of, state_name
from evaluation.tenders.store import tender_table
from evaluation.tenders.tender import NotPermitted, TenderContext, get, load_for_update, set_state

log = logging.getLogger(__name__)
session_events.register()


class MemberLike(Protocol):
    """A drawn committee member (evaluation.experts.CommitteeMember)."""

    @property
    def expert_id(self) -> str: ...
    @property
    def account_id(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def specialty(self) -> str: ...


CommitteeSource = Callable[[AsyncEngine, str], Awaitable[Sequence[MemberLike]]]


async def drawn_committee(engine: AsyncEngine, tender_id: str) -> Sequence[MemberLike]:
    """The committee drawn for `tender_id` (evaluation.experts.committee_of)."""
    from evaluation.experts import pool as experts

    found: Sequence[MemberLike] = await experts.committee_of(engine, tender_id)
    return found


@dataclass
class EvaluationContext:
    """What the session functions need: the tender context (database, log, clock, chain), where the
    committee comes from, the beacon (drawn tie orders) and a notifier called after commits."""

    tenders: TenderContext
    committee: CommitteeSource = drawn_committee
    beacon: BeaconSource | None = None
    notify: Callable[[str, dict[str, Any]], None] = field(default=lambda _t, _e: None)

    @property
    def engine(self) -> AsyncEngine:
        return self.tenders.engine


class Stale(ConflictError):
    """What a step was decided on changed before it committed (a concurrent step): decide again."""


async def retrying(step: Callable[[], Awaitable[Any]], attempts: int = 8) -> Any:
    """Run `step` again while it raises Stale (concurrent members finishing a phase together)."""
    for _ in range(attempts - 1):
        try:
            return await step()
        except Stale:
            continue
    return await step()


@dataclass(frozen=True)
class Member:
    account: str
    kind: str  # expert | purchaser_rep
    expert_id: str | None
    name: str
    site: str
    specialty: str
    seat: int
    public_key: str | None
    checked_in_us: int | None
    recused_us: int | None = None
    recusal: tuple[dict[str, Any], ...] = ()
    fills: int | None = None  # the seat of the withdrawn member this one replaces (补抽)
    released_us: int | None = None  # a withdrawn member's seat left unfilled (不再补足, refill.release)

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "kind": self.kind, "expert_id": self.expert_id, "name": self.name,
                "site": self.site, "specialty": self.specialty, "seat": self.seat,
                "checked_in": self.checked_in_us is not None, "checked_in_us": self.checked_in_us,
                "recused": self.recused_us is not None, "recused_us": self.recused_us, "recusal": list(self.recusal),
                "fills": self.fills, "released": self.released_us is not None,
                "key_sha256": None if self.public_key is None else key_fingerprint(self.public_key)}


@dataclass(frozen=True)
class Session:
    """A session as stored, with its members (by seat). `id` is the session's (the tender's id, or
    ``<tender id>.<lot>`` for a lot); `tender_id` the tender's, which its log entries carry."""

    id: str
    tender_id: str
    state: SessionState
    config: SessionConfig
    criteria: Criteria
    bids: list[dict[str, Any]]
    leader: str | None
    vote_round: int
    tie_round: int | None
    tally: dict[str, Any] | None
    report: dict[str, Any] | None
    report_sha256: str | None
    members: tuple[Member, ...]
    lot: int | None = None
    tender_name: str = ""  # the tender's title (招标项目名称), how messages name it


    def entry(self, kind: str, payload: dict[str, Any], actor: Actor) -> EntryDraft:
        """A log entry of this session: the tender's, naming the lot for a lot's session."""
        return EntryDraft(kind, session_events.tagged(payload, self.lot), self.tender_id, actor)

    @property
    def title(self) -> str:
        """How a line names this evaluation: the tender's title (《…》, its id when it has none),
        with the lot (第2包) for a lot's."""
        name = f"《{self.tender_name}》" if self.tender_name else self.tender_id
        return name if self.lot is None else f"{name}第{self.lot}包"

    def member(self, account: str) -> Member | None:
        return next((m for m in self.members if m.account == account), None)

    def require_member(self, actor: Actor) -> Member:
        found = self.member(actor.account)
        if found is None:
            raise NotPermitted("您不是{title}评标委员会的成员", title=self.title)
        return found

    @property
    def seated(self) -> tuple[Member, ...]:
        """The members who sit: every member but those who withdrew (回避)."""
        return tuple(m for m in self.members if m.recused_us is None)

    def vacant(self) -> list[Member]:
        """Withdrawn members whose seat nobody fills yet (the agency refills it from the reserve, or
        releases it when the committee without it is still lawfully composed)."""
        filled = {m.fills for m in self.members if m.fills is not None}
        return [m for m in self.members if m.recused_us is not None and m.seat not in filled and m.released_us is None]

    def check_in_complete_with(self, account: str) -> bool:
        """Whether check-in is complete once `account` checks in: every seated member checked in and
        no withdrawn member's seat is waiting to be filled."""
        waiting = [m for m in self.seated if m.checked_in_us is None and m.account != account]
        return not waiting and not self.vacant()

    def require_seated(self, actor: Actor) -> Member:
        """The acting member, refused when it withdrew (回避)."""
        found = self.require_member(actor)
        if found.recused_us is not None:
            raise NotPermitted("您已申请回避，不再参加本次评标")
        return found


async def load(conn: AsyncConnection, session_id: str) -> Session:
    """The session `session_id`; NotFoundError when it has not started (or names no lot)."""
    row = (await conn.execute(sa.select(session_table).where(session_table.c.id == session_id))).first()
    if row is None:
        tender_id, lot = parse_evaluation_id(session_id)
        if lot is None:
            lots = (await conn.execute(sa.select(session_table.c.id).where(session_table.c.tender_id == tender_id))).first()
            if lots is not None:
                raise NotFoundError("项目 {tender} 分包评标：请打开各分包的评标（{first} …）",
                                    tender=tender_id[:60], first=lots[0])
        raise NotFoundError("评标 {evaluation} 尚未开始", evaluation=session_id[:60])
    c = member_table.c
    members = tuple(
        Member(r.account, r.kind, r.expert_id, r.name, r.site, r.specialty, r.seat, r.public_key, r.checked_in_us,
               r.recused_us, tuple(json.loads(r.recusal)) if r.recusal else (), r.fills, r.released_us)
        for r in await conn.execute(sa.select(member_table).where(c.session_id == session_id).order_by(c.seat))
    )
    config = SessionConfig.from_json(json.loads(row.config))
    spec = (await conn.execute(sa.select(tender_table.c.spec).where(tender_table.c.id == row.tender_id))).scalar()
    return Session(
        row.id, row.tender_id, SessionState(row.state), config,
        criteria_from_json(json.loads(row.criteria)), json.loads(row.bids), row.leader, row.vote_round,
        row.tie_round, None if row.tally is None else json.loads(row.tally),
        None if row.report is None else json.loads(row.report), row.report_sha256, members,
        row.lot, str(json.loads(spec).get("title") or "") if spec else "",
    )


async def get_session(ctx: EvaluationContext, session_id: str) -> Session:
    async with ctx.engine.connect() as conn:
        return await load(conn, session_id)


async def sessions_of(engine: AsyncEngine, tender_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The sessions of each tender given ({id, lot, state}, by lot), in one query."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not tender_ids:
        return found
    c = session_table.c
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(c.id, c.tender_id, c.lot, c.state).where(c.tender_id.in_(list(tender_ids)))
                                  .order_by(c.tender_id, c.lot))
        for r in rows:
            found.setdefault(r.tender_id, []).append({"id": r.id, "lot": r.lot, "state": r.state})
    return found


async def other_lots(conn: AsyncConnection, session: Session) -> dict[int, str]:
    """Inside a write transaction: the state of each other lot's session of `session`'s tender, by
    lot, ``none`` for a lot not started (the tender row is locked on PostgreSQL meanwhile)."""
    tender = await load_for_update(conn, session.tender_id)
    c = session_table.c
    started = dict((await conn.execute(sa.select(c.lot, c.state).where(c.tender_id == session.tender_id,
                                                                        c.id != session.id))).all())
    return {n: started.get(n, "none") for n in range(1, len(tender.spec.lots) + 1) if n != session.lot}


async def tender_failed_with(conn: AsyncConnection, session: Session) -> bool:
    """Whether the tender fails (废标) as `session` fails: always without lots; for a lot, when
    every other lot's session has failed too (a lot that fails alone: 该包废标, the others go on)."""
    if session.lot is None:
        return True
    return all(state == SessionState.FAILED.value for state in (await other_lots(conn, session)).values())


def transition(session: Session, new: SessionState, actor: Actor) -> EntryDraft:
    """THE state change: checked here, written by `write_state` in the apply; returns its entry."""
    check_transition(session.title, session.state, new)
    log.info("evaluation state", extra={"session": session.id, "old": session.state.value, "new": new.value})
    return session.entry("evaluation.state", {"old": session.state.value, "new": new.value}, actor)


async def write_state(conn: AsyncConnection, session: Session, new: SessionState | None = None, **values: Any) -> None:
    """Update the session row if it is still in `session.state` (else Stale), moving it to `new`."""
    values["state"] = (new or session.state).value
    c = session_table.c
    result = await conn.execute(
        sa.update(session_table).where(c.id == session.id, c.state == session.state.value).values(**values)
    )
    if result.rowcount != 1:
        raise Stale("{title}的评标刚有变化，请重试", title=session.title)


async def require_members_as_read(conn: AsyncConnection, session: Session) -> None:
    """Inside an apply: Stale unless the committee's members are still as `session` read them. A
    write that decides from the whole committee (the last check-in opens the election, a released
    seat may complete check-in) must not decide from a committee others changed meanwhile: members
    checking in together would each see the others still waiting, and the election never open."""
    c = member_table.c
    rows = await conn.execute(sa.select(c.account, c.checked_in_us, c.recused_us, c.released_us, c.fills)
                              .where(c.session_id == session.id).order_by(c.account))
    read = sorted((m.account, m.checked_in_us, m.recused_us, m.released_us, m.fills) for m in session.members)
    if [tuple(r) for r in rows] != read:
        raise Stale("{title}的评标委员会刚有变化，请重试", title=session.title)


def _text(value: Any, name: str, maximum: int = 256) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > maximum:
        raise InvalidRequest("请填写 {name}，不超过 {max} 字", name=name, max=maximum)
    return value.strip()


# -- start --------------------------------------------------------------------------------------------


async def start(ctx: EvaluationContext, actor: Actor, target: str, data: dict[str, Any]) -> Session:
    """The owning agency starts the evaluation of a confirmed tender with a drawn committee.

    `target` is the session id (evaluation/session/ids.py): the tender's id, or for a lot of a
    multi-lot tender ``<tender id>.<lot>`` (or the tender's id with ``data["lot"]``). Each lot is
    evaluated by its own session, by the tender's drawn committee, one after the other or at the
    same time: the first start moves the tender ``confirmed -> evaluating``, a later lot's start
    finds it evaluating. A lot started already: ConflictError; nothing is written on a refusal.

    `data` may hold ``config`` (SessionConfig fields) and ``criteria`` (session_rules
    criteria_from_json); without criteria, the tender's own are mapped (criteria_from_tender), and
    without ``config.deviation_threshold`` the tender's 畸高畸低 threshold applies.
    Logs ``evaluation.started``.
    """
    tender_id, named_lot = parse_evaluation_id(target)
    tender = await get(ctx.tenders, tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("《{title}》属于另一家代理机构", title=tender.spec.title)
    asked = data.get("lot", data.get("config", {}).get("lot") if isinstance(data.get("config"), dict) else None)
    if named_lot is not None and asked is not None and asked != named_lot:
        raise InvalidRequest("评标编号 {target} 是第{lot}包的，请求却指定了分包 {asked}", target=target[:60], lot=named_lot,
                             asked=str(asked)[:20])
    lot = evaluated_lot(tender.spec, named_lot if named_lot is not None else asked)
    session_id = evaluation_id(tender_id, lot)
    if tender.state is TenderState.CONFIRMING:
        tender = await opening_record.finalize(ctx.tenders, tender_id)  # the window may have closed
    later_lot = lot is not None and tender.state is TenderState.EVALUATING  # another lot is being evaluated
    if tender.state is not TenderState.CONFIRMED and not later_lot:
        raise ConflictError("《{title}》的开标记录尚未确认，不能开始评标（项目当前为「{state}」）", title=tender.spec.title,
                            state=state_name(tender.state))
    async with ctx.engine.connect() as conn:
        if (await conn.execute(sa.select(session_table.c.id).where(session_table.c.id == session_id))).first():
            if lot is not None:
                raise ConflictError("第{lot}包的评标已经开始", lot=lot)
            raise ConflictError("《{title}》的评标已经开始", title=tender.spec.title)
    raw_config = data.get("config", {})
    if not isinstance(raw_config, dict):
        raise InvalidRequest("评标设置格式无效")
    raw_config = {k: v for k, v in raw_config.items() if k != "lot"}
    if "min_bids" in raw_config:
        raise InvalidRequest("最少有效投标数由招标文件规定，不能在评标时设置")
    category = tender.spec.category.value
    config = SessionConfig.from_json({"method": tender.spec.evaluation_method.value, "category": category,
                                      "deviation_threshold": tender_threshold(tender.spec.deviation_threshold),
                                      **raw_config, "min_bids": tender.spec.min_bids})
    if data.get("criteria"):
        criteria = criteria_from_json(data["criteria"])
    else:
        criteria = criteria_from_tender([c.to_json() for c in tender.spec.criteria])
    check_criteria(criteria, config)
    committee = list(await ctx.committee(ctx.engine, tender_id))
    if not committee:
        raise ConflictError("《{title}》尚未抽取评标委员会", title=tender.spec.title)
    unlinked = [m.name for m in committee if not m.account_id]
    if unlinked:
        raise ConflictError("评标委员会成员{name}没有平台账号，请先关联账号再开始评标", name=unlinked[0])
    config = replace(config, lot=lot)
    async with ctx.engine.connect() as conn:
        bids = bids_from_record([r.to_json() for r in await record_rows(conn, tender_id)],
                                lambda fields, docs: sme_deduction_of(tender.spec, fields, docs), lot)
    failure = too_few_bids(len(bids), config.min_bids)
    if failure is not None:
        raise ConflictError(failure)
    members = [
        {"account": m.account_id, "kind": "expert", "expert_id": m.expert_id, "name": m.name, "site": m.site,
         "specialty": m.specialty, "seat": seat}
        for seat, m in enumerate(committee, start=1)
    ]
    if len({m["account"] for m in members}) != len(members):
        raise ConflictError("两名评标委员会成员关联了同一个账号")
    now = ctx.tenders.now_us()

    async def apply(conn: AsyncConnection) -> None:
        now_state = (await load_for_update(conn, tender_id)).state
        if now_state is TenderState.CONFIRMED:
            await set_state(conn, tender_id, TenderState.CONFIRMED, TenderState.EVALUATING)
        elif not (lot is not None and now_state is TenderState.EVALUATING):  # another lot's start came first: fine
            raise ConflictError("《{title}》现为「{state}」，不能开始评标", title=tender.spec.title,
                                state=state_name(now_state))
        if (await conn.execute(sa.select(session_table.c.id).where(session_table.c.id == session_id))).first():
            raise ConflictError("第{lot}包的评标已经开始", lot=lot)
        await conn.execute(session_table.insert().values(
            id=session_id, tender_id=tender_id, lot=lot, state=SessionState.CHECKIN.value, config=json.dumps(config.to_json()),
            criteria=json.dumps(criteria_json(criteria), ensure_ascii=False), bids=json.dumps(bids, ensure_ascii=False),
            vote_round=1, started_by=actor.account, started_us=now))
        await conn.execute(member_table.insert(), [{"session_id": session_id, **m} for m in members])

    payload = {
        "config": config.to_json(), "criteria": criteria_json(criteria), "bids": bids, "members": members,
        "declaration": {"version": DECLARATION_VERSION, "sha256": DECLARATION_SHA256},
        "commitment": {"version": COMMITMENT_VERSION, "sha256": COMMITMENT_SHA256},
        **({} if lot is None else {"lot": {"lot": lot, "name": tender.spec.lots[lot - 1].name}}),
    }
    await ctx.tenders.audit.append(EntryDraft("evaluation.started", payload, tender_id, actor), apply=apply)
    ctx.notify(session_id, {"type": "state", "state": SessionState.CHECKIN.value})
    return await get_session(ctx, session_id)


async def add_purchaser_rep(ctx: EvaluationContext, actor: Actor, session_id: str, account_id: Any) -> Session:
    """The owning agency adds a purchaser's representative (采购人代表) during check-in; experts stay
    at least two thirds of the members (committee.minimum_experts)."""
    account = await get_account(ctx.engine, _text(account_id, "account"))
    if account.role.value not in ("agency", "expert"):
        raise InvalidRequest("采购人代表须为代理机构或评审专家账号")
    session = await get_session(ctx, session_id)
    tender = await get(ctx.tenders, session.tender_id)
    if not tender.owned_by(actor):
        raise NotPermitted("《{title}》属于另一家代理机构", title=tender.spec.title)

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        require(session.title, session.state, SessionState.CHECKIN, doing=Text("不能添加成员（仅限签到阶段）"))
        if session.member(account.id) is not None:
            raise ConflictError("{name}已是评标委员会成员", name=account.display_name or account.username)
        size = len(session.members) + 1
        experts = sum(m.kind == "expert" for m in session.members)
        if experts < minimum_experts(size):
            raise ConflictError("评审专家须占成员总数的三分之二以上：{size} 名成员中专家只有 {experts} 名", size=size, experts=experts)
        seat = max(m.seat for m in session.members) + 1
        row = {"account": account.id, "kind": "purchaser_rep", "name": account.display_name or account.username, "seat": seat}

        async def apply(conn: AsyncConnection) -> None:
            await write_state(conn, session)
            await conn.execute(member_table.insert().values(session_id=session_id, expert_id=None, site="", specialty="", **row))

        await ctx.tenders.audit.append(session.entry("evaluation.member_added", row, actor), apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "members"})
    return result


# -- check-in ------------------------------------------------------------------------------------------


async def check_in(ctx: EvaluationContext, actor: Actor, session_id: str, data: dict[str, Any]) -> Session:
    """签到: a member confirms its identity, answers the avoidance declaration bidder by bidder
    (rules.avoidance_answers), accepts the commitment (the texts' SHA-256 must be of those this
    version shows) and registers its signing key (base64 SPKI, P-256). The last check-in opens
    the leader election.

    A member that declares a tie to a bidder withdraws (回避) instead: that is logged
    (``evaluation.member_recused``) with its answers, it does not check in, and the session waits
    at check-in until the agency has the seat refilled (evaluation/session/refill.py): check-in
    completes when every seated member has checked in and no withdrawn member's seat is vacant."""
    if data.get("identity_confirmed") is not True:
        raise InvalidRequest("请确认您的身份")
    if data.get("declaration_sha256") != DECLARATION_SHA256:
        raise InvalidRequest("请阅读并接受当前的回避声明（{version}）", version=DECLARATION_VERSION)
    if data.get("commitment_sha256") != COMMITMENT_SHA256:
        raise InvalidRequest("请阅读并接受当前的承诺书（{version}）", version=COMMITMENT_VERSION)

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        member = session.require_member(actor)
        require(session.title, session.state, SessionState.CHECKIN, doing=Text("不能签到"))
        if member.checked_in_us is not None:
            raise ConflictError("您已签到")
        if member.recused_us is not None:
            raise ConflictError("您已申请回避，不能签到")
        answers = avoidance_answers(session.bids, data.get("avoidance"))
        declaration = {"version": DECLARATION_VERSION, "sha256": DECLARATION_SHA256}
        now = ctx.tenders.now_us()
        c = member_table.c
        mine = sa.update(member_table).where(c.session_id == session_id, c.account == actor.account)
        ties = [a for a in answers if a["conflict"]]
        if ties:
            recusal = {"declaration": declaration, "avoidance": answers, "name": member.name, "seat": member.seat}

            async def withdraw(conn: AsyncConnection) -> None:
                await require_members_as_read(conn, session)
                await write_state(conn, session)
                await conn.execute(mine.values(recused_us=now, recusal=json.dumps(ties, ensure_ascii=False)))

            await ctx.tenders.audit.append(session.entry("evaluation.member_recused", recusal, actor), apply=withdraw)
            return await get_session(ctx, session_id)
        public_key = data.get("public_key")
        load_public_key(public_key)
        assert isinstance(public_key, str)
        payload = {
            "declaration": declaration, "avoidance": answers,
            "commitment": {"version": COMMITMENT_VERSION, "sha256": COMMITMENT_SHA256},
            "public_key": public_key, "key_sha256": key_fingerprint(public_key),
        }
        drafts = [session.entry("evaluation.checked_in", payload, actor)]
        last = session.check_in_complete_with(actor.account)
        if last:
            drafts.append(transition(session, SessionState.ELECTION, actor))

        async def apply(conn: AsyncConnection) -> None:
            await require_members_as_read(conn, session)
            await write_state(conn, session, SessionState.ELECTION if last else None)
            await conn.execute(mine.values(public_key=public_key, checked_in_us=now))

        await ctx.tenders.audit.append_many(drafts, apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "state", "state": result.state.value})
    return result


# -- the leader vote ---------------------------------------------------------------------------------------


async def round_votes(conn: AsyncConnection, session_id: str, round: int) -> dict[str, str]:
    c = vote_table.c
    rows = await conn.execute(sa.select(vote_table).where(c.session_id == session_id, c.round == round))
    return {r.voter: r.candidate for r in rows}


async def vote(ctx: EvaluationContext, actor: Actor, session_id: str, candidate: Any) -> Session:
    """One vote per member and round for a group leader (评标组长); the purchaser's representative
    cannot be elected. A majority of the members elects (scoring opens); everyone voted without a
    majority: a new round (``evaluation.revote``)."""
    candidate = _text(candidate, "candidate")

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        session.require_seated(actor)
        require(session.title, session.state, SessionState.ELECTION, doing=Text("不能推选评标组长"))
        chosen = session.member(candidate)
        if chosen is None or chosen.recused_us is not None:
            raise InvalidRequest("所选的人不是评标委员会成员")
        if chosen.kind != "expert":
            raise InvalidRequest("采购人代表不能担任评标组长")
        round = session.vote_round
        async with ctx.engine.connect() as conn:
            votes = await round_votes(conn, session_id, round)
        if actor.account in votes:
            raise ConflictError("您已在第 {round} 轮投票", round=round)
        before = len(votes)
        votes[actor.account] = candidate
        outcome = count_votes(len(session.seated), votes)
        counts: dict[str, int] = {}
        for v in votes.values():
            counts[v] = counts.get(v, 0) + 1
        drafts = [session.entry("evaluation.vote", {"round": round, "candidate": candidate}, actor)]
        values: dict[str, Any] = {}
        new = None
        if outcome.leader is not None:
            drafts.append(session.entry("evaluation.leader_elected", {"leader": outcome.leader, "round": round, "counts": counts}, actor))
            drafts.append(transition(session, SessionState.SCORING, actor))
            values, new = {"leader": outcome.leader}, SessionState.SCORING
        elif outcome.revote:
            drafts.append(session.entry("evaluation.revote", {"round": round + 1, "counts": counts}, actor))
            values = {"vote_round": round + 1}

        async def apply(conn: AsyncConnection) -> None:
            if len(await round_votes(conn, session_id, round)) != before:
                raise Stale("投票刚有变化，请重试")
            await write_state(conn, session, new, **values)
            await conn.execute(vote_table.insert().values(session_id=session_id, round=round, voter=actor.account, candidate=candidate))

        await ctx.tenders.audit.append_many(drafts, apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "state", "state": result.state.value})
    return result
