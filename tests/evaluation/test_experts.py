"""The expert pool: CSV import with a report of rejected rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.audit.entry import Actor
from evaluation.audit.log import AuditLog
from evaluation.experts import pool as experts
from evaluation.experts.pool_csv import parse_row
from tests.evaluation.experts_fixtures import HEADER, POOL

ADMIN = Actor("acc-admin", "admin")


async def test_import_reports_rejected_rows_and_upserts(engine: AsyncEngine, audit_log: AuditLog, tmp_path: Path) -> None:
    bad = HEADER + "\n".join([
        "X1,好,,330102,main,a01,,,,1",
        "X2,好,,330102,main,A01,org|boss|2020-01-01|,,,1",
        "X3,好,,330102,main,A01,org|employee|2020-13-01|,,,1",
        "E01,重复,,330102,main,A01,,,,1",
        "X4,,,330102,main,A01,,,,1",
        "X5,好,,3301,main,A01,,,,1",
        "X6,好,acc-none,330102,main,A01,,,,1",
        "X7,好,,330102,main,A01,,org|cousin,,1",
        "X8,好,,330102,main,A01,,,2026-05-10|2026-05-01,1",
    ]) + "\n"
    path = tmp_path / "pool.csv"
    path.write_text(POOL + bad.removeprefix(HEADER), encoding="utf-8")
    report = await experts.import_csv(engine, audit_log, path, ADMIN)
    assert report.accepted == 9
    assert report.rejected == [
        (11, "bad specialty code 'a01' (A-Z then 1-11 of A-Z, 0-9)"),
        (12, "employer role 'boss' must be employee, director or controller"),
        (13, "employer: '2020-13-01' is not a date (YYYY-MM-DD)"),
        (14, "duplicate id E01 (first on line 2)"),
        (15, "missing name"),
        (16, "region '3301' is not a GB/T 2260 code of 6, 9 or 12 digits"),
        (17, "account acc-none is not an expert account"),
        (18, "relative 'org|cousin' must be org|collateral/in_law/lineal/spouse"),
        (19, "unavailable: ends 2026-05-01 before it starts 2026-05-10"),
    ]
    entry = await audit_log.entry(audit_log.size - 1)
    assert (entry.kind, entry.payload) == ("experts.imported", {"accepted": 9, "rejected": 9, "rows": 18})
    again = await experts.import_csv(engine, audit_log, HEADER + "E01,张一改,,330102,main,A01;B02,,,,0\n", ADMIN)
    assert again == experts.ImportReport(1, [])
    pool = {e.id: e for e in await experts.list_experts(engine)}
    assert len(pool) == 9 and pool["E01"].name == "张一改" and not pool["E01"].active
    assert pool["E01"].specialties == {"A01", "B02"}
    assert pool["E04"].to_json()["employers"] == [{"org": "91330100BIDDER0000", "role": "employee", "from": "2020-01-01", "to": "2024-12-31"}]


async def test_a_header_without_required_columns_is_refused(engine: AsyncEngine, audit_log: AuditLog) -> None:
    import pytest

    from evaluation.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="CSV header lacks column region, specialties"):
        await experts.import_csv(engine, audit_log, "id,name\nE1,x\n", ADMIN)


def test_row_round_trips_through_json() -> None:
    row = dict(zip(HEADER.strip().split(","), "E1,张,acc1,330102,remote,A01;B02,o|director|2020-01-01|,o2|in_law,2026-01-01|,0".split(","), strict=True))
    record = parse_row(row)
    assert experts.ExpertRecord.from_json(record.to_json()) == record
    assert record.rules_view().active is False
