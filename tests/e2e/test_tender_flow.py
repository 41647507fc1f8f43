"""One tender end to end in headless Chromium, as its users would do it.

An agency creates and publishes a tender on the pages (opening a few seconds ahead on the local
beacon with a 1-second period); three bidders, each in its own browser context, fill the record,
pick a small document, and seal and upload their bids in the browser; each sees its receipt
verified in the browser. Right after the uploads everything stored server-side — every row of
every table, every audit entry, every file under the data directory — is searched for the bids'
plaintext (record values, document bytes): none. The bidders sign in to the hall, the opening time
passes, and every bidder's hall shows the whole record live; one bidder objects, the agency
answers in its hall, and the objector's hall shows the answer. After the opening the same search
does find the documents (stored as blobs at the opening), which shows the search looks.

Set PINGBIAO_E2E_SCREENSHOTS=<dir> to keep PNG screenshots of the pages.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from evaluation.accounts.account import Role, create_account
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.web.signin import PASSWORD, make_account
from web.keys import AUDIT_LOG, ENGINE

LEAD_SECONDS = 15  # from filling in the form to the opening: sign-in, publish and three bids fit
OPENING_TIMEOUT_MS = 60_000
BIDDERS = ("bidder0", "bidder1", "bidder2")
COMPANIES = ("华东办公设备有限公司", "北辰信息技术股份有限公司", "南山科技有限公司")


async def sign_in(page: Any, base: str, username: str) -> None:
    await page.goto(f"{base}/login?next=/tenders")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/tenders")


async def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("PINGBIAO_E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


async def create_tender(page: Any, base: str) -> tuple[str, int]:
    """Fill in the new-tender form (adding a text record field) and publish; returns (id, opening)."""
    await page.goto(f"{base}/tenders/new")
    await page.fill("#f-title", "办公设备采购项目 Office equipment")
    await page.fill("#f-description", "采购台式计算机 200 台。")
    await page.fill("#f-budget", "1,200,000.50")
    await page.click("#add-lot")
    await page.fill("#lots tbody tr:last-child .n", "第一包 计算机")
    await page.fill("#lots tbody tr:last-child .b", "1200000.50")
    await page.click("#add-field")
    row = "#fields tbody tr:last-child"
    await page.fill(f"{row} .k", "remarks")
    await page.fill(f"{row} .zh", "备注")
    await page.fill(f"{row} .en", "Remarks")
    await page.select_option(f"{row} .t", "text")
    await page.fill("#f-objection", "10")
    await page.check("#f-sme-reserved")  # 专门面向中小企业: the form asks for a deduction rate otherwise
    opening = int(time.time()) + LEAD_SECONDS
    await page.fill("#f-opening", await page.evaluate("u => pb.toLocalInput(u)", opening))
    await page.dispatch_event("#f-opening", "input")
    assert "对应信标轮次" in await page.text_content("#round-info")
    await screenshot(page, "tender-new")
    await page.click("#publish")
    await page.wait_for_url(re.compile(r"/tenders/T-[0-9a-f]+$"))
    assert await page.get_attribute("#tender-state", "data-state") == "published"
    return page.url.rsplit("/", 1)[1], opening


async def submit_bid(page: Any, base: str, tender_id: str, record: dict[str, str], document: bytes) -> dict[str, str]:
    await page.goto(f"{base}/tenders/{tender_id}/bid")
    for key, value in record.items():
        await page.fill(f"[name={key}]", value)
    await page.set_input_files("#documents", files=[{"name": "技术标.bin", "mimeType": "application/octet-stream", "buffer": document}])
    await page.click("#submit-bid")
    await page.wait_for_selector("#bid-form[data-phase=done]")
    await page.wait_for_selector("#r-verified[data-verified]")
    verified = await page.text_content("#r-verified")
    assert await page.get_attribute("#r-verified", "data-verified") == "true", verified
    return {"sha256": await page.text_content("#r-sha256"), "index": await page.text_content("#r-index")}


async def server_side_snapshot(app: Any, data_dir: Path) -> list[tuple[str, bytes]]:
    """(where, bytes) of everything stored: every table row, every audit entry, every file."""
    found: list[tuple[str, bytes]] = []
    async with app[ENGINE].connect() as conn:
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        for table in tables:
            for row in await conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                for column, value in row._mapping.items():
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    found.append((f"table {table}.{column}", raw))
    log = app[AUDIT_LOG]
    for entry in await log.entries(0, log.size):
        found.append((f"audit entry {entry.index}", entry.leaf))
        found.append((f"audit entry {entry.index} (json)", json.dumps(entry.to_json(), ensure_ascii=False).encode()))
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            found.append((f"file {path.relative_to(data_dir)}", path.read_bytes()))
    return found


def needles(records: list[dict[str, str]], documents: list[bytes]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for i, (record, document) in enumerate(zip(records, documents)):
        for key, value in record.items():
            if value.isdigit():  # a short number is everywhere: look for it as the record has it
                out[f"bidder{i} {key}"] = f'"{key}":{value}'.encode()
                out[f"bidder{i} {key} (spaced)"] = f'"{key}": {value}'.encode()
                continue
            out[f"bidder{i} {key}"] = value.encode()
            out[f"bidder{i} {key} (json)"] = json.dumps(value).encode()
        out[f"bidder{i} document"] = document
        out[f"bidder{i} document head"] = document[:48]
        out[f"bidder{i} document middle"] = document[2000:2048]
    return out


def plaintext_hits(stored: list[tuple[str, bytes]], wanted: dict[str, bytes]) -> list[str]:
    return [f"{what} found in {where}" for where, raw in stored for what, needle in wanted.items() if needle in raw]


async def agency_and_bidders(app: Any, base: str, new_page: NewPage) -> tuple[Any, list[Any]]:
    """The agency and the three bidders' accounts, each signed in on its own page."""
    await make_account(app, Role.agency, "agency")
    for name, company in zip(BIDDERS, COMPANIES):
        await create_account(app[AUDIT_LOG], username=name, password=PASSWORD, display_name=f"{company}投标代表",
                             role=Role.bidder, organization=company)
    agency = await new_page()
    bidders = [await new_page() for _ in BIDDERS]
    await asyncio.gather(sign_in(agency, base, "agency"), *(sign_in(p, base, n) for p, n in zip(bidders, BIDDERS)))
    return agency, bidders


async def test_tender_flow_in_browsers(make_app_server: MakeAppServer, new_page: NewPage) -> None:
    server = await make_app_server()
    base, app = server.url, server.app
    agency, bidders = await agency_and_bidders(app, base, new_page)

    tender_id, opening = await create_tender(agency, base)
    await screenshot(agency, "tender-detail-published")

    # Unique values, so finding them anywhere means plaintext leaked.
    records = [
        {"total_price": f"{secrets.randbelow(9_000_000) + 1_000_000:,}.{i}7", "delivery_days": str(30 + i),
         "remarks": f"含税报价说明-{secrets.token_hex(8)}"}
        for i in range(3)
    ]
    documents = [f"PINGBIAO-DOC-{i}-{secrets.token_hex(16)}\n".encode() + secrets.token_bytes(4096) for i in range(3)]
    receipts = await asyncio.gather(*(submit_bid(p, base, tender_id, r, d) for p, r, d in zip(bidders, records, documents)))
    assert len({r["sha256"] for r in receipts}) == 3
    await screenshot(bidders[0], "bid-receipt")

    stored = await server_side_snapshot(app, server.settings.data_dir)
    assert time.time() < opening, "the snapshot must be taken before the opening"
    wanted = needles(records, documents)
    assert plaintext_hits(stored, wanted) == []
    assert any(r["sha256"].encode() in raw for _, raw in stored for r in receipts)  # the ciphertext hashes are there

    # The hall: everyone connected before the opening; bidders and the agency sign in.
    for page in [*bidders, agency]:
        await page.goto(f"{base}/tenders/{tender_id}/hall")
        await page.wait_for_selector("#conn[data-state=open]")
        await page.click("#signin-button")
    for page in bidders:
        account = await page.evaluate("pb.pageData().account")
        await page.wait_for_selector(f'#signins li[data-account="{account}"]')
        assert await page.locator("#signins li[data-account]").count() == 1  # nobody else's, before the opening
    await screenshot(bidders[1], "hall-before-opening")
    assert time.time() < opening, "the hall must be joined before the opening (raise LEAD_SECONDS)"

    # The opening: each bidder's hall shows the whole record, live (no reload).
    for page in bidders:
        await page.wait_for_function("() => document.querySelectorAll('#record-rows tr[data-seq]').length === 3",
                                     timeout=OPENING_TIMEOUT_MS)
        await page.wait_for_selector("#hall-state[data-state=confirming]")
        await page.wait_for_function("() => document.querySelectorAll('#signins li[data-account]').length === 4")  # revealed
        assert await page.is_hidden("#signin-button")
        for record in records:
            row = page.locator("#record-rows tr", has_text=record["total_price"])
            assert await row.count() == 1
            assert record["remarks"] in await row.inner_text()
            assert "已开启" in await row.inner_text()
        for company in COMPANIES:
            assert await page.locator("#record-rows td.bidder", has_text=company).count() == 1

    # One bidder objects; another confirms; the agency answers in its hall.
    objector = bidders[0]
    await objector.fill("#objection-text", "第二行交货期与投标文件不符，请核实。")
    await objector.click("#objection-button")
    await bidders[1].click("#confirm-button")
    await bidders[2].wait_for_selector(".tp-objection .text")
    await agency.wait_for_selector(".tp-objection .answer-form textarea")
    answer = "经核实，开标记录与投标文件一致。"
    await agency.fill(".tp-objection .answer-form textarea", answer)
    await agency.click(".tp-objection .answer-form button")
    await objector.wait_for_selector(f".tp-objection .tp-answer:has-text('{answer}')")
    await bidders[2].wait_for_selector(f".tp-objection .tp-answer:has-text('{answer}')")
    await objector.wait_for_function("() => document.querySelector('#confirmations').textContent.includes('（1）')")
    await screenshot(objector, "hall-after-answer")

    # The agency's tender page after the opening: record, the answered objection, leads.
    await agency.goto(f"{base}/tenders/{tender_id}")
    assert await agency.locator("#record tbody tr").count() == 3
    assert answer in await agency.inner_text("#objections")
    assert "以下仅为线索" in await agency.inner_text("#leads")
    await screenshot(agency, "tender-detail-after-opening")

    # After the deadline the bid page says bidding is closed (and offers no form).
    await bidders[2].goto(f"{base}/tenders/{tender_id}/bid")
    assert "投标已截止" in await bidders[2].inner_text("#bid-closed")
    assert await bidders[2].locator("#bid-form").count() == 0
    await bidders[2].wait_for_selector("#r-verified[data-verified=true]")  # its receipt is still there
    await screenshot(bidders[2], "bid-closed")

    # The same search finds the documents now (opened at the opening): the search does look.
    after = await server_side_snapshot(app, server.settings.data_dir)
    hits = plaintext_hits(after, {f"bidder{i} document": d for i, d in enumerate(documents)})
    assert len({h.split(" found")[0] for h in hits}) == 3
