"""The expert pool (专家库) shared across regions, its CSV import, and the committee of a tender.

The interface the evaluation session builds on:

- ``CommitteeMember`` and ``committee_of(engine, tender_id)``: the current committee (after declines
  and replacements), in seat order; empty before a draw has completed.
- ``is_member(engine, tender_id, account_id)``: whether that account is a seated member.
- ``reveal_committee(engine, tender_id)`` / ``mark_revealed(conn, …)``: the session starts, the list is
  no longer sealed from the agency (docs/experts.md, "Sealed until the session").

The draw itself lives in evaluation/experts/draw_service.py; the CSV row format in evaluation/experts/pool_csv.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.audit.log import AuditLog
from evaluation.errors import InvalidRequest, NotFoundError
from evaluation.experts.pool_csv import COLUMNS, REQUIRED, ExpertRecord, RowError, parse_row
from evaluation.experts.store import SEATED, draw_row, expert_rows, expert_table, member_rows, member_table
from evaluation.tenders.rules import TenderState
from evaluation.tenders.store import tender_table

log = logging.getLogger("pingbiao.experts")
MAX_ROWS = 50_000


@dataclass(frozen=True)
class CommitteeMember:
    """A seated member of a tender's committee. `site` is "main" (主场) or "remote" (副场)."""

    expert_id: str
    account_id: str | None
    name: str
    site: str
    specialty: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: how many rows were upserted, and each rejected row with its reason."""

    accepted: int
    rejected: list[tuple[int, str]]

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": [{"line": n, "reason": r} for n, r in self.rejected]}


register_kind(
    "experts.imported",
    "Experts were imported into the pool from CSV (platform-wide, no tender). Payload: accepted, "
    "rejected, rows (int) — counts only, never personal data.",
)


def now_us() -> int:
    return time.time_ns() // 1000


def record_from_row(row: Any) -> ExpertRecord:
    return ExpertRecord.from_json(
        {
            "id": row.id,
            "name": row.name,
            "account_id": row.account_id,
            "region": row.region,
            "sites": [s for s in row.sites.split(";") if s],
            "specialties": json.loads(row.specialties),
            "employers": json.loads(row.affiliations),
            "relatives": json.loads(row.relatives),
            "unavailable": json.loads(row.unavailable),
            "active": row.active,
        }
    )


def _values(record: ExpertRecord, at_us: int) -> dict[str, Any]:
    data = record.to_json()
    return {
        "name": record.name,
        "account_id": record.account_id,
        "region": record.region,
        "sites": ";".join(sorted(record.sites)),
        "specialties": json.dumps(data["specialties"], ensure_ascii=False),
        "affiliations": json.dumps(data["employers"], ensure_ascii=False),
        "relatives": json.dumps(data["relatives"], ensure_ascii=False),
        "unavailable": json.dumps(data["unavailable"], ensure_ascii=False),
        "active": record.active,
        "updated_us": at_us,
    }


def _read_csv(text_or_path: str | Path) -> str:
    if isinstance(text_or_path, Path):
        return text_or_path.read_text(encoding="utf-8-sig")
    return text_or_path.removeprefix("\ufeff")


async def import_csv(engine: AsyncEngine, audit: AuditLog, text_or_path: str | Path, by: Actor) -> ImportReport:
    """Upsert the experts of a CSV (a Path is read as UTF-8; a str is the CSV text itself).

    Rows that cannot be accepted are reported by line number with a reason, the others upserted by
    id, together with one ``experts.imported`` entry (counts only). A header without the required
    columns raises InvalidRequest. Linked accounts must exist with role expert, one expert each.
    """
    text = _read_csv(text_or_path)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidRequest(f"CSV header lacks column {', '.join(missing)}; columns: {', '.join(COLUMNS)}")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InvalidRequest(f"CSV has unknown column {unknown[0]!r}; columns: {', '.join(COLUMNS)}")
    reader.fieldnames = header
    parsed: list[tuple[int, ExpertRecord]] = []
    rejected: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    rows = 0
    for row in reader:
        line = reader.line_num
        rows += 1
        if rows > MAX_ROWS:
            raise InvalidRequest(f"CSV has more than {MAX_ROWS} rows: split it")
        if None in row:
            rejected.append((line, "more cells than columns"))
            continue
        try:
            record = parse_row(row)
        except RowError as exc:
            rejected.append((line, exc.message))
            continue
        if record.id in seen:
            rejected.append((line, f"duplicate id {record.id} (first on line {seen[record.id]})"))
            continue
        seen[record.id] = line
        parsed.append((line, record))
    async with engine.connect() as conn:
        await _check_links(conn, parsed, rejected)
    accepted = [r for line, r in parsed if line not in {n for n, _ in rejected}]
    rejected.sort()

    async def apply(conn: AsyncConnection) -> None:
        existing = set((await conn.execute(sa.select(expert_table.c.id).where(expert_table.c.id.in_(list(seen))))).scalars())
        at = now_us()
        for record in accepted:
            values = _values(record, at)
            if record.id in existing:
                await conn.execute(sa.update(expert_table).where(expert_table.c.id == record.id).values(**values))
            else:
                await conn.execute(sa.insert(expert_table).values(id=record.id, **values))

    payload = {"accepted": len(accepted), "rejected": len(rejected), "rows": rows}
    await audit.append(EntryDraft("experts.imported", payload, None, by), apply=apply)
    log.info("experts imported", extra=payload)
    return ImportReport(len(accepted), rejected)


async def _check_links(conn: AsyncConnection, parsed: list[tuple[int, ExpertRecord]], rejected: list[tuple[int, str]]) -> None:
    """Reject rows linking an account that is not an expert's or is linked to another expert."""
    links = list({r.account_id for _, r in parsed if r.account_id})
    if not links:
        return
    roles = {r[0]: r[1] for r in await conn.execute(sa.select(account_table.c.id, account_table.c.role).where(account_table.c.id.in_(links)))}
    taken = {r[0]: r[1] for r in await conn.execute(sa.select(expert_table.c.account_id, expert_table.c.id).where(expert_table.c.account_id.in_(links)))}
    for line, record in parsed:
        acc = record.account_id
        if acc is None:
            continue
        if roles.get(acc) != "expert":
            rejected.append((line, f"account {acc} is not an expert account"))
        elif taken.setdefault(acc, record.id) != record.id:
            rejected.append((line, f"account {acc} is already linked to expert {taken[acc]}"))


async def list_experts(engine: AsyncEngine) -> list[ExpertRecord]:
    """Every expert of the pool, by id."""
    async with engine.connect() as conn:
        return [record_from_row(r) for r in await expert_rows(conn)]


async def expert_of_account(engine: AsyncEngine, account_id: str) -> ExpertRecord | None:
    """The expert linked to `account_id`, or None."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(expert_table).where(expert_table.c.account_id == account_id))).first()
    return None if row is None else record_from_row(row)


# -- the committee, for the evaluation session -------------------------------------------------


async def committee_of(engine: AsyncEngine, tender_id: str) -> list[CommitteeMember]:
    """The current committee of `tender_id` in seat order (declined members replaced); [] before a draw."""
    async with engine.connect() as conn:
        rows = await member_rows(conn, tender_id, seated_only=True)
        ids = [r.expert_id for r in rows]
        experts = {e.id: e for e in await conn.execute(sa.select(expert_table).where(expert_table.c.id.in_(ids)))} if ids else {}
    return [
        CommitteeMember(r.expert_id, experts[r.expert_id].account_id, experts[r.expert_id].name, r.site_role, r.specialty)
        for r in rows
        if r.expert_id in experts
    ]


async def is_member(engine: AsyncEngine, tender_id: str, account_id: str) -> bool:
    """Whether `account_id` is linked to a seated member of `tender_id`'s committee."""
    c, e = member_table.c, expert_table.c
    query = (
        sa.select(sa.func.count())
        .select_from(member_table.join(expert_table, e.id == c.expert_id))
        .where(c.tender_id == tender_id, c.status.in_(SEATED), e.account_id == account_id)
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one()) > 0


async def mark_revealed(conn: AsyncConnection, tender_id: str, at_us: int) -> None:
    """Unseal the committee of `tender_id` inside the caller's transaction (idempotent).

    Raises NotFoundError when the tender has no completed draw.
    """
    from evaluation.experts.store import DRAWN, draw_table

    row = await draw_row(conn, tender_id)
    if row is None or row.state != DRAWN:
        raise NotFoundError(f"tender {tender_id} has no drawn committee to reveal")
    if row.revealed_us is None:
        await conn.execute(sa.update(draw_table).where(draw_table.c.tender_id == tender_id).values(revealed_us=at_us))
        log.info("committee revealed", extra={"tender": tender_id})


async def reveal_committee(engine: AsyncEngine, tender_id: str) -> None:
    """Unseal the committee of `tender_id`: the evaluation session has started (see mark_revealed)."""
    async with engine.begin() as conn:
        await mark_revealed(conn, tender_id, now_us())


async def is_revealed(conn: AsyncConnection, tender_id: str) -> bool:
    """True once the session has started: revealed explicitly, or the tender is 'evaluating'."""
    row = await draw_row(conn, tender_id)
    if row is not None and row.revealed_us is not None:
        return True
    state = (await conn.execute(sa.select(tender_table.c.state).where(tender_table.c.id == tender_id))).scalar()
    return state in (TenderState.EVALUATING.value, TenderState.AWARDED.value)
