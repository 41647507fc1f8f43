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
    "tender.published",
    "An agency published a tender. Payload: title (str), opening_round (int), chain (str, drand "
    "chain hash); other fields are kept as given. Phase becomes 'published'.",
)
def _published(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    state["tender"] = {"title": p["title"], "opening_round": p["opening_round"], "chain": p["chain"], **p}
    state["tender"]["agency"] = entry.actor.account
    state["phase"] = "published"


@reducer(
    "tender.amended",
    "The agency amended a published tender. Payload: changes (object of field -> new value), "
    "reason (str). The changes are merged into the tender; the amendment count grows by one.",
)
def _amended(state: dict[str, Any], entry: Entry) -> None:
    changes = entry.payload["changes"]
    if not isinstance(changes, dict):
        raise TypeError("changes must be an object")
    state["tender"].update(changes)
    state["amendments"] += 1


@reducer(
    "bid.submitted",
    "A bidder submitted a sealed bid (the ciphertext, never its content). Payload: bid_id (str), "
    "sha256 (hex of the ciphertext), size (int, bytes). The bid is 'submitted', owned by the actor.",
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
    "bid.withdrawn",
    "A bidder withdrew its bid before the opening. Payload: bid_id (str). The bid is 'withdrawn'.",
)
def _withdrawn(state: dict[str, Any], entry: Entry) -> None:
    state["bids"][entry.payload["bid_id"]]["status"] = "withdrawn"


@reducer(
    "bids.unsealed",
    "The scheduler opened the sealed bids with the beacon signature of the opening round. "
    "Payload: round (int), bid_ids (list of str). Those bids are 'unsealed'; phase becomes 'opened'.",
)
def _unsealed(state: dict[str, Any], entry: Entry) -> None:
    for bid_id in entry.payload["bid_ids"]:
        state["bids"][bid_id]["status"] = "unsealed"
    state["opened_round"] = entry.payload["round"]
    state["phase"] = "opened"


@reducer(
    "opening.record",
    "One bid's opening-record fields (开标记录: price, duration…) as read from the unsealed bid. "
    "Payload: bid_id (str), fields (object). Stored under opening_record[bid_id].",
)
def _opening_record(state: dict[str, Any], entry: Entry) -> None:
    fields = entry.payload["fields"]
    if not isinstance(fields, dict):
        raise TypeError("fields must be an object")
    state["opening_record"][entry.payload["bid_id"]] = dict(fields)
