"""The expert API over real HTTP: import, the draw by the tender's agency completed by the draw
job (awaited on its event), the sealed list (agency and bidders get nothing before the session),
and an expert's own invitation."""

from __future__ import annotations

import re

import asyncio
from pathlib import Path
from typing import Any

from evaluation.experts import pool as experts
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from tests.web.tender_client import start, tender_body
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.keys import AUDIT_LOG, ENGINE

HEADER = "code,name,username,region,sites,specialties,employers,relatives,unavailable,active\n"


async def test_draw_sealed_invitation_and_roles(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    expert_account = hall.accounts["expert"].id
    csv = HEADER + "".join(f"W{n},专家{n},{'expert' if n == 0 else ''},330102,main,A01,,,,1\n" for n in range(6))
    csv += "W9,坏,,330102,main,a1,,,,1\n"
    status, body = await hall.call("agency", "POST", "/api/experts/import", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert (status, body["added"], body["updated"], body["rejected"]) == (200, 6, 0, 1)
    assert body["rows"][-1] == {"line": 8, "name": "坏", "result": "rejected", "reason": "专业代码 a1 应为大写字母开头、2–12 位大写字母或数字（如 A01）"}
    for who, method, path, want in [
        ("bidder0", "GET", "/api/experts", 403), ("bidder0", "POST", "/api/experts/import", 403),
        ("expert", "GET", "/api/experts", 403), ("supervisor", "GET", "/api/experts", 200),
    ]:
        assert (await hall.call(who, method, path, data=csv.encode()))[0] == want, (who, path)

    status, t = await hall.call("agency", "POST", "/api/tenders", json=tender_body(120))
    assert status == 201
    tid = t["id"]
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 409  # draft
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/publish"))[0] == 200
    async with hall.client.app[ENGINE].begin() as conn:
        await tenders.set_state(conn, tid, TenderState.PUBLISHED, TenderState.OPENING)
        await tenders.set_state(conn, tid, TenderState.OPENING, TenderState.OPENED)

    assert (await hall.call("bidder0", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 403
    status, preview = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw/preview", json={"size": 5, "purchaser": "91330100PURCHASER01"})
    assert (status, preview) == (200, {"eligible": 6, "seats": 5, "enough": True})
    status, preview = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw/preview",
                                      json={"size": 5, "purchaser": "91330100PURCHASER01", "specialties": {"A01": 3, "B02": 2}})
    assert status == 200 and (preview["eligible"], preview["enough"]) == (6, False) and "专业 B02 需 2 人，符合条件的 0 人" in preview["problem"], preview
    status, english = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw/preview",
                                      json={"size": 5, "purchaser": "91330100PURCHASER01", "specialties": {"A01": 3, "B02": 2}},
                                      headers={"Cookie": hall.headers["agency"]["Cookie"] + "; lang=en"})
    assert status == 200 and "B02" in english["problem"] and not re.search(r"[\u4e00-\u9fff]", english["problem"]), english
    assert (await hall.call("agency2", "POST", f"/api/tenders/{tid}/draw/preview", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 403
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/draw/preview", json={"size": 1e999}))[0] == 400
    assert (await hall.call("agency2", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"}))[0] == 403
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw", json={"size": 4, "purchaser": "91330100PURCHASER01"})
    assert (status, body["error"]) == (400, "公开招标评标委员会至少 5 人，方案为 4 人")
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw", json={"size": 5, "purchaser": "91330100PURCHASER01"})
    assert status == 201 and body["state"] == "requested" and body["committee"] is None
    await asyncio.wait_for(hall.client.app[DRAW_JOB].drawn(tid), timeout=20)

    status, agency_view = await hall.call("agency", "GET", f"/api/tenders/{tid}/draw")
    assert status == 200 and agency_view["state"] == "drawn" and agency_view["committee"] is None and agency_view["sealed"]
    assert (await hall.call("bidder0", "GET", f"/api/tenders/{tid}/draw"))[0] == 403
    assert (await hall.call("expert", "GET", f"/api/tenders/{tid}/draw"))[0] == 403
    assert (await hall.call("agency2", "GET", f"/api/tenders/{tid}/draw"))[0] == 403
    status, sup = await hall.call("supervisor", "GET", f"/api/tenders/{tid}/draw")
    seated = [m["expert_id"] for m in sup["committee"]]
    assert status == 200 and len(seated) == 5 and set(seated) <= {"W0", "W1", "W2", "W3", "W4", "W5"}
    other = next(i for i in seated if i != "W0")

    status, mine = await hall.call("expert", "GET", "/api/experts/me/invitations")
    assert status == 200
    assert "W1" not in str(mine) and "W2" not in str(mine)
    assert (await hall.call("bidder0", "GET", "/api/experts/me/invitations"))[0] == 403
    assert (await hall.call("expert", "POST", "/api/experts/me/invitations/T-none/accept"))[0] == 404
    if "W0" in seated:
        assert [(i["tender"], i["status"]) for i in mine["invitations"]] == [(tid, "invited")]
        assert (await hall.call("expert", "POST", f"/api/experts/me/invitations/{tid}/accept"))[0] == 200
        assert await experts.is_member(hall.client.app[ENGINE], tid, expert_account)
    else:
        assert mine["invitations"] == []
        assert (await hall.call("expert", "POST", f"/api/experts/me/invitations/{tid}/accept"))[0] == 404
    assert (await hall.call("supervisor", "POST", f"/api/tenders/{tid}/draw/decline", json={"expert_id": "W1"}))[0] == 403
    size = hall.client.app[TENDERS].audit.size
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/draw/decline", json={"expert_id": other, "reason": "出差", "ground": "unavailable", "evidence": "出差通知 T-9"})
    assert (status, body) == (200, {"declined": other, "replaced": 1})
    assert await hall.kinds_since(size) == ["experts.declined", "experts.replaced"]
    await experts.reveal_committee(hall.client.app[ENGINE], tid)
    status, agency_view = await hall.call("agency", "GET", f"/api/tenders/{tid}/draw")
    assert len(agency_view["committee"]) == 5 and not agency_view["sealed"]
    for who, path in [("agency", f"/tenders/{tid}/experts"), ("supervisor", "/experts"), ("expert", "/experts/me")]:
        status, html = await hall.call(who, "GET", path)
        assert status == 200 and "评标舱" in html, (who, path)


async def test_hostile_csv_gets_one_clear_error_and_changes_nothing(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    log = hall.client.app[AUDIT_LOG]
    size = log.size
    good = "姓名,地区代码,专业\n张三,330102,A01\n"
    for body, content_type, want in [
        (good.encode("gbk"), "text/csv", (400, "表格文件不是 UTF-8 编码（可能是 GBK），请在表格软件中另存为“CSV UTF-8”后再导入")),
        (b"\xed\xa0\x80,330102,A01", "text/csv", (400, "表格文件不是 UTF-8 编码（可能是 GBK），请在表格软件中另存为“CSV UTF-8”后再导入")),
        (b'{"csv": "\\ud800"}', "application/json", (400, "含有无效字符：请求内容.csv（孤立的代理字符或 NUL）")),
        (b"", "text/csv", (400, "表格文件是空的，请选择填好的文件（可下载模板）")),
        (b"x" * (9 << 20), "text/csv", (413, "表格文件超过 8 MiB，请拆分后分批导入")),
        (b"id,name,account,region,specialties\n", "text/csv", (400, "列 account 已停用，请用“平台账号”列填写专家账号的用户名")),
    ]:
        status, answer = await hall.call("agency", "POST", "/api/experts/import", data=body, headers={"Content-Type": content_type})
        assert (status, answer["error"]) == want, body[:40]
    assert log.size == size and await experts.list_experts(hall.client.app[ENGINE]) == []

    hostile = "\ufeff姓名,地区代码,专业\n张三,330102,A01\n张三,330102,A01\n\"=HYPERLINK(\"\"http://x\"\")\",330102,A01\n@SUM(1),330102,A01\n"
    status, answer = await hall.call("agency", "POST", "/api/experts/import", data=hostile.encode("utf-8"), headers={"Content-Type": "text/csv"})
    assert status == 200 and [(r["line"], r["result"]) for r in answer["rows"]] == [(2, "added"), (3, "rejected"), (4, "rejected"), (5, "rejected")]
    assert [r["reason"] for r in answer["rows"][1:3]] == ["与第 2 行完全相同（重复行）", "姓名 以 '=' 开头，疑似表格公式，不予导入"]
    assert await hall.kinds_since(size) == ["experts.imported"]

    status, text = await hall.call("agency", "GET", "/experts/template.csv")
    assert status == 200 and text.startswith("\ufeff专家编号,姓名,身份证号,平台账号,地区代码")
    assert (await hall.call("bidder0", "GET", "/experts/template.csv"))[0] == 403
    assert (await hall.call("supervisor", "POST", "/api/experts", json={"name": "x"}))[0] == 403


async def test_the_form_api_reports_every_field_and_logs_each_change(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, answer = await hall.call("agency", "POST", "/api/experts", json={"name": "", "region": "x", "specialties": "", "username": "bidder0"})
    assert status == 400 and answer["errors"] == {
        "name": "缺少姓名", "specialties": "缺少专业",
        "region": "地区代码 x 应为 6、9 或 12 位数字（GB/T 2260，如 330102）",
        "username": "平台账号不是评审专家账号",
    }
    english = {"Cookie": hall.headers["agency"]["Cookie"] + "; lang=en"}
    status, answer = await hall.call("agency", "POST", "/api/experts", json={"name": "", "region": "x", "specialties": "A01"}, headers=english)
    assert status == 400 and answer["errors"] == {"name": "Name is missing",
                                                  "region": "Region code x must be 6, 9 or 12 digits (GB/T 2260, e.g. 330102)"}
    assert (await hall.call("agency", "POST", "/api/experts", json={"name": 1e999}))[0] == 400
    size = hall.client.app[AUDIT_LOG].size
    status, added = await hall.call("agency", "POST", "/api/experts", json={"name": "王五", "region": "330102", "specialties": "A01", "username": "expert"})
    assert status == 201
    code = added["code"]
    status, _ = await hall.call("agency", "POST", f"/api/experts/{code}", json={"name": "王五", "region": "330106", "specialties": "A01", "username": "expert"})
    assert status == 200
    assert (await hall.call("agency", "POST", f"/api/experts/{code}/deactivate"))[0] == 200
    assert (await hall.call("agency", "POST", f"/api/experts/{code}/deactivate"))[1]["error"] == "这位专家已暂停"
    assert (await hall.call("agency", "POST", f"/api/experts/{code}/reactivate"))[0] == 200
    assert (await hall.call("agency", "POST", "/api/experts/NOPE/reactivate"))[0] == 404
    assert await hall.kinds_since(size) == ["experts.added", "experts.updated", "experts.deactivated", "experts.reactivated"]
    status, html = await hall.call("agency", "GET", "/experts")
    assert status == 200 and "王五" in html and "acct_" not in html and hall.accounts["expert"].id not in html
    status, html = await hall.call("agency", "GET", f"/experts/{code}/edit")
    assert status == 200 and 'value="330106"' in html
