"""The committee's decisions and the bidders' answers in headless Chromium, by clicking and typing:
the leader proposes an arithmetic correction (the opening record's price and its 大写 beside the
corrected one) that its bidder confirms on its own page; asks two bidders with abnormally low
prices to justify them; one sends a text and a PDF in time, the other is refused in one line once
the time is over; the leader reads the document (logged), accepts the first, rejects the second
and finds a third bid invalid. Each form first shows its field errors. Screenshots at 1366 and
390 px wide are kept under the test's directory.

Set-up as in tests/e2e/test_evaluation_flow.py: the tender, its opened bids (of real bidder
accounts) and the record through the domain, the committee drawn for real; check-in and the
leader vote through the domain (the browser flow of those is tests/e2e/test_evaluation_flow.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role
from evaluation.audit.entry import Actor
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.signin import sign_in
from tests.evaluation.experts_fixtures import draw_committee
from tests.web.decisions_setup import start_scoring, tender_with_bids
from tests.web.signin import make_account
from web.api.evaluation import EVALUATION
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.keys import AUDIT_LOG

STEP_MS = 20_000
PRICES = ["100000.00", "60000.00", "120000.00", "110000.00", "55000.00", "130000.00"]
PDF = b"%PDF-1.4\n% cost breakdown of an abnormally low price\n" + bytes(range(256)) * 4


async def says(page: Any, box: str, kind: str) -> str:
    await page.wait_for_selector(f'{box}[data-kind="{kind}"]', timeout=STEP_MS)
    text: str = await page.text_content(box) or ""
    return text


async def fit(page: Any, name: str, out: Path) -> None:
    for width in (1366, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
        await page.screenshot(path=str(out / f"{name}-{width}-top.png"))
        assert await page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)


async def test_decisions_by_clicking(make_app_server: MakeAppServer, new_page: NewPage, tmp_path: Path) -> None:
    running = await make_app_server()
    app, base = running.app, running.url
    agency = await make_account(app, Role.agency, "agency")
    experts = [await make_account(app, Role.expert, f"expert{i}") for i in range(5)]
    bidders = [await make_account(app, Role.bidder, f"bidder{i}") for i in range(len(PRICES))]
    tender_id = await tender_with_bids(app, agency.actor, [(b.actor, p) for b, p in zip(bidders, PRICES)])
    await draw_committee(app[TENDERS], app[DRAW_JOB], agency.actor, tender_id, [e.id for e in experts])
    await start_scoring(app, tender_id, agency.actor, [Actor(e.id, "expert") for e in experts])
    shots = tmp_path / "screens"
    shots.mkdir()

    leader = await new_page()
    await sign_in(leader, base, "expert0", f"/evaluation/{tender_id}")
    await leader.click("#decisions-link")
    await leader.wait_for_url(f"{base}/evaluation/{tender_id}/decisions")
    await leader.wait_for_selector("#leader-forms:not([hidden])", timeout=STEP_MS)
    assert await leader.locator("#dec-bids tbody tr").count() == len(PRICES)
    first_row = await leader.locator("#dec-bids tbody tr", has_text="供应商 0").inner_text()
    assert "100,000.00" in first_row and "壹拾万元整" in first_row, first_row

    # 算术修正: every empty field named at once, then the correction by the 大写 amount
    await leader.click("#cor-submit")
    assert (await says(leader, "#dec-message", "error")).startswith("请更正标出的 3 处")
    assert await leader.text_content('#correction-form .tp-field-error[data-for="bid"]') == "请选择投标人"
    await leader.select_option("#cor-bid", label="供应商 0")
    assert "开标记录报价：100,000.00 元（壹拾万元整）" in (await leader.text_content("#cor-original") or "")
    await leader.select_option("#cor-rule", "words")
    await leader.fill("#cor-words", "十万五千")
    await leader.fill("#cor-explanation", "大写金额与小写金额不一致，以大写为准")
    await leader.click("#cor-submit")
    await says(leader, "#dec-message", "error")
    assert "不是大写金额" in (await leader.text_content('#correction-form .tp-field-error[data-for="words"]') or "")
    await leader.fill("#cor-words", "壹拾万零伍仟元整")
    assert await leader.text_content("#cor-preview") == "修正后报价：105,000.00 元（壹拾万零伍仟元整）"
    await leader.click("#cor-submit")
    assert await says(leader, "#dec-message", "ok") == "已提交算术修正，等待投标人确认"
    row = leader.locator("#dec-bids tbody tr", has_text="供应商 0")
    assert "待投标人确认" in await row.inner_text()

    # A correction by the unit prices (art. 59 (4)), typed line by line, that its bidder will refuse.
    await leader.select_option("#cor-bid", label="供应商 5")
    await leader.select_option("#cor-rule", "unit_sum")
    await leader.fill("#cor-items", "5,000.00 × 20\n25000 x")
    await leader.fill("#cor-explanation", "总价与分项单价汇总不一致")
    await leader.click("#cor-submit")
    await says(leader, "#dec-message", "error")
    assert "第 2 行须写成" in (await leader.text_content('#correction-form .tp-field-error[data-for="items"]') or "")
    await leader.fill("#cor-items", "5,000.00 × 20\n25000 x 1")
    assert await leader.text_content("#cor-preview") == "修正后报价：125,000.00 元（壹拾贰万伍仟元整）"
    await leader.click("#cor-submit")
    await leader.wait_for_selector("#dec-bids tbody tr:has-text('供应商 5'):has-text('待投标人确认')", timeout=STEP_MS)

    # 异常低价: the time checked in the page, then two bidders asked
    await leader.select_option("#q-bid", label="供应商 1")
    assert "低于其他有效投标平均报价" in (await leader.text_content("#q-flag") or "")
    await leader.fill("#q-minutes", "1.5")
    await leader.click("#q-submit")
    await says(leader, "#dec-message", "error")
    assert "整数分钟" in (await leader.text_content('#query-form .tp-field-error[data-for="minutes"]') or "")
    await leader.fill("#q-minutes", "30")
    await leader.click("#q-submit")
    await says(leader, "#dec-message", "ok")
    await leader.select_option("#q-bid", label="供应商 4")
    await leader.fill("#q-minutes", "1")
    await leader.click("#q-submit")
    await leader.wait_for_selector("#dec-bids tbody tr:has-text('供应商 4'):has-text('待投标人说明')", timeout=STEP_MS)
    await leader.select_option("#d-bid", label="供应商 4")  # while open, the leader may record one given in the booth
    await leader.wait_for_selector("#booth-box:not([hidden])", timeout=STEP_MS)
    await leader.click("#booth-submit")
    assert await leader.text_content('#decide-form .tp-field-error[data-for="booth"]') == "请填写投标人在评标舱内所作的说明"
    await leader.select_option("#d-bid", "")
    await fit(leader, "decisions", shots)

    # The bidder of the corrected bid finds it in its notifications and confirms it on its own page.
    b0 = await new_page()
    await sign_in(b0, base, "bidder0", "/notifications")
    notice = b0.locator("li", has_text="报价作了算术修正").locator("a")
    for _ in range(100):  # the notification job follows the log: look again until its notice is stored
        if await notice.count():
            break
        await b0.wait_for_timeout(100)
        await b0.reload()
    await notice.click()
    await b0.wait_for_url(f"{base}/evaluation/{tender_id}/my-bid")
    await b0.wait_for_selector("section.correction button.confirm-correction", timeout=STEP_MS)
    card = await b0.inner_text("section.correction")
    assert "开标记录报价：100,000.00 元（壹拾万元整）" in card and "修正后报价：105,000.00 元（壹拾万零伍仟元整）" in card, card
    assert "大写金额与小写金额不一致，以大写金额为准" in card
    await fit(b0, "my-bid-correction", shots)
    await b0.click("section.correction button.confirm-correction")
    assert await says(b0, "#mine-message", "ok") == "已确认修正后的报价"
    await b0.wait_for_selector("section.correction .status-confirmed", timeout=STEP_MS)

    # The other bidder refuses its correction, after a second click that says what follows.
    b5 = await new_page()
    await sign_in(b5, base, "bidder5", f"/evaluation/{tender_id}/my-bid")
    await b5.wait_for_selector("section.correction button.refuse-correction", timeout=STEP_MS)
    assert "修正后报价：125,000.00 元（壹拾贰万伍仟元整）" in await b5.inner_text("section.correction")
    await b5.click("section.correction button.refuse-correction")
    assert "投标无效" in await b5.inner_text("section.correction .warn")
    await b5.click("section.correction button.refuse-sure")
    assert await says(b5, "#mine-message", "ok") == "已答复不确认"
    await b5.wait_for_selector("section.my-bid .invalid:has-text('投标人不确认算术修正后的报价：修正后报价 125,000.00 元')",
                               timeout=STEP_MS)

    # The first low bidder justifies in time, with a text and a PDF; the empty text is refused first.
    b1 = await new_page()
    await sign_in(b1, base, "bidder1", f"/evaluation/{tender_id}/my-bid")
    await b1.wait_for_selector("section.low-price form.justify-form", timeout=STEP_MS)
    assert "北京时间" in (await b1.text_content("section.low-price .due") or "")
    await fit(b1, "my-bid-query", shots)
    await b1.click("section.low-price button[type=submit]")
    await says(b1, "#mine-message", "error")
    assert await b1.text_content('section.low-price .tp-field-error[data-for="text"]') == "请填写书面说明"
    await b1.fill("section.low-price textarea[name=text]", "库存设备，成本已摊销，报价合理 Old stock, costs written off")
    await b1.set_input_files("section.low-price input[name=document]",
                             files=[{"name": "成本构成.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await b1.click("section.low-price button[type=submit]")
    assert await says(b1, "#mine-message", "ok") == "已提交书面说明"
    await b1.wait_for_selector("section.low-price a.justification-doc:has-text('成本构成.pdf')", timeout=STEP_MS)

    # The time is over (the session's clock an hour on): the second low bidder is refused in one line.
    ectx = app[EVALUATION]
    ectx.tenders = dataclasses.replace(ectx.tenders, clock=lambda: time.time() + 3600)
    b4 = await new_page()
    await sign_in(b4, base, "bidder4", f"/evaluation/{tender_id}/my-bid")
    await b4.wait_for_selector("section.low-price form.justify-form", timeout=STEP_MS)
    await b4.fill("section.low-price textarea[name=text]", "迟到的说明")
    await b4.set_input_files("section.low-price input[name=document]",
                             files=[{"name": "迟到.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 late"}])
    await b4.click("section.low-price button[type=submit]")
    line = await says(b4, "#mine-message", "error")
    assert line.startswith("说明期限已过，不再接收书面说明") and "\n" not in line, line

    # The leader reads the document (logged with its hash) and decides on both, then finds a bid invalid.
    await leader.set_viewport_size({"width": 1366, "height": 900})
    await leader.select_option("#d-bid", label="供应商 1")
    link = leader.locator("#d-justification a.justification-doc")
    await link.wait_for(timeout=STEP_MS)
    assert await link.inner_text() == "成本构成.pdf"
    got = await leader.request.get(base + (await link.get_attribute("href") or ""))
    assert got.status == 200 and await got.body() == PDF
    log = app[AUDIT_LOG]
    [read] = [e for e in await log.entries(0, log.size) if e.kind == "evaluation.justification_opened"]
    assert read.payload["sha256"] == hashlib.sha256(PDF).hexdigest() and read.actor.account == experts[0].id
    await leader.click("#d-submit")
    await says(leader, "#dec-message", "error")
    assert await leader.text_content('#decide-form .tp-field-error[data-for="accepted"]') == "请选择接受或不接受说明"
    await leader.check('#decide-form input[name=accepted][value="yes"]')
    await leader.fill("#d-reason", "库存设备，说明及成本构成合理")
    await leader.click("#d-submit")
    assert await says(leader, "#dec-message", "ok") == "已记录评标委员会的决定"
    await leader.select_option("#d-bid", label="供应商 4")
    await leader.check('#decide-form input[name=accepted][value="no"]')
    await leader.fill("#d-reason", "未在规定时间内提交书面说明")
    await leader.click("#d-submit")
    await leader.wait_for_selector("#dec-bids tbody tr:has-text('供应商 4'):has-text('无效')", timeout=STEP_MS)
    await leader.select_option("#i-bid", label="供应商 3")
    await leader.select_option("#i-ground", "conformity")
    await leader.fill("#i-reason", "缺少法定代表人授权书")
    await leader.click("#i-submit")
    await leader.wait_for_selector('#dec-message[data-kind="ok"]:has-text("已认定投标无效")', timeout=STEP_MS)
    table = await leader.inner_text("#dec-bids")
    for text in ("105,000.00 元（壹拾万零伍仟元整）", "投标人已确认", "说明已接受", "库存设备，说明及成本构成合理",
                 "报价明显低于其他报价且未能证明其合理性：未在规定时间内提交书面说明", "符合性审查不通过：缺少法定代表人授权书"):
        assert text in table, (text, table)
    assert "acct_" not in table and "B-" not in table and "abnormally_low" not in table and "conformity" not in table
    await fit(leader, "decisions-done", shots)

    # The session page lists the decisions in short, by name and in words.
    await leader.goto(f"{base}/evaluation/{tender_id}")
    await leader.wait_for_selector("#decisions-box:not([hidden]) #decisions-summary li", timeout=STEP_MS)
    summary = await leader.inner_text("#decisions-summary")
    for text in ("供应商 0：算术修正后 105,000.00 元（壹拾万零伍仟元整） · 投标人已确认", "供应商 1：异常低价 · 说明已接受",
                 "供应商 3：无效 · 符合性审查不通过：缺少法定代表人授权书"):
        assert text in summary, (text, summary)
    await fit(leader, "evaluation-page", shots)

    # In English the page reads in English: only names, the tender's own title and 大写 amounts stay Chinese.
    await leader.goto(f"{base}/lang?to=en&next=/evaluation/{tender_id}/decisions")
    await leader.wait_for_selector("#dec-bids tbody tr:has-text('Justification accepted')", timeout=STEP_MS)
    english = await leader.inner_text("main")
    for text in ("Committee decisions", "Confirmed by the bidder", "Fails the conformity review: 缺少法定代表人授权书",
                 "Corrected: 105,000.00 yuan (壹拾万零伍仟元整)"):
        assert text in english, (text, english)
    assert "有效性" not in english and "投标人已确认" not in english and "算术修正" not in english, english
    await fit(leader, "decisions-en", shots)
    await leader.goto(f"{base}/lang?to=zh&next=/evaluation/{tender_id}")

    # Another member reads the same states, without the leader's forms.
    member = await new_page()
    await sign_in(member, base, "expert1", f"/evaluation/{tender_id}/decisions")
    await member.wait_for_selector("#dec-bids tbody tr:has-text('说明已接受')", timeout=STEP_MS)
    assert await member.locator("#leader-forms").is_hidden() and await member.locator("#not-leader").is_visible()
    b4_card = await b4.inner_text("section.my-bid")
    await b4.wait_for_selector("section.my-bid .invalid", timeout=STEP_MS)
    assert "未在规定时间内提交书面说明" in await b4.inner_text("section.my-bid .invalid"), b4_card
