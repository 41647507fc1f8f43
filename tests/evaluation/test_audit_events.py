"""Replay (回放): folding a generated log gives the state the test built directly; kinds are documented."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import KINDS, new_state, replay
from evaluation.audit.log import AuditLog

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-log.md"


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
    return drafts, states


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
            assert {k: v for k, v in folded.items() if k not in {"timeline", "problems"}} == states[position]
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
