"""The notification job: follows the audit log, turns each committed entry that needs someone
into notices (evaluation/notifications/rules.py), stores them with the log position in one
transaction (so a restart neither loses nor doubles a notice), then emails the new notices of
accounts that gave an address, when mail is configured."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evaluation.audit.entry import Entry
from evaluation.audit.log import AuditLog
from evaluation.experts.store import expert_table
from evaluation.notifications import mail
from evaluation.notifications.rules import KINDS, Facts, Notice, notices_for
from evaluation.notifications.store import contact_table, cursor_table, notice_table
from evaluation.session.store import member_table, session_table
from evaluation.tenders.store import bid_table, objection_table, tender_table

log = logging.getLogger(__name__)
BATCH = 500
CURSOR = "log"


async def _facts(conn: AsyncConnection, tender_id: str, experts: dict[str, str]) -> Facts:
    """What the rules need about `tender_id` (its title, agency, bidders, members, objections)."""
    row = (await conn.execute(sa.select(tender_table.c.agency, tender_table.c.spec).where(tender_table.c.id == tender_id))).first()
    title = json.loads(row.spec).get("title", "") if row is not None else ""
    agency = row.agency if row is not None else ""
    b, m, o = bid_table.c, member_table.c, objection_table.c
    bidders = [r[0] for r in await conn.execute(sa.select(b.bidder).where(b.tender_id == tender_id, b.status != "withdrawn").distinct())]
    s = session_table.c
    members = [r[0] for r in await conn.execute(
        sa.select(m.account).select_from(member_table.join(session_table, s.id == m.session_id))
        .where(s.tender_id == tender_id).distinct())]
    objections = {r[0]: r[1] for r in await conn.execute(sa.select(o.id, o.bidder).where(o.tender_id == tender_id))}
    bid_bidders = {r[0]: r[1] for r in await conn.execute(sa.select(b.id, b.bidder).where(b.tender_id == tender_id))}
    return Facts(title, agency, bidders, members, experts, objections, bid_bidders)


async def _expert_accounts(conn: AsyncConnection) -> dict[str, str]:
    """Pool expert id → linked account, for the invitations."""
    e = expert_table.c
    return {r[0]: r[1] for r in await conn.execute(sa.select(e.id, e.account_id).where(e.account_id.is_not(None)))}


class NotificationJob:
    """Runs until cancelled; ``kick()`` after an append makes it look at once (else every `every` s)."""

    def __init__(
        self, engine: AsyncEngine, audit: AuditLog, mail_settings: mail.MailSettings | None = None,
        link_base: str = "", render: Callable[[str, dict[str, Any]], str] | None = None, every: float = 1.0,
    ) -> None:
        self.engine, self.audit, self.every = engine, audit, every
        self.mail = mail_settings or mail.MailSettings()
        self.link_base = link_base.rstrip("/")
        self.render = render or (lambda text, values: text.format(**values))
        self._wake = asyncio.Event()

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.step():
                    pass
                if self.mail.enabled:
                    await self.send_mail()
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("notification mail failed, will retry", extra={"error": str(exc)})
            except sa.exc.SQLAlchemyError as exc:
                log.warning("notification job could not read or write, will retry", extra={"error": str(exc)})
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.every)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        return None

    async def position(self) -> int:
        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(cursor_table.c.position).where(cursor_table.c.name == CURSOR))).scalar()
        return int(found or 0)

    async def step(self) -> bool:
        """Make the notices of the next batch of entries; True when there may be more."""
        start, size = await self.position(), self.audit.size
        if start >= size:
            return False
        end = min(size, start + BATCH)
        entries = await self.audit.entries(start, end)
        now = _now_us()
        mail_on = self.mail.enabled
        async with self.engine.begin() as conn:
            current = (await conn.execute(sa.select(cursor_table.c.position).where(cursor_table.c.name == CURSOR))).scalar()
            if int(current or 0) != start:
                return True  # another process moved on meanwhile: look again
            relevant = [e for e in entries if e.kind in KINDS and e.tender_id]
            experts = await _expert_accounts(conn) if any(e.kind.startswith("experts.") for e in relevant) else {}
            facts: dict[str, Facts] = {}  # looked up once per tender of the batch
            notices: list[tuple[Entry, Notice]] = []
            for entry in relevant:
                tid = entry.tender_id or ""
                if tid not in facts:
                    facts[tid] = await _facts(conn, tid, experts)
                notices += [(entry, n) for n in notices_for(entry, facts[tid])]
            with_mail = set()
            if mail_on and notices:
                accounts = list({n.account for _, n in notices})
                with_mail = {r[0] for r in await conn.execute(sa.select(contact_table.c.account_id).where(contact_table.c.account_id.in_(accounts)))}
            if notices:
                await conn.execute(notice_table.insert(), [
                    {"account": n.account, "tender_id": entry.tender_id, "text": n.text,
                     "params": json.dumps(dict(n.values), ensure_ascii=False), "link": n.link, "entry_index": entry.index,
                     "created_us": now, "emailed_us": None if n.account in with_mail else -1}
                    for entry, n in notices
                ])
            if current is None:
                await conn.execute(cursor_table.insert().values(name=CURSOR, position=end))
            else:
                await conn.execute(cursor_table.update().where(cursor_table.c.name == CURSOR).values(position=end))
        if notices:
            log.info("notifications made", extra={"count": len(notices), "until": end})
        return end < size

    async def send_mail(self) -> int:
        """Email every notice still waiting for it; marks them sent only after the server took them."""
        n, c = notice_table.c, contact_table.c
        query = sa.select(n.id, n.text, n.params, n.link, c.email).select_from(
            notice_table.join(contact_table, c.account_id == n.account)).where(n.emailed_us.is_(None)).order_by(n.id).limit(100)
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(query))
        if not rows:
            return 0
        messages = []
        for r in rows:
            text = self.render(r.text, json.loads(r.params))
            messages.append(mail.message(self.mail, r.email, f"评标舱：{text}", f"{text}\n\n{self.link_base}{r.link}\n"))
        await mail.send(self.mail, messages)
        async with self.engine.begin() as conn:
            await conn.execute(notice_table.update().where(n.id.in_([r.id for r in rows])).values(emailed_us=_now_us()))
        return len(rows)


def _now_us() -> int:
    return time.time_ns() // 1000


async def unread_count(engine: AsyncEngine, account: str) -> int:
    n = notice_table.c
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).where(n.account == account, n.read_us.is_(None)))).scalar_one())


async def notices_of(engine: AsyncEngine, account: str, limit: int = 100) -> list[dict[str, Any]]:
    """`account`'s newest notices; marks the unread ones read (they have now been shown)."""
    n = notice_table.c
    async with engine.begin() as conn:
        rows = list(await conn.execute(sa.select(notice_table).where(n.account == account).order_by(n.id.desc()).limit(limit)))
        await conn.execute(notice_table.update().where(n.account == account, n.read_us.is_(None)).values(read_us=_now_us()))
    return [{"text": r.text, "values": json.loads(r.params), "link": r.link, "tender_id": r.tender_id,
             "created_us": r.created_us, "unread": r.read_us is None} for r in rows]


async def set_email(engine: AsyncEngine, account: str, email: str) -> None:
    """Keep (or, with an empty `email`, forget) where `account` gets its notices by email."""
    async with engine.begin() as conn:
        await conn.execute(contact_table.delete().where(contact_table.c.account_id == account))
        if email:
            await conn.execute(contact_table.insert().values(account_id=account, email=email))


async def email_of(engine: AsyncEngine, account: str) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(sa.select(contact_table.c.email).where(contact_table.c.account_id == account))).scalar() or "")
