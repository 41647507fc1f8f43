"""The expert pool kept in the browser (专家库): an administrator imports a CSV with Chinese headers
through the page and reads the report row by row, then adds an expert with the form (every
mistake shown at once), edits it and pauses it — typing and clicking only."""

from __future__ import annotations

from pathlib import Path

from evaluation.accounts.account import Role
from tests.e2e.conftest import MakeAppServer, NewPage
from tests.e2e.signin import sign_in
from tests.web.signin import make_account

STEP_MS = 20_000
CSV = (
    "\ufeff姓名,身份证号,平台账号,地区代码,场地,专业,状态\n"
    "王五,11010519491231002X,wang.wu,330102,主场;副场,A01,在库\n"
    "赵六,,,3301,主场,A01,在库\n"
    "=cmd,,,330102,主场,A01,在库\n"
)



async def test_admin_imports_a_csv_and_keeps_the_pool_in_pages(make_app_server: MakeAppServer, new_page: NewPage, tmp_path: Path) -> None:
    server = await make_app_server()
    app, base = server.app, server.url
    await make_account(app, Role.admin, "admin")
    expert = await make_account(app, Role.expert, "wang.wu")
    path = tmp_path / "专家.csv"
    path.write_bytes(CSV.encode("utf-8"))

    page = await new_page()
    await sign_in(page, base, "admin", "/experts")
    await page.set_input_files("#csv-file", str(path))
    await page.click("#csv-import")
    await page.wait_for_selector("#import-report:not([hidden])", timeout=STEP_MS)
    assert await page.inner_text("#import-summary") == "新增 1 人，更新 0 人，拒绝 2 行"
    rows = await page.eval_on_selector_all("#import-rows tbody tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))")
    assert rows == [
        ["2", "王五", "新增", ""],
        ["3", "赵六", "拒绝", "地区代码 3301 应为 6、9 或 12 位数字（GB/T 2260，如 330102）"],
        ["4", "=cmd", "拒绝", "姓名 以 '=' 开头，疑似表格公式，不予导入"],
    ]

    # The pool table follows the import without a reload, its buttons bound again.
    row = page.locator("#pool tbody tr", has_text="王五")
    await row.wait_for(timeout=STEP_MS)
    assert await page.is_visible("#import-report")
    cells = await row.locator("td").all_inner_texts()
    assert cells[:7] == ["王五", "1101**********002X", "wang.wu", "330102", "A01", "主场、副场", "在库"]
    assert expert.id not in await page.content()
    await row.get_by_role("button", name="暂停").click()
    await row.get_by_role("button", name="恢复").wait_for(timeout=STEP_MS)
    await row.get_by_role("button", name="恢复").click()
    await row.get_by_role("button", name="暂停").wait_for(timeout=STEP_MS)

    await page.click("#add-expert")
    await page.wait_for_url(f"{base}/experts/new")
    await page.fill("#f-id_number", "123")
    await page.fill("#f-region", "33")
    await page.click("#save-expert")
    await page.wait_for_selector("#form-errors:not([hidden])", timeout=STEP_MS)
    errors = await page.locator("#form-errors li").all_inner_texts()
    assert errors == ["缺少姓名", "身份证号应为 18 位且校验位正确",
                      "地区代码 33 应为 6、9 或 12 位数字（GB/T 2260，如 330102）", "缺少专业"]
    assert await page.inner_text('.field-error[data-for="region"]') == "地区代码 33 应为 6、9 或 12 位数字（GB/T 2260，如 330102）"
    await page.fill("#f-name", "钱七")
    await page.fill("#f-id_number", "")
    await page.fill("#f-region", "510104")
    await page.fill("#f-specialties", "B02")
    await page.fill("#f-sites", "副场")
    await page.click("#save-expert")
    await page.wait_for_url(f"{base}/experts", timeout=STEP_MS)

    await page.locator("#pool tbody tr", has_text="钱七").get_by_role("link", name="编辑").click()
    await page.wait_for_url("**/edit")
    await page.fill("#f-specialties", "B02;C03")
    await page.click("#save-expert")
    await page.wait_for_url(f"{base}/experts", timeout=STEP_MS)
    row = page.locator("#pool tbody tr", has_text="钱七")
    assert (await row.locator("td").all_inner_texts())[4] == "B02、C03"
    await row.get_by_role("button", name="暂停").click()
    await page.locator("#pool tbody tr", has_text="钱七").get_by_role("button", name="恢复").wait_for(timeout=STEP_MS)
    assert await page.locator("#pool tbody tr", has_text="钱七").locator("td.status").inner_text() == "暂停"
