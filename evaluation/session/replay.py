"""``pingbiao audit replay EVALUATION``: fold a tender's log entries (for a lot's session
``<tender>.<lot>``, only that lot's session entries: events.lot_entries), recompute the tally from the
logged criteria, bids, signed sheets, changes and randomness (evaluation/session/events.py recompute_tally), and
compare it with the logged tally and, when the installation's database is at hand, the stored one."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.audit.bundle import ENTRIES_FILE
from evaluation.audit.entry import Entry, decode_leaf
from evaluation.audit.events import replay
from evaluation.errors import DomainError, NotFoundError, Text
from evaluation.session.events import first_difference, lot_entries, recompute_tally, register, session_state
from evaluation.session.ids import parse_evaluation_id
from evaluation.session.scoring import display
from evaluation.session.store import session_table

register()


@dataclass(frozen=True)
class ReplayResult:
    ok: bool
    text: str


def split(evaluation: str) -> tuple[str, int | None]:
    """The tender and lot of an evaluation id given to ``audit replay``."""
    return parse_evaluation_id(evaluation)


def bundle_entries(directory: Path, tender_id: str) -> list[Entry]:
    """The tender's entries of an offline bundle (verify it first: audit.bundle.verify_bundle)."""
    found = []
    with open(directory / ENTRIES_FILE, "rb") as lines:
        for line in lines:
            obj = json.loads(line)
            if obj.get("tender") == tender_id:
                found.append(decode_leaf(base64.b64decode(obj["leaf"])))
    return found


async def stored_tally(engine: AsyncEngine, session_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        text = (await conn.execute(sa.select(session_table.c.tally).where(session_table.c.id == session_id))).scalar()
    return None if text is None else dict(json.loads(text))["tally"]


def _tender_name(entries: Sequence[Entry]) -> Text:
    """How a line names the tender of `entries`: its title as last logged (《…》), else its id."""
    for e in reversed(entries):
        spec = e.payload.get("spec") if isinstance(e.payload, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("title"), str) and spec["title"]:
            return Text("《{title}》", title=spec["title"])
    return Text("项目 {tender} ", tender=entries[0].tender_id)


def check(entries: Sequence[Entry], stored: dict[str, Any] | None, lot: int | None = None) -> ReplayResult:
    """Recompute the tally of the session of `lot` (None: of a tender without lots) from the
    entries of that session alone and compare. The text lists the ranking and ends with "ok" or
    the first difference."""
    if not entries:
        raise NotFoundError("日志中没有该项目的记录")
    state = replay(lot_entries(entries, lot))
    ev = session_state(state, lot)
    if ev is None or ev.get("tally") is None:
        if lot is None:
            raise NotFoundError("{tender}尚无记录的汇总结果", tender=_tender_name(entries))
        raise NotFoundError("{tender}第{lot}包尚无记录的汇总结果", tender=_tender_name(entries), lot=lot)
    try:
        recomputed = recompute_tally(ev).to_json()
    except DomainError as exc:
        return ReplayResult(False, f"cannot recompute the tally: {exc.message}")
    names = {b["bid"]: b["bidder_name"] for b in ev["bids"]}
    lines = [f"{b['rank']}. {b['bid']} {names.get(b['bid'], '')} {display(Fraction(b['total']))}" if b["rank"] is not None
             else f"-. {b['bid']} {names.get(b['bid'], '')} 无效 invalid: {b.get('invalid')}" for b in recomputed["bids"]]
    for label, other in (("logged", ev["tally"]["tally"]), ("stored", stored)):
        if other is None:
            continue
        diff = first_difference(recomputed, other)
        if diff:
            return ReplayResult(False, "\n".join([*lines, f"mismatch with the {label} tally: {diff}"]))
    return ReplayResult(True, "\n".join([*lines, "ok"]))
