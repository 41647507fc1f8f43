"""The new-tender form in the browser: every mistake is listed at once, in words, before anything
is sent; corrected, the draft keeps its scoring criteria and its SME price deduction."""

from __future__ import annotations

import time

from evaluation.accounts.account import Role
from evaluation.tenders import tender as tenders
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.signin import sign_in
from tests.web.signin import make_account
from web.api.tenders import TENDERS


async def test_tender_form_lists_every_mistake_then_saves_criteria_and_sme(make_app_server: MakeAppServer,
                                                                            new_page: NewPage) -> None:
    server = await make_app_server()
    await make_account(server.app, Role.agency, "agency")
    page = await new_page()
    await sign_in(page, server.url, "agency", "/tenders/new")
    await page.fill("#f-budget", "1,000,000.00")
    await page.fill("#f-opening", await page.evaluate("u => pb.toLocalInput(u)", int(time.time()) + 3600))
    for name, points in (("价格", "60"), ("商务", "30")):
        await page.click("#add-criterion")
        row = page.locator("#criteria tbody tr").last
        await row.locator(".cn").fill(name)
        await row.locator(".cp").fill(points)
    await page.fill("#f-sme", "25")
    await page.click("#save-draft")
    errors = await page.inner_text("#form-errors")
    assert "请填写项目名称" in errors and "合计须为 100" in errors and "10%–20%" in errors
    assert "须有且只有一项价格分，现有 0 项" in errors
    assert await tenders.list_all(server.app[TENDERS]) == []  # nothing was sent

    await page.fill("#f-title", "表单测试项目")
    await page.locator("#criteria tbody tr").last.locator(".cp").fill("40")
    await page.locator("#criteria tbody tr").first.locator(".ck").select_option("price")
    assert "本项目价格权重 60%" in await page.inner_text("#price-formula")
    await page.fill("#f-sme", "10")
    await page.click("#save-draft")
    await page.wait_for_url(lambda url: "/tenders/T-" in url)
    [saved] = await tenders.list_all(server.app[TENDERS])
    spec = saved.spec.to_json()
    assert [(c["name"], c["points"], c["kind"]) for c in spec["criteria"]] == [("价格", 60, "price"), ("商务", 40, "subjective")]
    assert spec["sme_deduction"] == "10" and spec["category"] == "goods"
