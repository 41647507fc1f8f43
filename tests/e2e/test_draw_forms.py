"""The expert draw and the invitation answered in the browser, with forms only (no JSON typed):
the agency's draw form shows every mistake at once, then requests the draw the beacon completes;
a drawn expert declines with a ground, a reason and the evidence, and a replacement is drawn."""

from __future__ import annotations

from evaluation.accounts.account import Role
from evaluation.experts import pool as experts
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.signin import sign_in
from tests.evaluation.experts_fixtures import committee_pool, wait_drawn
from tests.evaluation.tender_fixtures import spec
from tests.web.signin import make_account
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.keys import AUDIT_LOG

STEP_MS = 20_000



async def test_draw_requested_and_declined_with_forms(make_app_server: MakeAppServer, new_page: NewPage) -> None:
    server = await make_app_server()
    app, base = server.app, server.url
    agency = await make_account(app, Role.agency, "agency")
    members = [await make_account(app, Role.expert, f"expert{i}") for i in range(6)]
    ctx: tenders.TenderContext = app[TENDERS]
    t = await tenders.create(ctx, agency.actor, "采购中心", spec(600, title="抽取表单项目"))
    t = await tenders.publish(ctx, agency.actor, t.id)
    async with ctx.engine.begin() as conn:  # the opening, without waiting for its round
        for old, new in ((TenderState.PUBLISHED, TenderState.OPENING), (TenderState.OPENING, TenderState.OPENED)):
            await tenders.set_state(conn, t.id, old, new)
    report = await experts.import_csv(ctx.engine, ctx.audit, committee_pool([m.username for m in members[:5]], size=6), agency.actor)
    assert report.rejected == []

    page = await new_page()
    await sign_in(page, base, "agency", f"/tenders/{t.id}/experts")
    await page.click("#add-site")
    await page.fill("#sites tbody tr .site", "Bad Site")
    await page.click("#request-draw")
    errors = await page.inner_text("#draw-errors")
    assert "统一社会信用代码" in errors and "Bad Site" in errors  # all mistakes at once, in words
    await page.click("#sites tbody tr .remove")
    await page.fill("input[name=purchaser]", "913301001234567890")
    eligible = page.locator("#draw-eligible", has_text="按当前条件可抽取的专家：6 人（需 5 人）")
    await eligible.wait_for(timeout=STEP_MS)  # the count for what the form holds, before submitting
    await page.fill("input[name=size]", "7")
    await page.locator('#draw-eligible[data-enough="false"]', has_text="（需 7 人）").wait_for(timeout=STEP_MS)
    await page.fill("input[name=size]", "5")
    await eligible.wait_for(timeout=STEP_MS)
    await page.click("#request-draw")
    await page.wait_for_selector('#draw-state[data-state="requested"], #draw-state[data-state="drawn"]', timeout=STEP_MS)
    app[DRAW_JOB].kick()
    await wait_drawn(app[DRAW_JOB], t.id)
    committee = await experts.committee_of(ctx.engine, t.id)
    seated = [m for m in members if any(c.account_id == m.id for c in committee)]
    assert seated

    expert = await new_page()
    await sign_in(expert, base, seated[0].username, "/experts/me")
    assert "已邀请" in await expert.inner_text(f'tr[data-tender="{t.id}"] .status')
    await expert.click(f'tr[data-tender="{t.id}"] details.decline summary')
    form = expert.locator(f'tr[data-tender="{t.id}"] .decline-form')
    await form.locator("button[type=submit]").click()
    assert "请填写具体原因" in await form.locator(".tp-message").inner_text()
    await form.locator("select[name=ground]").select_option("unavailable")
    await form.locator("input[name=reason]").fill("出差在外")
    await form.locator("input[name=evidence]").fill("差旅审批单 2026-118")
    await form.locator("button[type=submit]").click()
    await expert.wait_for_selector(f'tr[data-tender="{t.id}"] .status:has-text("已拒绝")', timeout=STEP_MS)
    kinds = [e.kind for e in await app[AUDIT_LOG].entries(0, app[AUDIT_LOG].size)]
    assert "experts.declined" in kinds and ("experts.replaced" in kinds or "experts.exhausted" in kinds)
    declined = next(e for e in await app[AUDIT_LOG].entries(0, app[AUDIT_LOG].size) if e.kind == "experts.declined")
    assert declined.payload.get("evidence") == "差旅审批单 2026-118"
