"""One expert of the pool added, edited, deactivated or reactivated from a form (专家维护).

The form's fields are the CSV's columns (evaluation/experts/pool_csv.py), checked by the same rules,
every problem reported at once (FormErrors, keyed by field). Each change is one audit entry naming
the expert's code and the fields that changed — never their values (personal data).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.accounts.tables import account_table
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, InvalidRequest, NotFoundError, Text
from evaluation.experts.pool_csv import ExpertRecord, parse_fields
from evaluation.experts.pool_import import new_code, now_us, record_from_row, record_values
from evaluation.experts.store import expert_table

for _kind, _what in (
    ("experts.added", "An expert was added to the pool from the form. Payload: expert (code)."),
    ("experts.updated", "An expert of the pool was edited. Payload: expert (code), fields (names of the changed fields)."),
    ("experts.deactivated", "An expert was taken out of the draw (暂停). Payload: expert (code)."),
    ("experts.reactivated", "A paused expert was put back into the draw (恢复). Payload: expert (code)."),
):
    register_kind(_kind, _what)


class FormErrors(InvalidRequest):
    """Every problem of a form, by field; the message joins them."""

    def __init__(self, errors: dict[str, Text]) -> None:
        super().__init__(Text.join(errors.values()))
        self.errors = errors


async def get_expert(engine: AsyncEngine, code: str) -> tuple[ExpertRecord, str | None]:
    """The expert `code` and the username of its linked account; NotFoundError."""
    e, a = expert_table.c, account_table.c
    query = sa.select(expert_table, a.username).select_from(expert_table.outerjoin(account_table, a.id == e.account_id))
    async with engine.connect() as conn:
        row = (await conn.execute(query.where(e.id == code))).first()
    if row is None:
        raise NotFoundError("专家库中没有这位专家")
    return record_from_row(row), row.username


async def _account(conn: AsyncConnection, username: str | None, code: str | None) -> tuple[str | None, Text | None]:
    """(account id, problem) for the username a form gives."""
    if not username:
        return None, None
    row = (await conn.execute(sa.select(account_table.c.id, account_table.c.role).where(account_table.c.username == username))).first()
    if row is None:
        return None, Text("平台账号不存在")
    if row.role != "expert":
        return None, Text("平台账号不是评审专家账号")
    other = (await conn.execute(sa.select(expert_table.c.id).where(expert_table.c.account_id == row.id))).scalar()
    if other is not None and other != code:
        return None, Text("平台账号已关联其他专家")
    return row.id, None


async def save_expert(engine: AsyncEngine, audit: AuditLog, by: Actor, code: str | None, form: dict[str, Any]) -> ExpertRecord:
    """Add an expert (`code` None) or edit expert `code` from a form; FormErrors with every problem."""
    draft, errors = parse_fields({**form, "code": code or ""})
    async with engine.connect() as conn:
        old = None
        if code is not None:
            row = (await conn.execute(sa.select(expert_table).where(expert_table.c.id == code))).first()
            if row is None:
                raise NotFoundError("专家库中没有这位专家")
            old = record_from_row(row)
        account, problem = await _account(conn, draft.username if draft else (str(form.get("username") or "").strip() or None), code)
        if problem:
            errors["username"] = problem
        number = draft.record.id_number if draft else None
        if number:
            holder = (await conn.execute(sa.select(expert_table.c.id).where(expert_table.c.id_number == number))).scalar()
            if holder is not None and holder != code:
                errors["id_number"] = Text("身份证号已登记在另一位专家名下")
    if errors or draft is None:
        raise FormErrors(errors)
    record = replace(draft.record, id=code or new_code(), account_id=account,
                     active=old.active if old is not None else True)
    at = now_us()
    if old is None:
        kind, payload = "experts.added", {"expert": record.id}
    else:
        before, after = old.to_json(), record.to_json()
        changed = sorted(k for k in after if before.get(k) != after.get(k))
        if not changed:
            return record
        kind, payload = "experts.updated", {"expert": record.id, "fields": changed}

    async def apply(conn: AsyncConnection) -> None:
        values = record_values(record, at)
        if old is None:
            await conn.execute(sa.insert(expert_table).values(id=record.id, **values))
        else:
            await conn.execute(sa.update(expert_table).where(expert_table.c.id == record.id).values(**values))

    await audit.append(EntryDraft(kind, payload, None, by), apply=apply)
    return record


async def set_active(engine: AsyncEngine, audit: AuditLog, by: Actor, code: str, active: bool) -> None:
    """Deactivate (暂停: out of every later draw) or reactivate expert `code`."""
    async with engine.connect() as conn:
        now = (await conn.execute(sa.select(expert_table.c.active).where(expert_table.c.id == code))).first()
    if now is None:
        raise NotFoundError("专家库中没有这位专家")
    if bool(now.active) == active:
        raise ConflictError("这位专家已在库" if active else "这位专家已暂停")

    async def apply(conn: AsyncConnection) -> None:
        await conn.execute(sa.update(expert_table).where(expert_table.c.id == code).values(active=active, updated_us=now_us()))

    await audit.append(EntryDraft("experts.reactivated" if active else "experts.deactivated", {"expert": code}, None, by), apply=apply)
