"""Replay (回放): folding a generated log gives the state the test built directly; kinds are documented.

The generator covers every kind that has a reducer: the tender, bids and opening, the expert draw
(experts.*, evaluation/experts/events.py) and the evaluation session (evaluation.*,
evaluation/session/events.py). Every module of the evaluation package is imported first, so a
reducer registered anywhere without a generator case fails the test whatever ran before it.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import evaluation
from evaluation.audit.entry import Actor, Entry, EntryDraft
from evaluation.audit.events import KINDS, new_state, replay
from evaluation.audit.log import AuditLog

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-log.md"
NOT_IMPORTED = ("evaluation.migrations",)  # alembic scripts: run by alembic, not importable alone


def import_every_kind() -> None:
    """Import every module of the evaluation package: each registers its kinds on import."""
    for module in pkgutil.walk_packages(evaluation.__path__, "evaluation."):
        if not module.name.startswith(NOT_IMPORTED):
            importlib.import_module(module.name)


import_every_kind()


@dataclass(frozen=True)
class IndexOf:
    """In an expected state: the log index of this tender's `position`-th draft, which the log
    assigns only when the interleaved drafts are appended (experts.draw_requested keeps it)."""

    position: int


def resolve(value: Any, entries: list[Entry]) -> Any:
    """`value` with every IndexOf replaced by the index the log gave that entry."""
    if isinstance(value, IndexOf):
        return entries[value.position].index
    if isinstance(value, dict):
        return {k: resolve(v, entries) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, entries) for v in value]
    return value


def generate(rng: random.Random, tender: str) -> tuple[list[EntryDraft], list[dict[str, Any]]]:
    """Random drafts for one tender and, after each, the state they should lead to."""
    drafts: list[EntryDraft] = []
    states: list[dict[str, Any]] = []
    state = new_state()

    def add(draft: EntryDraft) -> None:
        drafts.append(draft)
        states.append({k: v for k, v in _copy(state).items() if k not in {"timeline", "problems"}})

    agency = Actor("agency-1", "agency")
    system = Actor("system", "system")
    tender_fields = {"title": f"采购 {tender}", "opening_round": 1000, "chain": "ab" * 32}
    state["tender"] = {"title": f"采购 {tender}", "agency": "agency-1"}
    state["phase"] = "draft"
    add(EntryDraft("tender.drafted", {"spec": {"title": f"采购 {tender}"}}, tender, agency))
    state["tender"] = {**tender_fields, "agency": "agency-1"}
    state["phase"] = "published"
    add(EntryDraft("tender.published", tender_fields, tender, agency))
    for n in range(rng.randint(0, 3)):
        changes = {"opening_round": 1000 + n + 1}
        state["tender"].update(changes)
        state["amendments"] += 1
        add(EntryDraft("tender.amended", {"changes": changes, "reason": "答疑"}, tender, agency))
    state["tender"].update({"opening_time": "2030-01-01T00:00:00Z", "opening_round": 1010})
    state["postponements"] = 1
    add(EntryDraft("tender.postponed", {"opening_time": "2030-01-01T00:00:00Z", "opening_round": 1010,
                                        "previous_round": 1000, "round_time": "2030-01-01T00:00:00Z", "reason": "延期"}, tender, agency))
    bids = []
    for n in range(rng.randint(4, 7)):
        bid, bidder = f"{tender}-bid-{n}", Actor(f"bidder-{n}", "bidder")
        state["bids"][bid] = {"bidder": bidder.account, "sha256": f"{n:064x}", "size": 100 + n, "status": "submitted"}
        add(EntryDraft("bid.submitted", {"bid_id": bid, "sha256": f"{n:064x}", "size": 100 + n}, tender, bidder))
        bids.append(bid)
    last = bids[-1]
    state["bids"][last].update({"sha256": "ff" * 32, "size": 7})
    add(EntryDraft("bid.replaced", {"bid_id": last, "sha256": "ff" * 32, "size": 7, "previous_sha256": "00" * 32},
                   tender, Actor(state["bids"][last]["bidder"], "bidder")))
    withdrawn = bids[0]
    state["bids"][withdrawn]["status"] = "withdrawn"
    add(EntryDraft("bid.withdrawn", {"bid_id": withdrawn}, tender, Actor("bidder-0", "bidder")))
    state["bids"][bids[1]]["status"] = "void"
    add(EntryDraft("bid.voided", {"bid_id": bids[1], "reason": "postponed"}, tender, system))
    state["signins"] = ["供应商 2"]
    add(EntryDraft("hall.signin", {"name": "供应商 2"}, tender, Actor("bidder-2", "bidder")))
    add(EntryDraft("expert.joined", {"booth": 3}, tender, Actor("expert-9", "expert")))  # unknown kind
    state["phase"], state["opened_round"] = "opening", 1010
    add(EntryDraft("opening.started", {"round": 1010, "signature": "00", "chain": "ab" * 32}, tender, system))
    failed_bid, opened = bids[2], bids[3:]
    state["bids"][failed_bid].update({"status": "open_failed", "reason": "bad"})
    add(EntryDraft("bid.open_failed", {"bid_id": failed_bid, "bidder_name": "x", "reason": "bad"}, tender, system))
    for bid in opened:
        fields = {"price": str(rng.randint(10**5, 10**6)), "days": rng.randint(30, 90)}
        state["bids"][bid]["status"] = "opened"
        state["opening_record"][bid] = fields
        add(EntryDraft("bid.opened", {"bid_id": bid, "bidder_name": "x", "fields": fields, "documents": []}, tender, system))
    state["phase"] = "opened"
    add(EntryDraft("bids.unsealed", {"round": 1010, "bid_ids": opened, "failed_ids": [failed_bid]}, tender, system))
    state.update({"phase": "confirming", "record_rows": len(opened) + 1, "confirm_until": "2030-01-01T00:15:00Z"})
    add(EntryDraft("opening.record", {"rows": [{}] * (len(opened) + 1), "valid": len(opened), "min_bids": 3,
                                      "confirm_until": "2030-01-01T00:15:00Z"}, tender, system))
    if tender.endswith("C"):
        state.update({"phase": "failed", "failed_reason": "too few"})
        add(EntryDraft("tender.failed", {"reason": "too few", "valid": 1, "min_bids": 3}, tender, system))
        return drafts, states
    confirmer, objector = Actor("bidder-3", "bidder"), Actor("bidder-4", "bidder")
    state["confirmations"] = ["bidder-3"]
    add(EntryDraft("opening.confirmed", {}, tender, confirmer))
    state["objections"] = {"O-1": {"bidder": "bidder-4", "text": "异议", "answer": None}}
    add(EntryDraft("opening.objection", {"objection_id": "O-1", "text": "异议"}, tender, objector))
    state["objections"]["O-1"]["answer"] = "答复"
    add(EntryDraft("opening.answer", {"objection_id": "O-1", "text": "答复"}, tender, agency))
    state["phase"] = "confirmed"
    add(EntryDraft("opening.final", {"confirmed": ["bidder-3"], "objections": 1, "unanswered": 0}, tender, system))
    committee = _draw(rng, tender, add, state, drafts)
    _evaluation(rng, tender, add, state, committee, opened)
    return drafts, states


def _draw(rng: random.Random, tender: str, add: Any, state: dict[str, Any], drafts: list[EntryDraft]) -> list[str]:
    """The expert draw (docs/audit-log.md, "Experts"): requested, drawn, accepted, a decline
    replaced from the reserve; on T-B a second decline finds the reserve empty (exhausted) and a
    new request draws again (the request resets declined and accepted). Returns the committee."""
    agency, system = Actor("agency-1", "agency"), Actor("system", "system")
    attempts = 2 if tender.endswith("B") else 1
    committee: list[str] = []
    for attempt in range(attempts):
        pool = [f"{tender}-X{attempt}{n}" for n in range(6 if attempt < attempts - 1 else rng.randint(6, 9))]
        excluded = {"bidder_employee": rng.randint(0, 2), "unavailable": rng.randint(0, 1)}
        request = {"v": 1, "tender": tender, "criteria": {"seats": 5, "specialties": {"A01": 5}, "sites": []},
                   "pool": [{"id": x, "region": "330102", "specialties": ["A01"]} for x in pool]}
        state["experts"] = {"state": "requested", "request_index": IndexOf(len(drafts)), "seats": 5, "pool": len(pool),
                            "excluded": dict(excluded), "committee": [], "declined": [], "accepted": []}
        add(EntryDraft("experts.draw_requested", {
            "request": request, "plan": {"size": 5, "purchaser_reps": 0, "evaluation_date": "2030-01-02"},
            "excluded": excluded, "chain": {"hash": "ab" * 32, "period": 3, "genesis_time": 1700000000}}, tender, agency))
        sequence = rng.sample(pool, len(pool))
        committee, reserve = sequence[:5], sequence[5:]
        state["experts"].update(state="drawn", round=1020 + attempt, committee=list(committee))
        add(EntryDraft("experts.drawn", {"round": 1020 + attempt, "signature": "5a" * 48, "randomness": "11" * 32,
                                         "seed": "22" * 32, "committee": committee, "sequence": sequence}, tender, system))
        for expert in rng.sample(committee, rng.randint(1, 3)):
            state["experts"]["accepted"].append(expert)
            add(EntryDraft("experts.accepted", {"expert": expert}, tender, Actor(f"acc-{expert}", "expert")))
        if attempt == attempts - 1 and attempts > 1:
            break  # T-B's second draw stands as drawn
        declined: list[str] = []
        for expert in committee[1:attempts + 1]:  # T-A: one decline; T-B: two
            by = rng.choice([Actor(f"acc-{expert}", "expert"), agency])
            declined.append(expert)
            members = [x for x in committee if x not in declined]
            state["experts"]["committee"] = list(members)
            state["experts"]["declined"].append(expert)
            add(EntryDraft("experts.declined", {"expert": expert, "by": by.role, "reason": "出差"}, tender, by))
            if reserve:
                replacements, reserve = reserve[:1], reserve[1:]
                committee = members + replacements
                state["experts"]["committee"] = list(committee)
                add(EntryDraft("experts.replaced", {"declined": list(declined), "members": members,
                                                    "replacements": replacements}, tender, by))
            else:
                state["experts"].update(state="exhausted", committee=list(members))
                add(EntryDraft("experts.exhausted", {"declined": list(declined), "members": members,
                                                     "problem": "A01 needs 1 more expert"}, tender, by))
    return list(state["experts"]["committee"])


def _evaluation(rng: random.Random, tender: str, add: Any, state: dict[str, Any], committee: list[str],
                opened: list[str]) -> None:
    """The evaluation session (docs/audit-log.md, "Evaluation session"), each reducer's effect
    built directly in state["evaluation"]."""
    agency = Actor("agency-1", "agency")
    members = [{"account": f"acc-{x}", "kind": "expert", "expert_id": x, "name": f"专家 {x}", "site": "main",
                "specialty": "A01", "seat": n} for n, x in enumerate(committee, start=1)]
    config = {"method": "comprehensive", "category": "goods", "deviation_threshold": "3/10", "tie_rule": "draw",
              "recommend": 3, "separated": False, "low_bid_fraction": "1/5"}
    criteria = [{"code": "c1", "kind": "price", "max_points": "30", "allowed": None, "minimum": None, "title": "价格"},
                {"code": "c2", "kind": "technical", "max_points": "70", "allowed": None, "minimum": None, "title": "技术"}]
    bids = [{"bid": b, "bidder": f"bidder-{b[-1]}", "bidder_name": "x", "price_fen": 100_000 + n} for n, b in enumerate(opened)]
    declaration = {"version": 1, "sha256": "d0" * 32}
    commitment = {"version": 1, "sha256": "c0" * 32}
    state["phase"] = "evaluating"
    state["evaluation"] = {
        "state": "checkin", "config": config, "criteria": criteria, "bids": bids,
        "members": {m["account"]: {**m, "checked_in": False} for m in members},
        "votes": [], "leader": None, "sheets": {}, "changes": [], "tally": None, "report_sha256": None, "report_signers": [],
    }
    ev = state["evaluation"]
    add(EntryDraft("evaluation.started", {"config": config, "criteria": criteria, "bids": bids, "members": members,
                                          "declaration": declaration, "commitment": commitment}, tender, agency))
    rep = {"account": "acc-rep", "kind": "purchaser_rep", "name": "采购人代表", "seat": len(members) + 1}
    ev["members"]["acc-rep"] = {**rep, "checked_in": False}
    add(EntryDraft("evaluation.member_added", rep, tender, agency))
    tied = {"account": "acc-tied", "kind": "purchaser_rep", "name": "另一代表", "seat": len(members) + 2}
    ev["members"]["acc-tied"] = {**tied, "checked_in": False}
    add(EntryDraft("evaluation.member_added", tied, tender, agency))
    answers = [{"bidder": b["bidder"], "bidder_name": b["bidder_name"], "conflict": i == 0, "reason": "曾任职" if i == 0 else ""}
               for i, b in enumerate(bids)]
    ev["members"]["acc-tied"].update(recused=True, recusal=answers[:1])
    add(EntryDraft("evaluation.member_recused", {"declaration": declaration, "avoidance": answers, "name": "另一代表",
                                                 "seat": tied["seat"]}, tender, Actor("acc-tied", "agency")))
    ev["members"]["acc-tied"]["released"] = True
    add(EntryDraft("evaluation.seat_released", {"account": "acc-tied", "name": "另一代表", "seat": tied["seat"],
                                                "seated": len(members) + 1, "reason": "组成仍合规"}, tender, agency))
    accounts = [a for a in ev["members"] if a != "acc-tied"]
    actors = {a: Actor(a, "expert") for a in accounts}

    def move(old: str, new: str, by: Actor) -> None:
        ev["state"] = new
        add(EntryDraft("evaluation.state", {"old": old, "new": new}, tender, by))

    for account in rng.sample(accounts, len(accounts)):
        key = f"key-{account}"
        ev["members"][account].update(checked_in=True, public_key=key)
        add(EntryDraft("evaluation.checked_in", {"declaration": declaration, "commitment": commitment,
                                                 "public_key": key, "key_sha256": "ee" * 32}, tender, actors[account]))
    move("checkin", "election", actors[account])
    lost = rng.choice(accounts)  # a member lost its key and registered a new one
    old_key, new_key = ev["members"][lost]["public_key"], f"key2-{lost}"
    ev["members"][lost].update(public_key=new_key, revoked_keys=["ee" * 32])
    add(EntryDraft("evaluation.key_replaced", {"public_key": new_key, "key_sha256": "ff" * 32, "old_key_sha256": "ee" * 32,
                                               "reason": "lost"}, tender, actors[lost]))
    assert old_key != new_key
    leader = rng.choice(accounts)
    for account in accounts:  # round 1: split, nobody has a majority
        candidate = accounts[accounts.index(account) % 3]
        ev["votes"].append({"round": 1, "voter": account, "candidate": candidate})
        add(EntryDraft("evaluation.vote", {"round": 1, "candidate": candidate}, tender, actors[account]))
    add(EntryDraft("evaluation.revote", {"round": 2, "counts": {accounts[0]: 2, accounts[1]: 2, accounts[2]: 2}},
                   tender, actors[account]))  # no reducer: the state keeps the votes
    majority = len(accounts) // 2 + 1
    for account in accounts[:majority]:
        ev["votes"].append({"round": 2, "voter": account, "candidate": leader})
        add(EntryDraft("evaluation.vote", {"round": 2, "candidate": leader}, tender, actors[account]))
    ev["leader"] = leader
    add(EntryDraft("evaluation.leader_elected", {"leader": leader, "round": 2, "counts": {leader: majority}},
                   tender, actors[account]))
    move("election", "scoring", actors[account])
    invalid = "符合性审查不通过 (conformity): 未提供授权书"
    ev["bids"] = [{**b, "invalid": invalid, "invalid_ground": "conformity", "invalid_reason": "未提供授权书"}
                  if b["bid"] == opened[-1] else b for b in ev["bids"]]
    add(EntryDraft("evaluation.bid_invalid", {"bid": opened[-1], "ground": "conformity", "reason": "未提供授权书",
                                              "invalid": invalid, "valid_left": len(opened) - 1}, tender, actors[leader]))
    correction = {"rule": "words", "original_fen": 100_000, "corrected_fen": 90_000, "explanation": "大写为准",
                  "status": "pending"}
    ev["bids"] = [{**b, "correction": correction} if b["bid"] == opened[0] else b for b in ev["bids"]]
    add(EntryDraft("evaluation.price_correction", {"bid": opened[0], **correction}, tender, actors[leader]))
    ev["bids"] = [{**b, "correction": {**correction, "status": "confirmed"}, "price_fen": 90_000, "evaluated_fen": "90000"}
                  if b["bid"] == opened[0] else b for b in ev["bids"]]
    add(EntryDraft("evaluation.price_correction_answered", {"bid": opened[0], "confirmed": True}, tender,
                   Actor("bidder-3", "bidder")))
    query = {"reason": "below 80.00 %", "due_us": 1_900_000_000_000_000, "status": "open", "justification": None}
    ev["bids"] = [{**b, "low_price": query} if b["bid"] == opened[0] else b for b in ev["bids"]]
    add(EntryDraft("evaluation.low_price_query", {"bid": opened[0], "reason": query["reason"], "due_us": query["due_us"]},
                   tender, actors[leader]))
    said = {"text": "库存", "document_sha256": None, "in_booth": True, "at_us": 1}
    query = {**query, "status": "justified", "justification": said}
    ev["bids"] = [{**b, "low_price": query} if b["bid"] == opened[0] else b for b in ev["bids"]]
    add(EntryDraft("evaluation.low_price_justified", {"bid": opened[0], **said}, tender, actors[leader]))
    ev["bids"] = [{**b, "low_price": {**query, "status": "accepted", "decision": "合理"}} if b["bid"] == opened[0] else b for b in ev["bids"]]
    add(EntryDraft("evaluation.low_price_decision", {"bid": opened[0], "accepted": True, "reason": "合理"}, tender,
                   actors[leader]))
    if tender.endswith("B"):  # too few valid bids left: 废标, no ranking
        reason = "废标：too few"
        ev["failed"] = reason
        state.update({"phase": "failed", "failed_reason": reason})
        add(EntryDraft("evaluation.failed", {"reason": reason, "valid": 2, "min_bids": 3}, tender, actors[leader]))
        move("scoring", "failed", actors[leader])
        return
    for account in accounts:
        sheets = []
        for bid in opened:
            c2 = str(rng.randint(20, 70))
            sheets.append({"expert": account, "bid": bid, "scores": {"c2": c2}, "total": c2})
        ev["sheets"][account] = sheets
        add(EntryDraft("evaluation.sheet_submitted", {"sheets": sheets, "sha256": "5e" * 32, "signature": "c2ln"},
                       tender, actors[account]))
    review = {"findings": [], "deviations": [{"expert": accounts[-1], "bid": opened[0], "criterion": "c2", "score": "20",
                                              "others_mean": "55", "high": False}], "abnormally_low": {}}
    ev["review"] = review
    add(EntryDraft("evaluation.review", review, tender, actors[accounts[-1]]))
    move("scoring", "review", actors[accounts[-1]])
    change = {"expert": accounts[-1], "bid": opened[0], "criterion": "c2", "new": "50", "reason": "abnormal_high_low",
              "explanation": "核对"}
    ev["changes"].append(change)
    add(EntryDraft("evaluation.score_changed", {"change": change, "sha256": "ce" * 32, "signature": "c2ln"},
                   tender, actors[accounts[-1]]))
    confirmed = {"expert": accounts[0], "bid": opened[0], "criterion": "c2", "score": "70", "others_mean": "40",
                 "high": True, "median": "45", "others_low": "20", "others_high": "50", "reason": "维持 kept"}
    ev.setdefault("deviation_confirmations", []).append(confirmed)
    add(EntryDraft("evaluation.deviation_confirmed", confirmed, tender, actors[accounts[0]]))
    move("review", "tally", actors[leader])
    tied = [[opened[0], opened[-1]]]
    ev["tie_round"] = 1040
    add(EntryDraft("evaluation.tie_draw_requested", {"round": 1040, "tied": tied}, tender, actors[leader]))
    tally = {"tally": {"method": "comprehensive", "bids": [{"bid": b, "rank": n + 1} for n, b in enumerate(opened)]},
             "recommendation": {"candidates": opened[:3], "ranked": opened}, "tie_rule": "draw", "round": 1040,
             "randomness": "33" * 32}
    ev["tally"] = tally
    add(EntryDraft("evaluation.tally", tally, tender, actors[leader]))
    ev["report_sha256"] = "a5" * 32
    add(EntryDraft("evaluation.report_issued", {"sha256": "a5" * 32}, tender, actors[leader]))
    move("tally", "signing", actors[leader])
    for account in rng.sample(accounts, len(accounts)):
        ev["report_signers"].append(account)
        add(EntryDraft("evaluation.report_signed", {"sha256": "a5" * 32, "signature": "c2ln"}, tender, actors[account]))
    ev["report_final"] = "a5" * 32
    add(EntryDraft("evaluation.report_final", {"sha256": "a5" * 32, "signers": list(ev["report_signers"])},
                   tender, actors[account]))
    move("signing", "done", actors[account])
    result = {"winner_bid": opened[0], "winner_name": "x", "price": "1000.00",
              "candidates": [{"bid": opened[0], "bidder_name": "x", "rank": 1}], "report_sha256": "a5" * 32,
              "published_us": 1, "publicity_until": "2026-12-03", "note": ""}
    state["phase"], state["result"] = "awarded", dict(result)
    add(EntryDraft("tender.result_published", result, tender, agency))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


async def test_replay_matches_state_built_directly(audit_log: AuditLog) -> None:
    rng = random.Random(2026)
    await audit_log.append(EntryDraft("log.started", {"version": "test"}))
    plans = {t: generate(rng, t) for t in ("T-A", "T-B", "T-C")}
    order = [(t, i) for t, (drafts, _) in plans.items() for i in range(len(drafts))]
    rng.shuffle(order)
    order.sort(key=lambda ti: ti[1])  # interleave tenders, each in its own order
    for t, i in order:
        await audit_log.append(plans[t][0][i])
    kinds_seen = {"log.started"}
    for tender, (drafts, states) in plans.items():
        entries = await audit_log.entries_for_tender(tender)
        assert [e.kind for e in entries] == [d.kind for d in drafts]
        kinds_seen |= {d.kind for d in drafts}
        for position, entry in enumerate(entries):
            folded = replay(entries, until_index=entry.index)
            assert folded["problems"] == []
            assert len(folded["timeline"]) == position + 1
            assert {k: v for k, v in folded.items() if k not in {"timeline", "problems"}} == resolve(states[position], entries)
        by_time = replay(entries, until_time=entries[2].time)
        assert len(by_time["timeline"]) >= 3
    folded_kinds = {name for name, kind in KINDS.items() if kind.reducer is not None}  # platform-wide kinds fold nothing
    assert folded_kinds <= kinds_seen, f"generator misses kinds {folded_kinds - kinds_seen}"


async def test_bad_payload_is_a_problem_not_a_crash(audit_log: AuditLog) -> None:
    entries = await audit_log.append_many(
        [EntryDraft("bid.withdrawn", {"bid_id": "never-submitted"}, "T-X"), EntryDraft("x.unknown", {}, "T-X")]
    )
    state = replay(entries)
    assert [t["kind"] for t in state["timeline"]] == ["bid.withdrawn", "x.unknown"]
    assert state["problems"] == [f"entry {entries[0].index} (bid.withdrawn): cannot apply: KeyError('never-submitted')"]


def test_every_kind_is_documented() -> None:
    text = DOC.read_text()
    missing = [kind for kind in KINDS if f"`{kind}`" not in text]
    assert missing == [], f"event kinds not documented in docs/audit-log.md: {missing}"
