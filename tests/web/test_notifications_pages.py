"""Notifications in the pages, over real HTTP with the app's own job: a notice appears in the
menu's count and the list, reading the list clears the count, and the email address is checked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from evaluation.audit.entry import Actor, EntryDraft
from evaluation.notifications.job import email_of, unread_count
from tests.web.tender_client import start, tender_body
from web.keys import AUDIT_LOG, ENGINE

HTML = {"Accept": "text/html"}


async def test_a_notice_reaches_the_menu_and_the_list(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    app = hall.client.app
    status, t = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, title="通知测试项目"))
    assert status == 201
    await app[AUDIT_LOG].append(EntryDraft("opening.objection", {"objection_id": "O-1", "text": "价格有误"}, t["id"],
                                           Actor(hall.accounts["bidder0"].id, "bidder")))
    agency = hall.accounts["agency"].id
    async with asyncio.timeout(20):  # the job follows the log on its own
        while await unread_count(app[ENGINE], agency) == 0:
            await asyncio.sleep(0.05)
    _, home = await hall.call("agency", "GET", "/", headers=HTML)
    assert 'id="nav-notices"' in home and '<span class="badge bad">1</span>' in home
    _, listing = await hall.call("agency", "GET", "/notifications", headers=HTML)
    assert "《通知测试项目》有投标人提出异议" in listing and f'href="/tenders/{t["id"]}/hall"' in listing
    assert await unread_count(app[ENGINE], agency) == 0
    _, other = await hall.call("bidder1", "GET", "/notifications", headers=HTML)
    assert "通知测试项目" not in other  # one's own notifications only

    status, body = await hall.call("agency", "POST", "/notifications/email", data={"email": "not an address"})
    assert status == 400 and await email_of(app[ENGINE], agency) == ""
    status, _ = await hall.call("agency", "POST", "/notifications/email", data={"email": "wang@example.test"},
                                allow_redirects=False)
    assert status == 303 and await email_of(app[ENGINE], agency) == "wang@example.test"
