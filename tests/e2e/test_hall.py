"""The opening hall as the bidders see it: two of three bidders sign in (签到), the third does not;
at the opening every hall lists all three bidders, signed in or not, and each bid's decryption
status (待解密 → 解密中 → 已解密); the host's 公告 reaches every hall as text, and its 唱标 highlights
the bids one by one in every hall while the whole record stays shown; a reload during the confirmation shows the complete record waiting
for confirmations, with print and export of the 开标记录表; the host signs it, every hall shows the
signature and downloads the PDF; at 390 px nothing scrolls sideways.

Set PINGBIAO_E2E_SCREENSHOTS=<dir> to keep PNG screenshots of the pages.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.test_tender_flow import (
    COMPANIES,
    OPENING_TIMEOUT_MS,
    agency_and_bidders,
    create_tender,
    screenshot,
    submit_bid,
)


async def test_hall_lists_absent_bidders_and_each_bids_status(make_app_server: MakeAppServer, new_page: NewPage) -> None:
    server = await make_app_server()
    base, app = server.url, server.app
    agency, bidders = await agency_and_bidders(app, base, new_page)
    tender_id, opening = await create_tender(agency, base)
    records = [{"total_price": f"{1_000_000 + i:,}.00", "delivery_days": str(30 + i), "remarks": f"说明{i}"} for i in range(3)]
    await asyncio.gather(*(submit_bid(p, base, tender_id, r, secrets.token_bytes(512)) for p, r in zip(bidders, records)))

    for page in bidders:
        await page.goto(f"{base}/tenders/{tender_id}/hall")
        await page.wait_for_selector("#conn[data-state=open]")
    for page in bidders[:2]:  # the third bidder does not sign in
        await page.click("#signin-button")
        await page.wait_for_selector("#signin-button", state="hidden")
    assert await bidders[2].is_hidden("#attendance-box")  # who bid stays secret before the opening
    assert time.time() < opening, "the hall must be joined before the opening"
    # the host's announcement (公告) reaches every hall at once, as text
    await agency.goto(f"{base}/tenders/{tender_id}/hall")
    await agency.wait_for_selector("#conn[data-state=open]")
    await agency.fill("#announce-text", "<b>请</b>各投标人准备签到")
    await agency.click("#announce-button")
    for page in bidders:
        await page.wait_for_selector("#announcements li")
        assert "<b>请</b>各投标人准备签到" in await page.inner_text("#announcements")
        assert await page.is_hidden("#announce-form")  # only the host posts

    watcher = bidders[2]
    await watcher.wait_for_selector("#bid-status li", timeout=OPENING_TIMEOUT_MS)  # the opening began
    await watcher.wait_for_function("() => document.querySelectorAll('#bid-status li[data-status=opened]').length === 3",
                                    timeout=OPENING_TIMEOUT_MS)
    await watcher.wait_for_selector("#hall-state[data-state=confirming]")
    for page in bidders:
        await page.wait_for_function("() => document.querySelectorAll('#attendance li').length === 3")
        items = page.locator("#attendance li")
        texts = [await items.nth(i).inner_text() for i in range(3)]
        signed = [await items.nth(i).get_attribute("data-signed") for i in range(3)]
        by_company = {c: (s, t) for t, s in zip(texts, signed) for c in COMPANIES if c in t}
        assert [by_company[c][0] for c in COMPANIES] == ["yes", "yes", "no"], (texts, signed)  # listed in the order of the bids
        assert "未签到" in by_company[COMPANIES[2]][1] and "已签到" in by_company[COMPANIES[0]][1]
        assert "已签到 2 / 共 3 家" in await page.inner_text("#attendance-summary")
        assert "北京时间" in by_company[COMPANIES[0]][1]  # the sign-in time names its clock
        statuses = page.locator("#bid-status li")
        for i in range(3):
            assert "已解密" in await statuses.nth(i).inner_text()
    # the hall saw each bid pass through 解密中 (the event per bid), not all results at once
    seen = await watcher.evaluate("() => document.querySelector('#bid-status').dataset.seenOpening")
    assert seen == "3", seen

    # 唱标: the host reads the bids out one by one; every hall highlights the one being read, the record stays whole
    await agency.wait_for_selector("#readout-button:not([hidden])", timeout=OPENING_TIMEOUT_MS)
    assert await bidders[0].is_hidden("#readout-button")
    for seq in (1, 2, 3):
        await agency.click("#readout-button")
        for page in (watcher, bidders[0]):
            await page.wait_for_selector(f"#record-rows tr.tp-reading[data-seq='{seq}']")
            assert await page.locator("#record-rows tr[data-seq]").count() == 3
            assert f"第 {seq} 号" in await page.inner_text("#readout-now")
    assert await watcher.locator("#record-rows tr[data-read=yes]").count() == 3
    await agency.wait_for_selector("#readout-button:disabled")
    assert "已唱标 3 / 共 3 家" in await agency.inner_text("#readout-progress")

    # A reload during the confirmation: the record is complete, the confirmations pending.
    await watcher.reload()
    await watcher.wait_for_selector("#conn[data-state=open]")
    await watcher.wait_for_function("() => document.querySelectorAll('#record-rows tr[data-seq]').length === 3")
    await watcher.wait_for_selector("#record-rows tr.tp-reading[data-seq='3']")  # the read-out survives a reload
    note = await watcher.inner_text("#record-note")
    assert "等待投标人确认" in note and "唱标中" not in note, note
    assert await watcher.is_visible("#print-record") and await watcher.is_visible("#export-record")
    async with watcher.expect_download() as info:
        await watcher.click("#export-record")
    csv = (await (await info.value).path()).read_text(encoding="utf-8-sig")
    assert all(company in csv for company in COMPANIES) and "已开启" in csv
    # 签署: the host signs the record it sees; every hall shows the signature, by name; the PDF is the signed document
    await agency.wait_for_selector("#sign-record:not([hidden])")
    assert await watcher.is_hidden("#sign-record")  # only the host signs
    await agency.click("#sign-record")
    await agency.wait_for_selector("#sign-message.ok, #sign-message[data-kind=ok]", timeout=10_000)
    assert "审计日志第" in await agency.inner_text("#sign-message")
    await agency.wait_for_selector("#sign-record", state="hidden")
    await watcher.wait_for_selector("#signatures[data-signed='1']")
    assert "已签署" in await watcher.inner_text("#signatures") and "acct_" not in await watcher.inner_text("#signatures")
    async with watcher.expect_download() as info:
        await watcher.click("#record-pdf")
    assert (await (await info.value).path()).read_bytes().startswith(b"%PDF")

    for width, height in ((1366, 900), (390, 844)):
        await watcher.set_viewport_size({"width": width, "height": height})
        await screenshot(watcher, f"hall-confirming-{width}")
        scroll = await watcher.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the hall is {scroll} px wide at {width} px"
    await watcher.emulate_media(media="print")
    assert await watcher.is_hidden("header.top") and await watcher.is_hidden("#signin-box")
    assert await watcher.is_visible("#record")
    await screenshot(watcher, "hall-record-print")
