"""The supervisor's replay (监管回放) in headless Chromium, as a supervisor reads it: the audit
home, a tender's timeline and an entry's receipt fit a 390 px phone and a 1366 px screen, show
names and Chinese labels (no acct_/B- ids, no \\u escapes, no JSON dumps), and the stage filter
narrows the timeline. Screenshots are kept under the test's tmp directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import MakeAppServer
from web.api.tenders import TENDERS
from web.demo.data import DEMO_PASSWORD, ensure_accounts, seed_tender

VISIBLE_TEXT = """() => { const b = document.body.cloneNode(true);
  b.querySelectorAll("code, pre, script, option").forEach((e) => e.remove()); return b.innerText; }"""
ID = re.compile(r"\bacct_[0-9a-f]+|\bB-[0-9a-f]{6,}")
ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")
CODE = re.compile(r"\b(goods|services|works|purchaser_rep|remote|cannot apply)\b")  # codes shown raw


async def test_replay_fits_and_reads_like_a_record(make_app_server: MakeAppServer, browser: Any, tmp_path: Path) -> None:
    server = await make_app_server()
    accounts = await ensure_accounts(server.app)
    tender = await seed_tender(server.app[TENDERS], accounts, opening_in=3600)
    entries = await server.app[TENDERS].audit.entries_for_tender(tender.id)
    paths = ["/audit", f"/audit/tenders/{tender.id}", f"/audit/tenders/{tender.id}?stage=bids",
             f"/audit/receipt/{entries[-1].index}"]
    problems: list[str] = []
    for width in (390, 1366):
        context = await browser.new_context(viewport={"width": width, "height": 900})
        page = await context.new_page()
        await page.goto(f"{server.url}/login")
        await page.fill("input[name=username]", "supervisor")
        await page.fill("input[name=password]", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state("networkidle")
        for path in paths:
            response = await page.goto(server.url + path)
            await page.wait_for_load_state("networkidle")
            where = f"{width}px {path}"
            assert response is not None and response.status == 200, where
            name = re.sub(r"[^\w]+", "_", f"replay-{width}-{path}")
            await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
            scroll = await page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                widest = await page.evaluate("""w => [...document.querySelectorAll("body *")]
                  .filter((e) => e.getBoundingClientRect().right > w).slice(-3)
                  .map((e) => e.tagName + "." + e.className + " " + (e.textContent || "").slice(0, 30))""", width)
                problems.append(f"{where}: {scroll} px wide: {widest}")
            text = await page.evaluate(VISIBLE_TEXT)
            for pattern in (ID, ESCAPE, CODE):
                if pattern.search(text):
                    problems.append(f"{where}: {pattern.search(text).group(0)} in the visible text")
            if path == f"/audit/tenders/{tender.id}":
                for words in ("公告", "发布招标公告", "递交投标文件", "北京时间", "货物", tender.spec.title):
                    if words not in text:
                        problems.append(f"{where}: {words!r} missing")
        # The stage filter, clicked: only 投标 entries stay.
        await page.goto(f"{server.url}/audit/tenders/{tender.id}")
        await page.click(".tp-stage-filter a:has-text('投标')")
        await page.wait_for_load_state("networkidle")
        stages = await page.eval_on_selector_all("section.tp-stage", "els => els.map((e) => e.dataset.stage)")
        assert stages == ["bids"], stages
        # On the home page the tender reads by its name, with its state label.
        await page.goto(f"{server.url}/audit")
        assert tender.spec.title in await page.inner_text(".tp-tender-list")
        await context.close()
    assert problems == [], "\n".join(problems)
