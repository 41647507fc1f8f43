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
    tender_fields = {"title": f"采购 {tender}", "opening_round": 1000, "chain": "ab" * 32}
    state["tender"] = {**tender_fields, "agency": "agency-1"}
    state["phase"] = "published"
    add(EntryDraft("tender.published", tender_fields, tender, agency))
    for n in range(rng.randint(0, 3)):
        changes = {"opening_round": 1000 + n + 1}
        state["tender"].update(changes)
        state["amendments"] += 1
        add(EntryDraft("tender.amended", {"changes": changes, "reason": "答疑"}, tender, agency))
    bids = []
    for n in range(rng.randint(2, 6)):
        bid, bidder = f"{tender}-bid-{n}", Actor(f"bidder-{n}", "bidder")
        state["bids"][bid] = {"bidder": bidder.account, "sha256": f"{n:064x}", "size": 100 + n, "status": "submitted"}
        add(EntryDraft("bid.submitted", {"bid_id": bid, "sha256": f"{n:064x}", "size": 100 + n}, tender, bidder))
        bids.append(bid)
    withdrawn = bids[0]
    state["bids"][withdrawn]["status"] = "withdrawn"
    add(EntryDraft("bid.withdrawn", {"bid_id": withdrawn}, tender, Actor("bidder-0", "bidder")))
    add(EntryDraft("expert.joined", {"booth": 3}, tender, Actor("expert-9", "expert")))  # unknown kind
    opened = bids[1:]
    for bid in opened:
        state["bids"][bid]["status"] = "unsealed"
    state["phase"], state["opened_round"] = "opened", 1000
    add(EntryDraft("bids.unsealed", {"round": 1000, "bid_ids": opened}, tender))
    for bid in opened:
        fields = {"price": str(rng.randint(10**5, 10**6)), "days": rng.randint(30, 90)}
        state["opening_record"][bid] = fields
        add(EntryDraft("opening.record", {"bid_id": bid, "fields": fields}, tender))
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
    assert set(KINDS) <= kinds_seen, f"generator misses kinds {set(KINDS) - kinds_seen}"


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
