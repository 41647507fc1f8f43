"""A whole evaluation session in headless Chromium, as its users would do it.

The tender, its three opened bids and the final record are set up through the domain on the
running app (as tests/web/tender_client.py does over HTTP); the committee of five experts is the
real one: a pool imported and the draw completed by the app's draw job on its local beacon
(tests/evaluation/experts_fixtures.py), read by the session through
evaluation.experts.committee_of as in production. Then, in the browser: the agency starts the
evaluation; each expert, in its own browser context, checks in (accepting the avoidance
declaration and the commitment, a WebCrypto P-256 key made and kept in IndexedDB), three elect
a leader; all score the three bids and submit signed sheets; one far-off score is flagged and
corrected with a reason (畸高畸低), re-signed; the leader tallies; every expert signs the report;
the PDF is downloaded; the supervisor's replay page shows each step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from crypto.beacon import LocalBeaconSource
from evaluation.accounts.account import Role
from evaluation.audit.entry import Actor
from evaluation.session.session import drawn_committee
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from tests.conftest import need_executable
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.signin import sign_in
from tests.evaluation.experts_fixtures import draw_committee
from tests.evaluation.session_fixtures import CRITERIA, PRICES
from tests.evaluation.tender_fixtures import chunks, meta, sealed, spec
from tests.web.signin import PASSWORD, make_account
from web.api.evaluation import EVALUATION
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.keys import AUDIT_LOG, LOCAL_BEACON
from web.labels import label_in

EXPERTS = 5
STEP_MS = 20_000



async def state_is(page: Any, state: str) -> None:
    await page.wait_for_selector(f'#eval-state[data-state="{state}"]', timeout=STEP_MS)


async def confirmed_tender(app: Any, agency: Actor, **over: Any) -> str:
    ctx: tenders.TenderContext = app[TENDERS]
    t = await tenders.create(ctx, agency, "采购中心", spec(3, **{"criteria": CRITERIA, "objection_window_s": 0, **over}))
    t = await tenders.publish(ctx, agency, t.id)
    assert t.opening_round is not None
    for i, price in enumerate(PRICES):
        data = sealed(ctx.chain, t.opening_round, {"total_price": price, "delivery_days": 30})
        await bids.submit(ctx, Actor(f"acc-bidder-{i}", "bidder"), t.id, chunks(data), meta(i))
    beacon = await LocalBeaconSource(app[LOCAL_BEACON]).wait_for(t.opening_round)
    await opening.run(ctx, t.id, beacon)  # idempotent next to the app's own scheduler
    await opening_record.finalize(dataclasses.replace(ctx, clock=lambda: time.time() + 5), t.id)
    assert (await tenders.get(ctx, t.id)).state.value == "confirmed"
    return t.id


async def test_evaluation_session_in_the_browser(make_app_server: MakeAppServer, new_page: NewPage, tmp_path: Path) -> None:
    running = await make_app_server()
    app, base = running.app, running.url
    agency = await make_account(app, Role.agency, "agency")
    supervisor = await make_account(app, Role.supervisor, "supervisor")
    experts = [await make_account(app, Role.expert, f"expert{i}") for i in range(EXPERTS)]
    tender_id = await confirmed_tender(app, agency.actor)
    title = (await tenders.get(app[TENDERS], tender_id)).spec.title
    assert app[EVALUATION].committee is drawn_committee  # production's source, no stand-in
    await draw_committee(app[TENDERS], app[DRAW_JOB], agency.actor, tender_id, [e.id for e in experts])
    page_url = f"/evaluation/{tender_id}"

    host = await new_page()
    await sign_in(host, base, "agency", page_url)
    await host.wait_for_selector("#start-box:not([hidden])", timeout=STEP_MS)
    shown = await host.locator("#start-criteria tbody tr").all_inner_texts()  # read-only, the tender's own
    assert [row.split("\t")[:3] for row in shown] == [["价格 Price", "价格分", "30"], ["技术方案 Technical", "主观分", "50"],
                                                       ["商务 Business", "主观分", "20"]], shown
    assert "评标基准价 / 投标报价 × 价格分值" in shown[0] and await host.locator("#start-box textarea").count() == 0
    await host.fill("#start-threshold", "150")
    await host.fill("#start-recommend", "0")
    await host.click("#start")  # both mistakes at once, nothing sent
    await host.wait_for_selector('#eval-message[data-bad="1"]', timeout=STEP_MS)
    message = await host.text_content("#eval-message")
    assert "畸高畸低偏差阈值" in message and "推荐人数" in message, message
    await host.fill("#start-threshold", "")  # empty: the tender's threshold
    await host.fill("#start-recommend", "3")
    await host.click("#start")
    await state_is(host, "checkin")

    pages = []
    for i in range(EXPERTS):
        page = await new_page()
        await sign_in(page, base, f"expert{i}", page_url)
        await state_is(page, "checkin")
        for box in ("#ck-identity", "#ck-commitment"):
            await page.check(box)
        rows = page.locator("#avoidance-rows tr")
        assert await rows.count() == 3  # the declaration names each bidder, one answer each
        await page.click("#checkin")  # unanswered: refused in the page, naming the first bidder
        await page.wait_for_selector('#eval-message[data-bad="1"]', timeout=STEP_MS)
        for r in range(3):
            await rows.nth(r).locator('input[value="no"]').check()
        await page.click("#checkin")
        await page.wait_for_selector("#checkin-box", state="hidden", timeout=STEP_MS)
        pages.append(page)
    # Experts see what they judge: the opened bids' documents, viewed in the page, each view logged.
    reader = pages[1]
    assert await reader.locator("#documents tr[data-bid]").count() == 3
    first = reader.locator("#documents a.doc-view").first
    assert await first.get_attribute("data-name") == "技术标.txt"
    await first.click()
    frame = reader.frame(name="doc-viewer")
    assert frame is not None
    await frame.wait_for_selector("text=secret-marker", timeout=STEP_MS)
    kinds = [(e.kind, e.actor.account) for e in await app[AUDIT_LOG].entries(0, app[AUDIT_LOG].size)]
    assert ("bid.document_opened", experts[1].id) in kinds
    outsider = await new_page()
    await make_account(app, Role.bidder, "bidder-outsider")
    await sign_in(outsider, base, "bidder-outsider", "/")
    refused = await outsider.request.get(base + (await first.get_attribute("href") or ""))
    assert refused.status == 403
    for page in pages[:3]:
        await state_is(page, "election")
        await page.select_option("#vote-candidate", experts[0].id)
        await page.click("#vote")
        await page.wait_for_selector("#vote-box", state="hidden", timeout=STEP_MS)
    await state_is(pages[0], "scoring")

    # One expert lost its key (a new browser): it confirms its password and registers a new one.
    fresh = await new_page()
    await sign_in(fresh, base, f"expert{EXPERTS - 1}", page_url)
    await state_is(fresh, "scoring")
    await fresh.wait_for_selector("#rekey-box:not([hidden])", timeout=STEP_MS)
    await fresh.fill("#rekey-form input[name=password]", "wrong password!")
    await fresh.click("#rekey")
    await fresh.wait_for_function("() => document.querySelector('#eval-message').dataset.bad === '1'", timeout=STEP_MS)
    await fresh.fill("#rekey-form input[name=password]", PASSWORD)
    await fresh.click("#rekey")
    await fresh.wait_for_selector("#rekey-box", state="hidden", timeout=STEP_MS)
    replaced = [e for e in await app[AUDIT_LOG].entries(0, app[AUDIT_LOG].size) if e.kind == "evaluation.key_replaced"]
    assert [e.actor.account for e in replaced] == [experts[EXPERTS - 1].id]
    pages[EXPERTS - 1] = fresh

    for i, page in enumerate(pages):
        await state_is(page, "scoring")
        inputs = page.locator("#sheet input.score")
        count = await inputs.count()
        assert count == 6  # three bids × (technical, business)
        if i == 0:  # the sheet in words: state, tender, criteria by title with their points
            assert await page.inner_text("#eval-state") == "独立评分"
            assert await page.inner_text("#crumb-tender") == title
            assert await page.locator("#sheet td.criterion strong").all_inner_texts() == [
                "价格 Price", "技术方案 Technical", "商务 Business"]
            wording = await page.inner_text("#sheet tbody")
            assert "50 分" in wording and not re.search(r"\bc[0-9]\b", wording), wording
            prices = await page.locator("#sheet output.price-score").all_inner_texts()
            assert len(prices) == 3 and "30.00" in prices, prices  # the lowest price gets the full 30
        for n in range(count):
            code = await inputs.nth(n).get_attribute("data-code")
            value = "40" if code == "c2" else "15"
            if i == 4 and n == 0:
                value = "10"  # far below the others: a deviation (畸低)
            await inputs.nth(n).fill(value)
        await page.click("#submit-sheets")
        await page.wait_for_selector("#sheet-box", state="hidden", timeout=STEP_MS)

    odd = pages[4]
    await state_is(odd, "review")
    await odd.wait_for_selector("#deviations tr.deviation", timeout=STEP_MS)
    assert await odd.inner_text("#eval-state") == "复核与修改"
    deviation = await odd.locator("#deviations tr.deviation").first.inner_text()
    assert "技术方案 Technical" in deviation and re.search(r"专家\d", deviation) and not re.search(r"acct_|\bc2\b", deviation), deviation
    header = await odd.locator("#deviations tr").first.inner_text()
    assert "中位数" in header and "其他专家" in header and "均值" not in header, header
    assert "\t10\t40\t40" in deviation, deviation  # the score, the median, the others' range (all 40)
    assert await odd.locator("#deviations tr.deviation .confirm-open").count() == 1
    assert await pages[0].locator("#deviations .confirm-open").count() == 0  # only the expert who gave it

    # While the deviation is open the leader's tally answers with one line naming it.
    leader = pages[0]
    await leader.wait_for_selector("#tally:not([hidden])", timeout=STEP_MS)
    await leader.click("#tally")
    await leader.wait_for_selector('#eval-message[data-bad="1"]', timeout=STEP_MS)
    refused = await leader.text_content("#eval-message")
    assert refused.startswith("暂不能汇总") and "技术方案 Technical" in refused and "\n" not in refused, refused
    assert not re.search(r"acct_|B-[0-9a-f]|\bc2\b", refused), refused
    assert await leader.inner_text("#eval-state") == "复核与修改"

    # A change with reason 畸高畸低 that still deviates leaves a new open deviation to confirm.
    first_bid = await odd.locator("#sheet input.score").first.get_attribute("data-bid")
    await odd.select_option("#change-bid", first_bid)
    await odd.select_option("#change-criterion", "c2")
    await odd.fill("#change-new", "12.5")
    await odd.select_option("#change-reason", "abnormal_high_low")
    await odd.fill("#change-explanation", "重新核对技术方案后修正 Re-read the technical proposal")
    await odd.click("#change-submit")
    await odd.wait_for_selector("#changes li", timeout=STEP_MS)
    await odd.wait_for_selector("#deviations tr.deviation:has-text('12.5') .confirm-open", timeout=STEP_MS)

    # The expert confirms it: an empty reason is refused in one line, then a reason is kept.
    row = odd.locator("#deviations tr.deviation").first
    await row.locator(".confirm-open").click()
    await row.locator(".confirm-submit").click()
    await odd.wait_for_selector('#eval-message[data-bad="1"]', timeout=STEP_MS)
    assert (await odd.text_content("#eval-message")).startswith("请填写确认理由")
    await row.locator(".confirm-reason").fill("技术方案缺少实施计划，维持低分 No implementation plan")
    await row.locator(".confirm-submit").click()
    await odd.wait_for_selector("#deviations tr.deviation.confirmed", timeout=STEP_MS)
    confirmed = await odd.locator("#deviations tr.deviation").first.inner_text()
    assert "已确认：技术方案缺少实施计划，维持低分" in confirmed, confirmed
    await leader.wait_for_selector("#deviations tr.deviation.confirmed", timeout=STEP_MS)

    await leader.click("#tally")
    for page in pages:
        await state_is(page, "signing")
        await page.click("#sign-report")
        await page.wait_for_selector("#sign-report", state="hidden", timeout=STEP_MS)
    await state_is(host, "done")
    assert await host.locator("#ranking tr").count() == 4

    pdf = await pages[0].request.get(f"{base}{page_url}/report.pdf")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    # The PDF is the signed document: rendered (pdftoppm) and read back (pdftotext), it names people.
    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes(await pdf.body())
    subprocess.run([need_executable("pdftoppm"), "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")],
                   check=True, timeout=60)
    [png] = list(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 10_000  # a page with text on it, not a blank
    text = subprocess.run([need_executable("pdftotext"), "-layout", str(pdf_path), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert "评标报告" in text and "畸高畸低" in text and "评标组长" in text
    # Signers by name with the time each signed, on the installation's clock; bidders by name.
    assert "签署人" in text and re.search(r"专家\d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d（北京时间）", text), text
    assert "供应商 0" in text, text
    assert not re.search(r"acct_[0-9a-f]{8}|B-[0-9a-f]{16}|\\u[0-9a-fA-F]{4}", text), text
    await pages[0].goto(f"{base}{page_url}/report")
    assert "评标报告" in await pages[0].text_content("#report")
    # The document a committee signs reads in names and words: no account or bid ids outside <code>.
    readable = await pages[0].evaluate("""() => { const r = document.querySelector('#report').cloneNode(true);
        r.querySelectorAll('code').forEach((e) => e.remove()); return r.innerText; }""")
    assert not re.search(r"acct_[0-9a-f]|\bB-[0-9a-f]{8}|abnormal_high_low|\\u[0-9a-fA-F]{4}", readable), readable
    assert "畸高畸低" in readable and "评标组长" in readable
    signers = await pages[0].text_content("#report-signers")
    assert signers.count("北京时间") == 5 and re.search(r"专家\d", signers), signers
    for width in (390, 1366):
        await pages[0].set_viewport_size({"width": width, "height": 900})
        assert await pages[0].evaluate("document.documentElement.scrollWidth") <= width

    # The agency publishes the result from the tender's page; the tender is then 'awarded'.
    host.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await host.goto(f"{base}/tenders/{tender_id}")
    await host.click("#publish-result")
    await host.wait_for_selector("#result #result-winner", timeout=STEP_MS)
    assert await host.get_attribute("#tender-state", "data-state") == "awarded"

    watcher = await new_page()
    await sign_in(watcher, base, "supervisor", f"/audit/tenders/{tender_id}")
    text = await watcher.text_content("body") or ""
    for kind in ("evaluation.started", "evaluation.checked_in", "evaluation.leader_elected",
                 "evaluation.sheet_submitted", "evaluation.review", "evaluation.score_changed",
                 "evaluation.tally", "evaluation.report_signed", "evaluation.report_final", "tender.result_published"):
        assert label_in("zh", "event", kind) in text, kind  # the replay names each step in words
    assert "evaluation.started" not in text
    assert supervisor.role is Role.supervisor
