"""A whole tender as its users live it, in headless Chromium, by clicking and typing only.

From the start page (the sign-in page) on, every step is a click or a keystroke in the pages —
no API call, no typed URL, no data put in place by the test beyond the accounts themselves:

- the administrator (管理员) imports the expert pool from a CSV keyed by usernames;
- the agency (采购人/代理机构) fills in a two-lot tender with its scoring criteria and publishes it;
- three bidders (供应商) each price both lots, attach a PDF and seal their bid in the browser;
- the record opens by itself at the round; the agency requests the expert draw on its form;
- five experts (评审专家) accept their invitations; the agency starts the evaluation of lot 1
  from the tender's list of lots; the experts check in (answering the avoidance question per
  bidder), open a bid's PDF, elect a leader, score and sign — one of them from a second browser
  after losing its key; the leader tallies; all sign the report; the agency publishes lot 1's
  result while the tender stays 评标中;
- the agency starts lot 2, the same committee evaluates it in its own session (the experts'
  workbench links to each lot) to a signed report; its result published, the tender is awarded
  and a bidder reads both lots' results;
- the supervisor (财政监管) opens the tender's replay.

Each step leaves a screenshot, numbered in order, in test-artifacts/journey/ at the repository
root (or in $PINGBIAO_E2E_SCREENSHOTS): the pictures a person would see, kept as the test's
artifacts.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role, create_account
from tests.e2e import signin
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.web.signin import PASSWORD
from web.keys import AUDIT_LOG

ROOT = Path(__file__).resolve().parents[2]
STEP_MS = 30_000
OPENING_MS = 90_000
LEAD_SECONDS = 40  # from publishing to the opening: three bidders sign in and seal two lots each
EXPERTS = 5
COMPANIES = ("华东办公设备有限公司", "北辰信息技术股份有限公司", "南山科技有限公司")
LOTS = (("台式计算机", "1,500,000.00"), ("激光打印机", "80,000.00"))
PRICES = ((("1,380,000.50", "76,000"), ("1,420,000", "79,000.00"), ("1,450,000.00", "71,500.5")))
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")


class Shots:
    """Numbered full-page screenshots: ``07-bidder1-receipt.png``."""

    def __init__(self) -> None:
        self.folder = Path(os.environ.get("PINGBIAO_E2E_SCREENSHOTS") or ROOT / "test-artifacts" / "journey")
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.n = 0

    async def __call__(self, page: Any, role: str, step: str) -> None:
        self.n += 1
        await page.screenshot(path=str(self.folder / f"{self.n:02d}-{role}-{step}.png"), full_page=True)

    async def narrow(self, page: Any, role: str, step: str) -> None:
        """The page on a phone (390 px) and a laptop (1366 px): each shot, and nothing wider than the screen."""
        for width in (390, 1366):
            await page.set_viewport_size({"width": width, "height": 900})
            await self(page, role, f"{step}-{width}px")
            assert await page.evaluate("document.documentElement.scrollWidth") <= width, (step, width)


async def sign_in(page: Any, base: str, username: str) -> None:
    """The start page: sign in, land on the workbench (工作台)."""
    await signin.sign_in(page, base, username)
    await page.wait_for_selector("h1:has-text('工作台')")


async def click_to(page: Any, selector: str, url: str | re.Pattern[str]) -> None:
    await page.click(selector)
    await page.wait_for_url(url)


# -- the administrator ---------------------------------------------------------------------------


def id_number(body: str) -> str:
    """A resident ID number (身份证号) with its check character (GB 11643, ISO 7064 MOD 11-2)."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


async def import_pool(page: Any, base: str, shot: Shots, experts: list[str]) -> None:
    """The pool as an officer keeps it: names, ID numbers and platform usernames, never an id."""
    await sign_in(page, base, "admin")
    await click_to(page, "nav a:has-text('专家库')", f"{base}/experts")
    rows = ["姓名,身份证号,平台账号,地区代码,场地,专业"] + [
        f"专家{i},{id_number(f'33010219750{i + 1}0112{i}')},{username},330102,main,A01" for i, username in enumerate(experts)
    ]
    await page.set_input_files("#csv-file", files=[{"name": "专家库.csv", "mimeType": "text/csv",
                                                   "buffer": ("\n".join(rows) + "\n").encode()}])
    await page.click("#csv-import")
    await page.wait_for_selector("#import-report:not([hidden])", timeout=STEP_MS)
    report = await page.inner_text("#import-rows")
    assert await page.locator("#import-rows tbody tr").count() == len(experts), report
    assert await page.locator("#import-rows tbody tr[data-result=rejected]").count() == 0, report
    await shot(page, "admin", "pool-imported")


# -- the agency ----------------------------------------------------------------------------------


async def publish_tender(page: Any, base: str, shot: Shots) -> tuple[str, int]:
    await sign_in(page, base, "agency")
    await click_to(page, "a:has-text('新建项目')", f"{base}/tenders/new")
    await page.fill("#f-title", "市机关办公设备采购项目")
    await page.fill("#f-description", "台式计算机与激光打印机，两个分包。")
    await page.fill("#f-budget", "1,580,000.00")
    for name, budget in LOTS:
        await page.click("#add-lot")
        await page.fill("#lots tbody tr:last-child .n", name)
        await page.fill("#lots tbody tr:last-child .b", budget)
    for name, kind, points, allowed, description in (
            ("价格", "price", "30", "", "满足招标文件要求且投标价格最低的为评标基准价"),
            ("技术方案", "subjective", "50", "", "技术方案完整、先进、可行"),
            ("售后服务", "objective", "20", "0, 10, 20", "响应时间、备件与培训")):
        await page.click("#add-criterion")
        row = "#criteria tbody tr:last-child"
        await page.fill(f"{row} .cn", name)
        await page.select_option(f"{row} .ck", kind)
        await page.fill(f"{row} .cp", points)
        if allowed:
            await page.fill(f"{row} .ca", allowed)
        await page.fill(f"{row} .cd", description)
    await page.fill("#f-sme", "10")
    await page.fill("#f-objection", "0")
    opening = int(time.time()) + LEAD_SECONDS
    await page.fill("#f-opening", await page.evaluate("u => pb.toLocalInput(u)", opening))
    await page.dispatch_event("#f-opening", "input")
    await shot(page, "agency", "tender-form")
    await page.click("#publish")
    await page.wait_for_url(re.compile(r"/tenders/T-[0-9a-f]+$"))
    assert await page.get_attribute("#tender-state", "data-state") == "published"
    await shot(page, "agency", "tender-published")
    return page.url.rsplit("/", 1)[1], opening


# -- a bidder ------------------------------------------------------------------------------------


async def bid(page: Any, base: str, shot: Shots, n: int, tender_id: str) -> None:
    await sign_in(page, base, f"bidder{n}")
    await click_to(page, f'#open-tenders tr[data-tender="{tender_id}"] a.button', f"{base}/tenders/{tender_id}/bid")
    for lot, price in enumerate(PRICES[n], start=1):
        await page.check(f"[name=lot-{lot}]")
        await page.fill(f"[name=lot-price-{lot}]", price)
    await page.fill("[name=delivery_days]", str(20 + n))
    await page.set_input_files("#documents", files=[{"name": "投标文件.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await page.click("#submit-bid")
    await page.wait_for_selector("#bid-form[data-phase=done]", timeout=STEP_MS)
    await page.wait_for_selector("#r-verified[data-verified=true]", timeout=STEP_MS)
    await shot(page, f"bidder{n}", "receipt")


# -- the evaluation -----------------------------------------------------------------------------


async def next_step(page: Any, base: str, tender_id: str, action: str) -> None:
    """From the agency's workbench, the tender's next step (待办)."""
    await click_to(page, "nav a:has-text('工作台')", f"{base}/")
    await page.click(f'#todo tr[data-tender="{tender_id}"] a:has-text("{action}")')


async def state_is(page: Any, state: str) -> None:
    await page.wait_for_selector(f'#eval-state[data-state="{state}"]', timeout=STEP_MS)


async def accept_invitation(page: Any, base: str, shot: Shots, n: int, tender_id: str) -> None:
    await sign_in(page, base, f"expert{n}")
    await click_to(page, "#invitations a:has-text('接受或拒绝')", f"{base}/experts/me")
    await page.click(f'#invitations tr[data-tender="{tender_id}"] button[data-act=accept]')
    await page.wait_for_selector(f'#invitations tr[data-tender="{tender_id}"] .status:has-text("已接受")', timeout=STEP_MS)
    if n == 0:
        await shot(page, "expert0", "invitation-accepted")


async def check_in(page: Any, base: str, shot: Shots, n: int, tender_id: str, lot: int = 1) -> None:
    await click_to(page, "nav a:has-text('工作台')", f"{base}/")
    await click_to(page, f'#sessions a.lot-session[data-lot="{lot}"]', f"{base}/evaluation/{tender_id}.{lot}")
    await state_is(page, "checkin")
    assert await page.inner_text("#eval-lot") == f"第{lot}包 {LOTS[lot - 1][0]}"
    committee = await page.inner_text("#members")
    assert "主场" in committee and "main" not in committee, committee  # the site's label, not its code
    for box in ("#ck-identity", "#ck-commitment"):
        await page.check(box)
    rows = page.locator("#avoidance-rows tr")
    assert await rows.count() == len(COMPANIES)
    for r in range(len(COMPANIES)):
        await rows.nth(r).locator('input[value="no"]').check()
    if n == 0:
        await shot.narrow(page, "expert0", "check-in" if lot == 1 else f"check-in-lot{lot}")
    await page.click("#checkin")
    await page.wait_for_selector("#checkin-box", state="hidden", timeout=STEP_MS)


async def score(page: Any, shot: Shots, n: int, inconsistent: bool = True) -> None:
    """One expert's sheet: a row per criterion with its title, points and description beside the
    boxes; the objective item a choice of its values; the price score computed, read-only. The last
    expert gives the first bid 10 on the objective item, where the others give 20 (a finding),
    when `inconsistent`."""
    await state_is(page, "scoring")
    assert await page.inner_text("#eval-state") == "独立评分"
    assert await page.inner_text("#crumb-tender") == "市机关办公设备采购项目"
    titles = await page.locator("#sheet td.criterion strong").all_inner_texts()
    assert titles == ["价格", "技术方案", "售后服务"], titles
    wording = await page.inner_text("#sheet tbody")
    assert "技术方案完整、先进、可行" in wording and "50 分" in wording and "响应时间、备件与培训" in wording, wording
    assert not re.search(r"\bc[0-9]\b", wording), wording
    prices = await page.locator("#sheet output.price-score").all_inner_texts()
    assert prices and all(re.fullmatch(r"[0-9]+(\.[0-9]+)?", p) for p in prices), prices  # e.g. 30 for the lowest
    assert "30.00" in prices and await page.locator("#sheet tr[data-code=c1] .score").count() == 0
    choices = page.locator("#sheet select.score")
    assert await choices.count() == len(prices)  # 售后服务, one choice per bid
    values = await choices.first.locator("option").evaluate_all("os => os.map((o) => o.value)")
    assert values == ["", "0", "10", "20"], values
    boxes = page.locator("#sheet .score")
    first_select = True
    for i in range(await boxes.count()):  # 技术方案 (subjective, 50) then 售后服务 (objective: 0, 10 or 20)
        box = boxes.nth(i)
        if await box.evaluate("e => e.tagName") == "SELECT":
            await box.select_option("10" if inconsistent and n == EXPERTS - 1 and first_select else "20")
            first_select = False
        else:
            await box.fill(str(38 + n))
    if n == 0 and inconsistent:
        await shot.narrow(page, "expert0", "score-sheet")
    await page.click("#submit-sheets")
    await page.wait_for_selector("#sheet-box", state="hidden", timeout=STEP_MS)


async def settle_inconsistency(page: Any, shot: Shots) -> None:
    """The review names the inconsistent objective item, its bidder and the experts in words; the
    expert who gave 10 corrects it with a signed change, and the finding goes."""
    await state_is(page, "review")
    assert await page.inner_text("#eval-state") == "复核与修改"
    await page.wait_for_selector("#findings li", timeout=STEP_MS)
    finding = await page.inner_text("#findings")
    assert "“售后服务”各专家给分不一致" in finding and "专家0 20" in finding and " 10" in finding, finding
    assert not re.search(r"acct_|differs|\bc[0-9]\b|B-[0-9a-f]", finding), finding
    header = await page.locator("#all-scores tr").first.inner_text()
    assert "技术方案" in header and "售后服务" in header and not re.search(r"\bc[0-9]\b", header), header
    await shot.narrow(page, f"expert{EXPERTS - 1}", "review-finding")
    bid = await page.locator("#sheet select.score").first.get_attribute("data-bid")
    await page.select_option("#change-bid", bid)
    await page.select_option("#change-criterion", label="售后服务")
    await page.fill("#change-new", "20")
    await page.select_option("#change-reason", "objective_inconsistent")
    await page.fill("#change-explanation", "核对售后服务承诺函后更正")
    await page.click("#change-submit")
    await page.wait_for_selector("#changes li", timeout=STEP_MS)
    change = await page.inner_text("#changes")
    assert "售后服务 → 20（客观分不一致）" in change, change
    await page.wait_for_function("() => !document.querySelector('#findings li')", timeout=STEP_MS)


# -- the journey -----------------------------------------------------------------------------------


async def test_a_tender_from_publication_to_result_by_clicking_only(make_app_server: MakeAppServer, new_page: NewPage) -> None:
    server = await make_app_server()
    base, app = server.url, server.app
    log = app[AUDIT_LOG]
    for username, role, name, org in [("admin", Role.admin, "平台管理员", "平台"), ("agency", Role.agency, "王采购", "市政府采购中心"),
                                      ("supervisor", Role.supervisor, "李监管", "市财政局"),
                                      *((f"bidder{i}", Role.bidder, f"{c}投标代表", c) for i, c in enumerate(COMPANIES)),
                                      *((f"expert{i}", Role.expert, f"专家{i}", "评审专家库") for i in range(EXPERTS))]:
        await create_account(log, username=username, password=PASSWORD, display_name=name, role=role, organization=org)
    shot = Shots()

    agency = await new_page()
    tender_id, opening = await publish_tender(agency, base, shot)
    bidders = [await new_page() for _ in COMPANIES]
    await asyncio.gather(*(bid(p, base, shot, n, tender_id) for n, p in enumerate(bidders)))
    assert time.time() < opening, "the bids must be in before the opening (raise LEAD_SECONDS)"
    admin = await new_page()  # while the bids wait for their round
    await import_pool(admin, base, shot, [f"expert{i}" for i in range(EXPERTS)])

    # The opening: the record opens by itself at the round; a bidder watches it in the hall.
    watcher = bidders[0]
    await click_to(watcher, "nav a:has-text('工作台')", f"{base}/")
    await click_to(watcher, f'#my-bids tr[data-tender="{tender_id}"] a:has-text("开标大厅")', f"{base}/tenders/{tender_id}/hall")
    await watcher.wait_for_function("() => document.querySelectorAll('#record-rows tr[data-lot]').length === 6",
                                    timeout=OPENING_MS)
    await shot(watcher, "bidder0", "hall-record")

    # The draw: the agency's next step, on its form; the beacon completes it.
    await next_step(agency, base, tender_id, "申请抽取专家")
    await agency.wait_for_url(f"{base}/tenders/{tender_id}/experts")
    await agency.fill("input[name=purchaser]", "913301001234567890")
    await shot(agency, "agency", "draw-form")
    await agency.click("#request-draw")
    await agency.wait_for_selector('#draw-state[data-state="drawn"]', timeout=STEP_MS)  # the page follows the draw
    await shot.narrow(agency, "agency", "drawn")

    experts = [await new_page() for _ in range(EXPERTS)]
    await asyncio.gather(*(accept_invitation(p, base, shot, n, tender_id) for n, p in enumerate(experts)))

    # The evaluation of lot 1: started by its button in the tender's list of lots, with the tender's criteria.
    await next_step(agency, base, tender_id, "开始评标")
    await agency.wait_for_url(f"{base}/tenders/{tender_id}#evaluations")
    assert await agency.locator("#evaluations a.start-lot").count() == 2
    await click_to(agency, '#evaluations tr[data-lot="1"] a.start-lot', f"{base}/evaluation/{tender_id}.1")
    assert await agency.locator("#start-criteria tbody tr").count() == 3  # the tender's, read-only
    assert "第1包 台式计算机" in await agency.inner_text("#start-lot-fixed")
    await shot.narrow(agency, "agency", "start-evaluation")
    await agency.click("#start")
    await state_is(agency, "checkin")
    for n, page in enumerate(experts):
        await check_in(page, base, shot, n, tender_id)

    # Experts see what they judge: a bid's PDF in the page.
    reader = experts[1]
    await reader.locator("#documents a.doc-view").first.click()
    frame = reader.frame(name="doc-viewer")
    assert frame is not None
    await shot(reader, "expert1", "bid-document")

    for page in experts[:3]:
        await state_is(page, "election")
        await page.select_option("#vote-candidate", label="专家0")
        await page.click("#vote")
        await page.wait_for_selector("#vote-box", state="hidden", timeout=STEP_MS)

    # One expert lost its key: from a second browser it confirms its password and registers again.
    fresh = await new_page()
    await sign_in(fresh, base, f"expert{EXPERTS - 1}")
    await click_to(fresh, '#sessions a.lot-session[data-lot="1"]', f"{base}/evaluation/{tender_id}.1")
    await fresh.wait_for_selector("#rekey-box:not([hidden])", timeout=STEP_MS)
    await fresh.fill("#rekey-form input[name=password]", PASSWORD)
    await shot(fresh, f"expert{EXPERTS - 1}", "new-browser-rekey")
    await fresh.click("#rekey")
    await fresh.wait_for_selector("#rekey-box", state="hidden", timeout=STEP_MS)
    experts[EXPERTS - 1] = fresh

    for n, page in enumerate(experts):
        await score(page, shot, n)
    await settle_inconsistency(experts[EXPERTS - 1], shot)

    leader = experts[0]
    await leader.wait_for_selector("#tally:not([hidden])", timeout=STEP_MS)
    await shot(leader, "expert0", "leader-before-tally")
    await leader.click("#tally")
    for n, page in enumerate(experts):
        await state_is(page, "signing")
        await page.click("#sign-report")
        await page.wait_for_selector("#sign-report", state="hidden", timeout=STEP_MS)
    await state_is(agency, "done")
    await shot(agency, "agency", "evaluation-done")

    # Lot 1's result, published from the agency's next step; the tender waits for lot 2.
    agency.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await next_step(agency, base, tender_id, "公告结果")
    await agency.click("#publish-result-1")
    await agency.wait_for_selector("#result #result-winner", timeout=STEP_MS)
    assert await agency.get_attribute("#tender-state", "data-state") == "evaluating"
    assert await agency.get_attribute('#evaluations tr[data-lot="1"]', "data-state") == "done"
    await shot(agency, "agency", "lot1-result-published")

    # Lot 2: the agency starts it; the same committee evaluates it in its own session.
    await next_step(agency, base, tender_id, "开始评标")
    await click_to(agency, '#evaluations tr[data-lot="2"] a.start-lot', f"{base}/evaluation/{tender_id}.2")
    assert "第2包 激光打印机" in await agency.inner_text("#start-lot-fixed")
    await agency.click("#start")
    await state_is(agency, "checkin")
    for n, page in enumerate(experts):
        await check_in(page, base, shot, n, tender_id, lot=2)
    for page in experts[:3]:
        await state_is(page, "election")
        await page.select_option("#vote-candidate", label="专家1")
        await page.click("#vote")
        await page.wait_for_selector("#vote-box", state="hidden", timeout=STEP_MS)
    for n, page in enumerate(experts):
        await score(page, shot, n, inconsistent=False)
    leader = experts[1]
    await state_is(leader, "review")
    await leader.wait_for_selector("#tally:not([hidden])", timeout=STEP_MS)
    await leader.click("#tally")
    for page in experts:
        await state_is(page, "signing")
        await page.click("#sign-report")
        await page.wait_for_selector("#sign-report", state="hidden", timeout=STEP_MS)
    await state_is(agency, "done")
    await agency.click("#report-link")
    await agency.wait_for_url(f"{base}/evaluation/{tender_id}.2/report")
    assert "第2包 激光打印机" in await agency.inner_text("main")
    await shot(agency, "agency", "lot2-report")

    agency.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await next_step(agency, base, tender_id, "公告结果")
    await agency.click("#publish-result-2")
    await agency.wait_for_selector('#result dl.result[data-lot="2"]', timeout=STEP_MS)
    assert await agency.get_attribute("#tender-state", "data-state") == "awarded"
    await shot(agency, "agency", "result-published")

    # A bidder reads both lots' results on the tender's page.
    reader = bidders[1]
    await click_to(reader, "nav a:has-text('工作台')", f"{base}/")
    await click_to(reader, f'#my-bids tr[data-tender="{tender_id}"] a[href="/tenders/{tender_id}"]', f"{base}/tenders/{tender_id}")
    assert await reader.get_attribute("#tender-state", "data-state") == "awarded"
    assert await reader.locator("#result .result-winner").count() == 2
    assert await reader.locator("#result .result-lot").all_inner_texts() == [f"第1包 {LOTS[0][0]}", f"第2包 {LOTS[1][0]}"]
    await shot(reader, "bidder1", "result")

    supervisor = await new_page()
    await sign_in(supervisor, base, "supervisor")
    await click_to(supervisor, f'tr[data-tender="{tender_id}"] a:has-text("监管回放")', f"{base}/audit/tenders/{tender_id}")
    await shot(supervisor, "supervisor", "replay")
    kinds = {e.kind for e in await log.entries(0, log.size)}
    assert {"tender.published", "bid.submitted", "opening.record", "experts.drawn", "evaluation.checked_in",
            "evaluation.key_replaced", "evaluation.report_final", "tender.result_published"} <= kinds, kinds
