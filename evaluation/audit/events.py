"""Event kinds of the audit log, each with its documentation and reducer, and replay (回放).

A reducer folds one entry into the per-tender state dict. ``replay`` folds a tender's entries in
log order; every entry, of a known kind or not, also lands in ``state["timeline"]``, so a kind
this version does not know is shown but never breaks a replay. A reducer that cannot use an
entry (a field missing) records a line in ``state["problems"]`` instead of raising.
Every registered kind must be documented in docs/audit-log.md (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evaluation.audit.entry import Entry, format_time

Reducer = Callable[[dict[str, Any], Entry], None]


@dataclass(frozen=True)
class Kind:
    """A registered event kind: its name, what it records, how it changes a tender's state."""

    name: str
    doc: str
    reducer: Reducer | None = None


KINDS: dict[str, Kind] = {}
"""Registry of event kinds by name."""


def register_kind(kind: str, doc: str, reducer: Reducer | None = None) -> None:
    """Register `kind` with a one-paragraph `doc` and an optional reducer. Names are unique."""
    if kind in KINDS:
        raise ValueError(f"event kind {kind!r} is already registered")
    KINDS[kind] = Kind(kind, doc, reducer)


def reducer(kind: str, doc: str) -> Callable[[Reducer], Reducer]:
    """Decorator form of ``register_kind``: the reducer sits right under its kind's doc."""

    def wrap(fn: Reducer) -> Reducer:
        register_kind(kind, doc, fn)
        return fn

    return wrap


def new_state() -> dict[str, Any]:
    """The state of a tender before its first entry."""
    return {"phase": None, "tender": {}, "amendments": 0, "bids": {}, "opening_record": {}, "timeline": [], "problems": []}


def replay(entries: Iterable[Entry], until_index: int | None = None, until_time: datetime | None = None) -> dict[str, Any]:
    """Fold `entries` (one tender's, in log order) into its state, up to the inclusive bounds.

    Requires the entries in increasing index order. Never raises for unknown kinds or bad payloads.
    """
    state = new_state()
    for entry in entries:
        if until_index is not None and entry.index > until_index:
            break
        if until_time is not None and entry.time > until_time:
            break
        state["timeline"].append(
            {"index": entry.index, "time": format_time(entry.time), "kind": entry.kind, "actor": entry.actor.account}
        )
        kind = KINDS.get(entry.kind)
        if kind is None or kind.reducer is None:
            continue
        try:
            kind.reducer(state, entry)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            state["problems"].append(f"entry {entry.index} ({entry.kind}): cannot apply: {exc!r}")
    return state


# -- the kinds that exist now; the tender feature will refine them ------------------------------

register_kind(
    "log.started",
    "The platform started writing this log (platform-wide, no tender). Payload: version (str).",
)


@reducer(
    "tender.drafted",
    "An agency created or edited a draft tender (not public). Payload: spec (the whole tender, "
    "docs/tenders.md). The draft spec is kept; phase becomes 'draft'.",
)
def _drafted(state: dict[str, Any], entry: Entry) -> None:
    spec = entry.payload["spec"]
    if not isinstance(spec, dict):
        raise TypeError("spec must be an object")
    state["tender"] = {**spec, "agency": entry.actor.account}
    state["phase"] = "draft"


@reducer(
    "tender.published",
    "An agency published a tender. Payload: title (str), opening_round (int), chain (str, drand "
    "chain hash); the rest of the spec (method, budget_fen, opening_time, record_fields, min_bids…) "
    "is kept as given. Phase becomes 'published'.",
)
def _published(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["tender"] = {"title": p["title"], "opening_round": p["opening_round"], "chain": p["chain"], **p}
    state["tender"]["agency"] = entry.actor.account
    state["phase"] = "published"


@reducer(
    "tender.amended",
    "The agency amended a published tender (变更公告). Payload: changes (object of field -> new value), "
    "reason (str). The changes are merged into the tender; the amendment count grows by one.",
)
def _amended(state: dict[str, Any], entry: Entry) -> None:
    changes = entry.payload["changes"]
    if not isinstance(changes, dict):
        raise TypeError("changes must be an object")
    state["tender"].update(changes)
    state["amendments"] += 1


@reducer(
    "tender.postponed",
    "The agency postponed the opening (延期). Payload: opening_time, opening_round (new), "
    "previous_round, round_time, reason. Bids sealed to the previous round are voided by the "
    "bid.voided entries that follow in the same transaction.",
)
def _postponed(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["tender"].update({"opening_time": p["opening_time"], "opening_round": p["opening_round"]})
    state["postponements"] = state.get("postponements", 0) + 1


@reducer(
    "bid.submitted",
    "A bidder submitted a sealed bid (the ciphertext, never its content). Payload: bid_id (str), "
    "sha256 (hex of the ciphertext), size (int, bytes), round (int, the round it is sealed to). "
    "The bid is 'submitted', owned by the actor.",
)
def _submitted(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["bids"][p["bid_id"]] = {
        "bidder": entry.actor.account,
        "sha256": p["sha256"],
        "size": p["size"],
        "status": "submitted",
    }


@reducer(
    "bid.replaced",
    "A bidder replaced its sealed bid before the deadline. Payload: bid_id, sha256, size, round, "
    "previous_sha256. The bid now points at the new ciphertext; the old one is kept.",
)
def _replaced(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["bids"][p["bid_id"]].update({"sha256": p["sha256"], "size": p["size"], "status": "submitted"})


@reducer(
    "bid.withdrawn",
    "A bidder withdrew its bid before the opening. Payload: bid_id (str). The bid is 'withdrawn'.",
)
def _withdrawn(state: dict[str, Any], entry: Entry) -> None:
    state["bids"][entry.payload["bid_id"]]["status"] = "withdrawn"


@reducer(
    "bid.voided",
    "A postponement voided a bid sealed to the previous round; its ciphertext is erased and the "
    "bidder must reseal. Payload: bid_id, reason. The bid is 'void'.",
)
def _voided(state: dict[str, Any], entry: Entry) -> None:
    state["bids"][entry.payload["bid_id"]]["status"] = "void"


@reducer(
    "hall.signin",
    "An account signed in (签到) to the opening hall. Payload: name (as shown in the hall).",
)
def _signin(state: dict[str, Any], entry: Entry) -> None:
    state.setdefault("signins", []).append(entry.payload["name"])


@reducer(
    "opening.started",
    "The opening began with the verified beacon of the tender's round. Payload: round (int), "
    "signature (hex), chain. Phase becomes 'opening'.",
)
def _started(state: dict[str, Any], entry: Entry) -> None:
    state["phase"] = "opening"
    state["opened_round"] = entry.payload["round"]


@reducer(
    "bid.opened",
    "One bid was unsealed and read (唱标). Payload: bid_id, bidder_name, fields (its opening-record "
    "values), documents (list of {name, sha256, size}) and, for a multi-lot tender (分包), lots (list "
    "of {lot, name, price}). Stored under opening_record[bid_id] (fields, with lots when present).",
)
def _bid_opened(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    fields = p["fields"]
    if not isinstance(fields, dict):
        raise TypeError("fields must be an object")
    state["bids"][p["bid_id"]]["status"] = "opened"
    lots = p.get("lots")
    state["opening_record"][p["bid_id"]] = {**fields, **({"lots": list(lots)} if lots else {})}


@reducer(
    "bid.open_failed",
    "One bid could not be opened or read. Payload: bid_id, bidder_name, reason (one line), sha256, code "
    "(why, one of evaluation/tenders/opening.FAILURES; absent in older entries). The bid "
    "is 'open_failed' and is listed in the record with the reason.",
)
def _bid_open_failed(state: dict[str, Any], entry: Entry) -> None:
    bid = state["bids"][entry.payload["bid_id"]]
    bid["status"] = "open_failed"
    bid["reason"] = entry.payload["reason"]


@reducer(
    "bids.unsealed",
    "Every current bid has been tried. Payload: round (int), bid_ids (opened), failed_ids. "
    "Phase becomes 'opened'.",
)
def _unsealed(state: dict[str, Any], entry: Entry) -> None:
    state["opened_round"] = entry.payload["round"]
    state["phase"] = "opened"


@reducer(
    "opening.record",
    "The opening record (开标记录表) is published. Payload: rows (list of {seq, bid_id, bidder, "
    "bidder_name, status, fields, documents, reason, and lots for a multi-lot bid}), valid (int), "
    "min_bids (int), confirm_until (RFC 3339 or null), local_beacon (true when opened on the "
    "embedded local beacon, 本地信标; absent otherwise). Phase becomes 'confirming'.",
)
def _opening_record(state: dict[str, Any], entry: Entry) -> None:
    rows = entry.payload["rows"]
    if not isinstance(rows, list):
        raise TypeError("rows must be a list")
    state["record_rows"] = len(rows)
    state["confirm_until"] = entry.payload["confirm_until"]
    state["phase"] = "confirming"


@reducer(
    "tender.failed",
    "The tender failed (流标): fewer valid bids than its minimum. Payload: reason, valid, min_bids. "
    "Phase becomes 'failed'.",
)
def _failed(state: dict[str, Any], entry: Entry) -> None:
    state["phase"] = "failed"
    state["failed_reason"] = entry.payload["reason"]


@reducer(
    "opening.confirmed",
    "A bidder confirmed the opening record. Payload: {}. The actor is added to confirmations.",
)
def _confirmed(state: dict[str, Any], entry: Entry) -> None:
    state.setdefault("confirmations", []).append(entry.actor.account)


@reducer(
    "opening.objection",
    "A bidder raised an objection (异议) to the record. Payload: objection_id, text.",
)
def _objection(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state.setdefault("objections", {})[p["objection_id"]] = {"bidder": entry.actor.account, "text": p["text"], "answer": None}


@reducer(
    "opening.answer",
    "The agency answered an objection. Payload: objection_id, text.",
)
def _answer(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["objections"][p["objection_id"]]["answer"] = p["text"]


@reducer(
    "opening.final",
    "The confirmation window closed: the record is final. Payload: confirmed (list of accounts), "
    "objections (int), unanswered (int). Phase becomes 'confirmed'.",
)
def _final(state: dict[str, Any], entry: Entry) -> None:
    state["phase"] = "confirmed"
