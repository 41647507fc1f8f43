"""What the supervisor's pages call the ids of the log: tenders by their title and state, accounts
by name, bids by their bidder — read from the tables (the web layer wires audit and tenders)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Entry
from evaluation.audit.overview import TenderSummary
from evaluation.tenders.store import bid_table, tender_table


@dataclass(frozen=True)
class NamedTender:
    summary: TenderSummary
    title: str | None
    """The tender's name from its stored spec; None when the log names a tender the tables lack."""
    state: str | None

    @property
    def tender_id(self) -> str:
        return self.summary.tender_id


async def named_tenders(engine: AsyncEngine, summaries: Sequence[TenderSummary]) -> list[NamedTender]:
    ids = [s.tender_id for s in summaries]
    found: dict[str, tuple[str | None, str | None]] = {}
    if ids:
        query = sa.select(tender_table.c.id, tender_table.c.spec, tender_table.c.state).where(tender_table.c.id.in_(ids))
        async with engine.connect() as conn:
            found = {r.id: (spec_title(r.spec), r.state) for r in (await conn.execute(query)).all()}
    return [NamedTender(s, *found.get(s.tender_id, (None, None))) for s in summaries]


def spec_title(spec: str | None) -> str | None:
    """The title of a stored spec (JSON text), None when there is none to read."""
    if not spec:
        return None
    try:
        title = json.loads(spec).get("title")
    except (ValueError, AttributeError):
        return None
    return title if isinstance(title, str) and title else None


async def tender_title(engine: AsyncEngine, tender_id: str) -> tuple[str | None, str | None]:
    """The tender's (title, state) from its row, (None, None) when the tables lack it."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(tender_table.c.spec, tender_table.c.state)
                                  .where(tender_table.c.id == tender_id))).first()
    return (spec_title(row.spec), row.state) if row else (None, None)


async def names(engine: AsyncEngine, entries: Sequence[Entry]) -> dict[str, str]:
    """What a reader calls the ids in `entries`: accounts by display name (with organisation),
    bids by their bidder's name — from the tables, then from the entries' own payloads."""
    found: dict[str, str] = {}
    for e in entries:
        p = e.payload if isinstance(e.payload, dict) else {}
        for id_key, name_key in (("bid_id", "bidder_name"), ("bid", "bidder_name"), ("account_id", "display_name"),
                                 ("account", "name")):
            if isinstance(p.get(id_key), str) and isinstance(p.get(name_key), str):
                found[p[id_key]] = p[name_key]
        for key in ("bids", "members"):
            for item in p.get(key) or [] if isinstance(p.get(key), list) else []:
                if isinstance(item, dict):
                    if isinstance(item.get("bid"), str) and isinstance(item.get("bidder_name"), str):
                        found[item["bid"]] = item["bidder_name"]
                    if isinstance(item.get("bidder"), str) and isinstance(item.get("bidder_name"), str):
                        found[item["bidder"]] = item["bidder_name"]
                    if isinstance(item.get("account"), str) and isinstance(item.get("name"), str):
                        found[item["account"]] = item["name"]
    tender_ids = {e.tender_id for e in entries if e.tender_id}
    async with engine.connect() as conn:
        for r in (await conn.execute(sa.select(account_table.c.id, account_table.c.display_name,
                                               account_table.c.organization))).all():
            found[r.id] = f"{r.display_name}（{r.organization}）" if r.organization and r.organization != r.display_name \
                else r.display_name
        if tender_ids:
            for r in (await conn.execute(sa.select(bid_table.c.id, bid_table.c.bidder_name)
                                         .where(bid_table.c.tender_id.in_(tender_ids)))).all():
                found[r.id] = r.bidder_name
    return found


