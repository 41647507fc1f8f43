"""Reducers of the expert draw's audit events (documented in docs/audit-log.md, "Experts").

Each folds into ``state["experts"]`` of the tender's replay: the draw's state, the seats, the
request's index, the round, the committee (ids, in seat order), who declined and who replaced them.
"""

from __future__ import annotations

from typing import Any

from evaluation.audit.entry import Entry
from evaluation.audit.events import reducer


def _experts(state: dict[str, Any]) -> dict[str, Any]:
    return state.setdefault("experts", {"state": None, "committee": [], "declined": [], "accepted": []})


@reducer(
    "experts.draw_requested",
    "The tender's agency requested an expert draw (抽取申请). Payload: request (the canonical draw "
    "request of docs/draw.md: v, tender, criteria, pool of {id, region, specialties}), plan (size, "
    "purchaser_reps, evaluation_date (the tender's scheduled day), purchaser), excluded (rule -> count), "
    "exclusions (one {expert, rule, commitment} per excluded expert, docs/experts.md), chain (the beacon chain's info: "
    "public_key, period, genesis_time, hash, groupHash, schemeID, metadata). The randomness is the "
    "round chain.round_at(this entry's time) + 1. State: experts.state 'requested', seats, pool size.",
)
def _requested(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["experts"] = {
        "state": "requested", "request_index": entry.index, "seats": p["request"]["criteria"]["seats"],
        "pool": len(p["request"]["pool"]), "excluded": dict(p["excluded"]), "committee": [], "declined": [], "accepted": [],
    }


@reducer(
    "experts.drawn",
    "The committee was drawn (system). Payload: round (int), signature, randomness, seed (hex), "
    "committee (ids in rank order), sequence (committee then reserve). Re-run it with `pingbiao "
    "experts verify-draw`. State: experts.state 'drawn', round, committee.",
)
def _drawn(state: dict[str, Any], entry: Entry) -> None:
    e = _experts(state)
    e.update(state="drawn", round=entry.payload["round"], committee=list(entry.payload["committee"]))


@reducer(
    "experts.accepted",
    "A drawn expert accepted its invitation. Payload: expert (id). State: added to experts.accepted.",
)
def _accepted(state: dict[str, Any], entry: Entry) -> None:
    _experts(state)["accepted"].append(entry.payload["expert"])


@reducer(
    "experts.declined",
    "A member declined (by the expert, or recorded by the agency). Payload: expert (id), by (role), "
    "reason (str), ground (avoidance 回避申请 | unavailable 无法到场), evidence (a reference to the "
    "application or proof). State: removed from experts.committee, added to experts.declined.",
)
def _declined(state: dict[str, Any], entry: Entry) -> None:
    e = _experts(state)
    expert = entry.payload["expert"]
    e["committee"] = [i for i in e["committee"] if i != expert]
    e["declined"].append(expert)


@reducer(
    "experts.replaced",
    "Replacements for a decliner, from the draw's sequence by draw.refill. Payload: declined (every "
    "decliner so far), members (the remaining members), replacements (ids, in pick order). State: "
    "experts.committee becomes members + replacements.",
)
def _replaced(state: dict[str, Any], entry: Entry) -> None:
    e = _experts(state)
    e["committee"] = list(entry.payload["members"]) + list(entry.payload["replacements"])


@reducer(
    "experts.exhausted",
    "The reserve cannot refill the quotas after a decline: a new draw request is needed. Payload: "
    "declined, members (ids), problem (one line). State: experts.state 'exhausted'.",
)
def _exhausted(state: dict[str, Any], entry: Entry) -> None:
    e = _experts(state)
    e.update(state="exhausted", committee=list(entry.payload["members"]))
