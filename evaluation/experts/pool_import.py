"""The CSV import of the expert pool (专家库导入), keyed by what an officer knows.

A row updates the expert with its ID number (身份证号) or, failing that, its code (专家编号), else
adds one; the linked platform account is named by its username (平台账号). Every row is reported:
新增 added, 更新 updated or 拒绝 rejected with its reasons (Texts, rendered by ``to_json``). The good rows are written and
one ``experts.imported`` entry (counts only, no personal data) logged, in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.audit.log import AuditLog
from evaluation.errors import InvalidRequest, Text
from evaluation.experts.pool_csv import (
    ALIASES,
    HEADERS,
    LABEL,
    REQUIRED,
    ExpertRecord,
    RowDraft,
    parse_fields,
)
from evaluation.experts.store import expert_table
from evaluation.inputs import check_text, printable

MAX_ROWS = 50_000
ADDED, UPDATED, REJECTED = "added", "updated", "rejected"

register_kind(
    "experts.imported",
    "Experts were imported into the pool from CSV (platform-wide, no tender). Payload: added, "
    "updated, rejected, rows (int) — counts only, never personal data.",
)


def now_us() -> int:
    return time.time_ns() // 1000


def record_from_row(row: Any) -> ExpertRecord:
    return ExpertRecord.from_json(
        {
            "id": row.id,
            "name": row.name,
            "account_id": row.account_id,
            "id_number": row.id_number,
            "region": row.region,
            "sites": [s for s in row.sites.split(";") if s],
            "specialties": json.loads(row.specialties),
            "employers": json.loads(row.affiliations),
            "relatives": json.loads(row.relatives),
            "unavailable": json.loads(row.unavailable),
            "active": row.active,
        }
    )


def record_values(record: ExpertRecord, at_us: int) -> dict[str, Any]:
    data = record.to_json()
    return {
        "name": record.name,
        "id_number": record.id_number,
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


def new_code() -> str:
    """A code for an expert added without one: ``ZJ`` and 8 hexadecimal digits."""
    return "ZJ" + secrets.token_hex(4).upper()


@dataclass(frozen=True)
class RowResult:
    """One data row of the file: its line, the name it gives, what became of it and why."""

    line: int
    name: str
    result: str
    reason: Text | None = None


@dataclass(frozen=True)
class ImportReport:
    """Every row of an import, in file order."""

    rows: list[RowResult]

    def count(self, result: str) -> int:
        return sum(1 for r in self.rows if r.result == result)

    @property
    def accepted(self) -> int:
        return self.count(ADDED) + self.count(UPDATED)

    @property
    def rejected(self) -> list[tuple[int, str]]:
        return [(r.line, str(r.reason or "")) for r in self.rows if r.result == REJECTED]

    def to_json(self, render: Callable[[Text], str] = str) -> dict[str, Any]:
        """The report as JSON, each reason rendered by `render` (the Chinese by default)."""
        return {
            "added": self.count(ADDED), "updated": self.count(UPDATED), "rejected": self.count(REJECTED),
            "rows": [{"line": r.line, "name": r.name, "result": r.result, "reason": render(r.reason) if r.reason else ""}
                     for r in self.rows],
        }


def read_text(text_or_path: str | Path) -> str:
    """The CSV text, its byte-order mark dropped; InvalidRequest for bytes that are not UTF-8."""
    if isinstance(text_or_path, Path):
        try:
            text = text_or_path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("表格文件不是 UTF-8 编码（可能是 GBK），请在表格软件中另存为“CSV UTF-8”后再导入") from None
    else:
        text = text_or_path
    return check_text(text.removeprefix("\ufeff"), "CSV 文件")


def header_keys(fieldnames: list[str] | None) -> list[str]:
    """The column keys of a header row in Chinese or English; InvalidRequest naming what is wrong."""
    keys: list[str] = []
    for raw in fieldnames or []:
        name = raw.strip().removeprefix("\ufeff")
        if name.lower() == "account":
            raise InvalidRequest("列 account 已停用，请用“平台账号”列填写专家账号的用户名")
        key = ALIASES.get(name.lower())
        if key is None:
            raise InvalidRequest("表格有无法识别的列“{name}”，可用的列：{known}", name=printable(name, 40), known="、".join(LABEL.values()))
        if key in keys:
            raise InvalidRequest("表格的列“{column}”出现了两次", column=HEADERS[key][0])
        keys.append(key)
    missing = [LABEL[k] for k in REQUIRED if k not in keys]
    if missing:
        raise InvalidRequest("表格缺少必填列：{columns}（可下载模板）", columns="、".join(missing))
    return keys


def read_rows(text: str) -> list[tuple[int, dict[str, str] | None]]:
    """(line, cells by key) of each data row, None for a row with more cells than columns."""
    reader = csv.reader(io.StringIO(text))
    try:
        keys = header_keys(next(reader, None))
        rows: list[tuple[int, dict[str, str] | None]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise InvalidRequest("表格超过 {max} 行，请拆分后分批导入", max=MAX_ROWS)
            line = reader.line_num
            rows.append((line, None if len(cells) > len(keys) else dict(zip(keys, cells, strict=False))))
    except csv.Error:
        raise InvalidRequest("表格第 {line} 行无法读取（引号不成对或单元格过长）", line=reader.line_num) from None
    return rows


@dataclass
class _Row:
    line: int
    name: str
    draft: RowDraft | None
    reasons: list[Text]
    existing: str | None = None  # the code of the expert this row updates
    number: str | None = None  # and the ID number it has (kept when the row gives none)
    cells: tuple[str, ...] = ()


async def import_csv(engine: AsyncEngine, audit: AuditLog, text_or_path: str | Path, by: Actor) -> ImportReport:
    """Add or update the experts of a CSV (a Path is read as UTF-8 bytes; a str is the CSV text).

    A header that is not the template's raises InvalidRequest (nothing written); each bad row is
    reported with its reasons and skipped, the others written with one ``experts.imported`` entry.
    """
    rows: list[_Row] = []
    for line, cells in read_rows(read_text(text_or_path)):
        if cells is None:
            rows.append(_Row(line, "", None, [Text("单元格比列多（可能有多余的逗号）")]))
            continue
        draft, errors = parse_fields(cells)
        rows.append(_Row(line, printable(cells.get("name", "").strip(), 60), draft, list(errors.values()),
                         cells=tuple(c.strip() for c in cells.values())))
    _refuse_repeats(rows)
    async with engine.connect() as conn:
        await _match(conn, rows)
        accounts = await _link(conn, rows)
    at = now_us()
    writes: list[tuple[str, ExpertRecord]] = []
    results: list[RowResult] = []
    for r in rows:
        if r.reasons or r.draft is None:
            results.append(RowResult(r.line, r.name, REJECTED, Text.join(r.reasons)))
            continue
        code = r.existing or r.draft.code or new_code()
        account = accounts.get(r.draft.username) if r.draft.username else None
        writes.append((UPDATED if r.existing else ADDED, replace(r.draft.record, id=code, account_id=account, id_number=r.number)))
        results.append(RowResult(r.line, r.name, UPDATED if r.existing else ADDED))

    async def apply(conn: AsyncConnection) -> None:
        for result, record in writes:
            values = record_values(record, at)
            if result == UPDATED:
                await conn.execute(sa.update(expert_table).where(expert_table.c.id == record.id).values(**values))
            else:
                await conn.execute(sa.insert(expert_table).values(id=record.id, **values))

    report = ImportReport(results)
    payload = {"added": report.count(ADDED), "updated": report.count(UPDATED), "rejected": report.count(REJECTED), "rows": len(rows)}
    await audit.append(EntryDraft("experts.imported", payload, None, by), apply=apply)
    return report


def _refuse_repeats(rows: list[_Row]) -> None:
    """A later row naming the same ID number, code or username as an earlier one is refused, and
    so is a row repeating an earlier one cell for cell."""
    seen: dict[tuple[str, str], int] = {}
    whole: dict[tuple[str, ...], int] = {}
    for r in rows:
        if r.draft is None:
            continue
        if (first := whole.setdefault(r.cells, r.line)) != r.line:
            r.reasons.append(Text("与第 {first} 行完全相同（重复行）", first=first))
            continue
        for what, value in ((Text("身份证号"), r.draft.record.id_number), (Text("专家编号"), r.draft.code),
                            (Text("平台账号"), r.draft.username)):
            if value is None:
                continue
            first = seen.setdefault((what.template, value), r.line)
            if first != r.line:
                r.reasons.append(Text("与第 {first} 行重复（{what}相同）", first=first, what=what))


async def _match(conn: AsyncConnection, rows: list[_Row]) -> None:
    """Find the expert each row updates: by ID number, else by code; they must agree."""
    drafts = [r.draft for r in rows if r.draft is not None and not r.reasons]
    numbers = [d.record.id_number for d in drafts if d.record.id_number]
    codes = [d.code for d in drafts if d.code]
    c = expert_table.c
    by_number = {n: i for n, i in await conn.execute(sa.select(c.id_number, c.id).where(c.id_number.in_(numbers)))} if numbers else {}
    known = {i: n for i, n in await conn.execute(sa.select(c.id, c.id_number).where(c.id.in_(codes)))} if codes else {}
    for r in rows:
        if r.draft is None or r.reasons:
            continue
        number, code = r.draft.record.id_number, r.draft.code
        found = by_number.get(number) if number else None
        if found is not None and code is not None and code != found:
            r.reasons.append(Text("身份证号已属于专家 {found}，与专家编号 {code} 不符", found=found, code=code))
        elif found is None and code is not None and code in known and known[code] and number:
            r.reasons.append(Text("专家 {code} 登记的身份证号与本行不同", code=code))
        else:
            r.existing = found or (code if code in known else None)
            r.number = number or (known.get(code) if code else None)


async def _link(conn: AsyncConnection, rows: list[_Row]) -> dict[str, str]:
    """Usernames → account ids; rows naming an unknown, non-expert or already linked account are refused."""
    names = list({r.draft.username for r in rows if r.draft is not None and r.draft.username and not r.reasons})
    if not names:
        return {}
    a, e = account_table.c, expert_table.c
    accounts = {u: (i, role) for u, i, role in await conn.execute(sa.select(a.username, a.id, a.role).where(a.username.in_(names)))}
    ids = [i for i, _ in accounts.values()]
    linked = {acc: code for acc, code in await conn.execute(sa.select(e.account_id, e.id).where(e.account_id.in_(ids)))}
    for r in rows:
        if r.draft is None or r.reasons or not r.draft.username:
            continue
        name = r.draft.username
        if name not in accounts:
            r.reasons.append(Text("平台账号 {name} 不存在", name=printable(name, 40)))
        elif accounts[name][1] != "expert":
            r.reasons.append(Text("平台账号 {name} 不是评审专家账号", name=printable(name, 40)))
        elif (other := linked.get(accounts[name][0])) is not None and other != (r.existing or r.draft.code):
            r.reasons.append(Text("平台账号 {name} 已关联其他专家", name=printable(name, 40)))
    return {u: i for u, (i, _) in accounts.items()}


TEMPLATE_EXAMPLE = ("", "张三", "", "", "330102", "主场;副场", "A01;B02", "", "", "", "在库")


def template_csv() -> str:
    """The downloadable template: the Chinese headers and one example row (UTF-8 with a BOM, so a
    spreadsheet opens it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([names[0] for names in HEADERS.values()])
    writer.writerow(TEMPLATE_EXAMPLE)
    return "\ufeff" + out.getvalue()
