"""A two-lot tender (分包) in headless Chromium: a bidder signs in, finds the tender, ticks both
lots, types a price for each, attaches a PDF and submits; the page first refuses a price over a
lot's budget and no document at all. Two other bidders' bids are sealed in the test. After the
opening the bidder's hall shows one record line per bid per lot, the prices in yuan with
separators, and the local-beacon note; so does the tender page.

Set PINGBIAO_E2E_SCREENSHOTS=<dir> to keep PNG screenshots of the pages.
"""

from __future__ import annotations

import time
from typing import Any

from evaluation.accounts.account import Role
from evaluation.audit.entry import Actor
from evaluation.tenders import bids
from evaluation.tenders import tender as tenders
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.test_tender_flow import screenshot, sign_in
from tests.evaluation.tender_fixtures import chunks, meta, sealed, spec
from tests.web.signin import make_account
from web.api.tenders import TENDERS

LEAD_SECONDS = 12
OPENING_TIMEOUT_MS = 60_000
LOTS = [{"name": "台式计算机", "budget_fen": 150_000_000}, {"name": "激光打印机", "budget_fen": 8_000_000}]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_a_bidder_prices_two_lots_and_the_hall_shows_each(make_app_server: MakeAppServer, new_page: NewPage) -> None:
    server = await make_app_server()
    base, app = server.url, server.app
    agency = await make_account(app, Role.agency, "agency")
    await make_account(app, Role.bidder, "bidder0")
    ctx: tenders.TenderContext = app[TENDERS]
    t = await tenders.create(ctx, agency.actor, "采购中心", spec(LEAD_SECONDS, title="机房设备采购（两个分包）", lots=LOTS))
    t = await tenders.publish(ctx, agency.actor, t.id)
    assert t.opening_round is not None
    others = [{"delivery_days": 20, "lots": [{"lot": 1, "price": "1,400,000"}]},
              {"delivery_days": 25, "lots": [{"lot": 2, "price": "76,000.00"}, {"lot": 1, "price": "1450000.5"}]}]
    for i, record in enumerate(others, start=1):
        await bids.submit(ctx, Actor(f"acc-other-{i}", "bidder"), t.id,
                          chunks(sealed(ctx.chain, t.opening_round, record, [("投标文件.pdf", PDF)])), meta(i))

    page: Any = await new_page()
    await sign_in(page, base, "bidder0")
    await page.click(f'a[href="/tenders/{t.id}"]')
    await page.wait_for_url(f"{base}/tenders/{t.id}")
    await page.click(f'a[href="/tenders/{t.id}/bid"]')
    await page.wait_for_selector("#lots")
    assert await page.is_visible("#local-beacon-note")
    assert await page.locator("[name=total_price]").count() == 0  # priced per lot instead

    await page.check("[name=lot-1]")
    await page.check("[name=lot-2]")
    await page.fill("[name=lot-price-1]", "1,380,000.50")
    await page.fill("[name=lot-price-2]", "80,000.01")  # over 激光打印机's budget of 80,000.00
    await page.fill("[name=delivery_days]", "30")
    await page.set_input_files("#documents", files=[{"name": "投标文件.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await page.click("#submit-bid")
    await page.wait_for_selector("#bid-form[data-phase=error]")
    assert "第2包报价 80,000.01 元超过该包预算 80,000.00 元" in await page.text_content("#bid-message")

    await page.fill("[name=lot-price-2]", "79,500")
    await page.set_input_files("#documents", files=[{"name": "空.pdf", "mimeType": "application/pdf", "buffer": b""}])
    await page.click("#submit-bid")
    await page.wait_for_function("() => document.querySelector('#bid-message').textContent.includes('非空')")
    assert await page.get_attribute("#bid-form", "data-phase") == "error"

    await page.set_input_files("#documents", files=[{"name": "投标文件.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await page.click("#submit-bid")
    await page.wait_for_selector("#bid-form[data-phase=done]")
    await page.wait_for_selector("#r-verified[data-verified=true]")
    await screenshot(page, "lots-bid-receipt")
    assert time.time() < t.spec.opening_time, "the bid must be in before the opening (raise LEAD_SECONDS)"

    await page.goto(f"{base}/tenders/{t.id}/hall")
    await page.wait_for_selector("#conn[data-state=open]")
    await page.wait_for_selector("#hall-state[data-state=confirming]", timeout=OPENING_TIMEOUT_MS)
    await page.wait_for_function("() => document.querySelectorAll('#record-rows tr[data-lot]').length === 5")
    assert await page.is_visible("#local-beacon-note")
    mine = page.locator("#record-rows tr", has_text="1,380,000.50")
    assert await mine.count() == 1 and "第1包 台式计算机" in await mine.inner_text()
    second = page.locator("#record-rows tr", has_text="79,500.00")
    assert await second.count() == 1 and "第2包 激光打印机" in await second.inner_text()
    assert await page.locator("#record-rows tr[data-lot='1']").count() == 3
    assert await page.locator("#record-rows tr[data-lot='2']").count() == 2
    assert await page.locator("#record-rows tr", has_text="1,450,000.50").count() == 1
    await screenshot(page, "lots-hall-record")

    await page.goto(f"{base}/tenders/{t.id}")
    assert await page.locator("#record-table tbody tr[data-lot]").count() == 5
    assert "76,000.00" in await page.inner_text("#record-table")
    assert await page.is_visible("#local-beacon-note")
