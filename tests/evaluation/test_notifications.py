"""Notifications (evaluation/notifications/): made from the committed audit log, once each (the
position moves in the same transaction), and emailed through a real SMTP server when configured."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.accounts.account import Role, create_account
from evaluation.audit.entry import Actor, Entry, EntryDraft
from evaluation.audit.log import AuditLog
from evaluation.notifications import mail
from evaluation.notifications.job import NotificationJob, notices_of, set_email, unread_count
from evaluation.notifications.rules import Facts, notices_for
from evaluation.tenders import tender as tenders
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import beacon, spec, tctx  # noqa: F401, F811  (fixtures)

AGENCY = Actor("acc-agency", "agency")


async def agency_account(audit: AuditLog) -> Actor:
    account = await create_account(audit, username="agency-n", password="correct horse battery", display_name="王采购",
                                   role=Role.agency, organization="采购中心")
    return account.actor


def entry(kind: str, payload: dict[str, Any], tender: str = "T-1") -> Entry:
    return Entry(7, datetime.now(UTC), tender, AGENCY, kind, payload, b"")


def test_rules_name_who_must_act() -> None:
    facts = Facts(title="办公设备", agency="acc-agency", bidders=("b1", "b2"), members=("e1", "e2"),
                  expert_accounts={"X1": "e1", "X2": "e2"}, objection_bidders={"O-1": "b2"})
    drawn = notices_for(entry("experts.drawn", {"committee": ["X1", "X2", "X9"]}), facts)
    assert [(n.account, n.link) for n in drawn] == [("e1", "/experts/me"), ("e2", "/experts/me")]  # X9 has no account
    assert [n.account for n in notices_for(entry("experts.replaced", {"replacements": ["X2"]}), facts)] == ["e2"]
    assert [n.account for n in notices_for(entry("opening.objection", {"objection_id": "O-1"}), facts)] == ["acc-agency"]
    assert [n.account for n in notices_for(entry("opening.answer", {"objection_id": "O-1"}), facts)] == ["b2"]
    assert [n.account for n in notices_for(entry("opening.record", {}), facts)] == ["b1", "b2"]
    started = notices_for(entry("evaluation.started", {"members": [{"account": "e1"}, {"account": "e2"}]}), facts)
    assert [(n.account, n.link) for n in started] == [("e1", "/evaluation/T-1"), ("e2", "/evaluation/T-1")]
    assert len(notices_for(entry("evaluation.state", {"old": "election", "new": "scoring"}), facts)) == 2
    assert notices_for(entry("evaluation.state", {"old": "scoring", "new": "review"}), facts) == []
    assert notices_for(entry("bid.submitted", {}), facts) == []
    assert drawn[0].text.format(**drawn[0].values).startswith("您被抽取为《办公设备》")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_notices_are_made_once_and_emailed(tctx: TenderContext, engine: AsyncEngine, audit_log: AuditLog,
                                                 smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    agency = await agency_account(audit_log)
    t = await tenders.create(tctx, agency, "采购中心", spec(600, title="办公设备"))
    await audit_log.append(EntryDraft("opening.objection", {"objection_id": "O-9", "text": "价格有误"}, t.id, Actor("b1", "bidder")))
    await set_email(engine, agency.account, "agency@example.test")
    settings = mail.MailSettings(host="127.0.0.1", port=port, sender="pingbiao@example.test")
    job = NotificationJob(engine, audit_log, settings, link_base="https://pingbiao.example.test")
    while await job.step():
        pass
    assert await job.position() == audit_log.size
    assert await unread_count(engine, agency.account) == 1
    # A second job (a restart) starts where the first stopped: nothing is made twice.
    again = NotificationJob(engine, audit_log, settings)
    assert await again.step() is False and await unread_count(engine, agency.account) == 1

    assert await job.send_mail() == 1
    await asyncio.wait_for(inbox.arrived.wait(), 10)
    msg = inbox.messages[0]
    assert msg["To"] == "agency@example.test"
    assert "办公设备" in str(make_header(decode_header(msg["Subject"])))
    body = msg.get_payload(decode=True).decode()
    assert f"https://pingbiao.example.test/tenders/{t.id}/hall" in body
    assert await job.send_mail() == 0  # sent once

    shown = await notices_of(engine, agency.account)
    assert [n["link"] for n in shown] == [f"/tenders/{t.id}/hall"] and shown[0]["unread"]
    assert await unread_count(engine, agency.account) == 0


async def test_with_mail_off_nothing_waits_to_be_sent(tctx: TenderContext, engine: AsyncEngine, audit_log: AuditLog) -> None:
    agency = await agency_account(audit_log)
    t = await tenders.create(tctx, agency, "采购中心", spec(600))
    await set_email(engine, agency.account, "agency@example.test")
    await audit_log.append(EntryDraft("opening.objection", {"objection_id": "O-1", "text": "x"}, t.id, Actor("b1", "bidder")))
    job = NotificationJob(engine, audit_log)  # no SMTP host: mail is off
    await job.step()
    assert await unread_count(engine, agency.account) == 1
    later = NotificationJob(engine, audit_log, mail.MailSettings(host="127.0.0.1", port=9))
    assert await later.send_mail() == 0  # notices made while mail was off are never mailed later
