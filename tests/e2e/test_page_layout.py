"""What a person sees, in headless Chromium: every page a role reaches fits a 390 px phone and a
1366 px screen without sideways scrolling, shows one language at a time (the switch works),
shows no escapes or internal codes, and reads times on the installation's clock whatever the
browser's own time zone. Screenshots of each page are kept under the test's tmp directory."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import MakeAppServer
from evaluation.tenders import tender as tenders
from web.api.tenders import TENDERS
from web.demo.data import DEMO_PASSWORD, ensure_accounts, seed_tender
from web.formatting import local_time
from web.keys import SETTINGS

WIDTHS = (390, 1366)
PAGES = {
    "anonymous": ["/login"],
    "agency": ["/", "/tenders", "/tenders/new", "/tenders/{d}/edit", "/tenders/{t}", "/tenders/{t}/hall",
               "/tenders/{t}/experts", "/experts", "/experts/new", "/account", "/notifications", "/tenders/no-such-tender"],
    "bidder1": ["/tenders", "/tenders/{t}", "/tenders/{t}/bid", "/tenders/{t}/hall", "/notifications", "/audit"],
    "expert1": ["/experts/me"],
    "supervisor": ["/audit", "/audit/tenders/{t}", "/tenders/{t}"],
    "admin": ["/admin/accounts"],
}
# Pages that answer with an error page, in the site's look (they must fit and read as well).
STATUS = {("agency", "/tenders/no-such-tender"): 404, ("bidder1", "/audit"): 403}
# The body's text as a reader sees it; <code> and <pre> hold data shown verbatim (hashes, payloads).
VISIBLE_TEXT = """(drop) => { const b = document.body.cloneNode(true);
  b.querySelectorAll(drop).forEach((e) => e.remove()); return b.innerText; }"""
SHOWN_VERBATIM = "code, pre, script"
CJK = re.compile(r"[\u3400-\u9fff]")
ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")


async def sign_in(page: Any, base: str, username: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")


async def test_pages_fit_phones_and_screens_in_both_languages(
    make_app_server: MakeAppServer, browser: Any, tmp_path: Path
) -> None:
    server = await make_app_server()
    accounts = await ensure_accounts(server.app)
    tender = await seed_tender(server.app[TENDERS], accounts, opening_in=3600)
    agency = accounts["agency"]
    draft = await tenders.create(server.app[TENDERS], agency.actor, agency.organization, {
        "title": "草稿项目", "description": "尚未发布", "method": "open", "budget_fen": 10_000_000,
        "lots": [{"name": "打印机", "budget_fen": 10_000_000}], "opening_time": int(time.time() + 86400)})
    user_text = {a.display_name for a in accounts.values()} | {a.organization for a in accounts.values()}
    user_text |= {tender.spec.title, tender.spec.description, *(lot.name for lot in tender.spec.lots)}
    user_text |= {draft.spec.title, draft.spec.description, "打印机"}
    problems: list[str] = []
    for username, paths in PAGES.items():
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 800}, timezone_id="America/New_York")
            page = await context.new_page()
            if username != "anonymous":
                await sign_in(page, server.url, username)
            for lang in ("zh", "en"):
                await context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
                for path in paths:
                    url = server.url + path.format(t=tender.id, d=draft.id)
                    response = await page.goto(url)
                    await page.wait_for_load_state("networkidle")
                    where = f"{username} {lang} {width}px {path}"
                    if response is None or response.status != STATUS.get((username, path), 200):
                        problems.append(f"{where}: status {response and response.status}")
                        continue
                    name = re.sub(r"[^\w]+", "_", f"{username}-{lang}-{width}-{path}")
                    await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
                    scroll = await page.evaluate("document.documentElement.scrollWidth")
                    if scroll > width:
                        problems.append(f"{where}: {scroll} px wide")
                    text = await page.evaluate(VISIBLE_TEXT, SHOWN_VERBATIM)
                    if ESCAPE.search(text):
                        problems.append(f"{where}: escaped text {ESCAPE.search(text).group(0)}")
                    if lang == "en":
                        leftover = await page.evaluate(VISIBLE_TEXT, SHOWN_VERBATIM)
                        for known in sorted(user_text, key=len, reverse=True):
                            leftover = leftover.replace(known, "")
                        leftover = leftover.replace("中文", "")  # the switch names Chinese in Chinese
                        chinese = [line for line in leftover.splitlines() if CJK.search(line)]
                        if chinese:
                            problems.append(f"{where}: Chinese left on the English page: {chinese[:3]}")
            await context.close()
    assert problems == [], "\n".join(problems)


async def test_times_read_on_the_installations_clock(make_app_server: MakeAppServer, browser: Any) -> None:
    """A browser in New York sees the opening on the installation's clock (Asia/Shanghai by
    default), named as such, and a time typed into a form means that clock too."""
    server = await make_app_server()
    accounts = await ensure_accounts(server.app)
    tender = await seed_tender(server.app[TENDERS], accounts, opening_in=3600)
    context = await browser.new_context(timezone_id="America/New_York")
    page = await context.new_page()
    await sign_in(page, server.url, "agency")
    await page.goto(f"{server.url}/tenders/{tender.id}")
    shown = await page.inner_text("time.tp-local")
    zone = server.app[SETTINGS].time_zone
    assert shown.startswith(local_time(tender.spec.opening_time, zone)) and "北京时间" in shown
    unix = int(time.time()) + 7200
    assert await page.evaluate("u => pb.localTime(u)", unix) == local_time(unix, zone)
    assert await page.evaluate("u => pb.fromLocalInput(pb.toLocalInput(u))", unix) == unix
    await context.close()
