"""The expert pool: the CSV import keyed by ID number, code and username, with a report of every
row, on SQLite and PostgreSQL; the form's add, edit, deactivate and reactivate, each logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from evaluation.accounts.account import create_account
from evaluation.audit.entry import Actor
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, InvalidRequest
from evaluation.experts import pool as experts
from evaluation.experts import pool_edit
from evaluation.experts.pool_csv import id_number_ok, mask_id_number, parse_row
from evaluation.experts.pool_import import template_csv
from tests.evaluation.experts_fixtures import HEADER, POOL
from web.i18n import localize

ADMIN = Actor("acc-admin", "admin")
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ZH = "姓名,身份证号,平台账号,地区代码,场地,专业,状态\n"
ID1, ID2 = "11010519491231002X", "110105194912310038"


def results(report: experts.ImportReport) -> list[tuple[int, str, str, str]]:
    return [(r.line, r.name, r.result, str(r.reason or "")) for r in report.rows]


async def test_import_reports_rejected_rows_and_upserts(engine: AsyncEngine, audit_log: AuditLog, tmp_path: Path) -> None:
    bad = "\n".join([
        "X1,好,,330102,main,a01,,,,1",
        "X2,好,,330102,main,A01,org|boss|2020-01-01|,,,1",
        "X3,好,,330102,main,A01,org|employee|2020-13-01|,,,1",
        "E01,重复,,330102,main,A01,,,,1",
        "X4,,,3301,main,A01,,,,1",
        "X6,好,nobody,330102,main,A01,,,,1",
        "X7,好,,330102,main,A01,,org|cousin,,1",
        "X8,好,,330102,main,A01,,,2026-05-10|2026-05-01,1",
        "X9,=cmd|' /C calc'!A0,,330102,main,A01,,,,1",
    ]) + "\n"
    path = tmp_path / "pool.csv"
    path.write_bytes((POOL + bad).encode("utf-8"))
    report = await experts.import_csv(engine, audit_log, path, ADMIN)
    assert report.accepted == 9 and report.count("added") == 9
    assert report.rejected == [
        (11, "专业代码 a01 应为大写字母开头、2–12 位大写字母或数字（如 A01）"),
        (12, "工作单位关系 boss 应为 employee（任职）、director（董事）或 controller（控制）"),
        (13, "工作单位：2020-13-01 不是日期（应为 YYYY-MM-DD）"),
        (14, "与第 2 行重复（专家编号相同）"),
        (15, "缺少姓名；地区代码 3301 应为 6、9 或 12 位数字（GB/T 2260，如 330102）"),
        (16, "平台账号 nobody 不存在"),
        (17, "亲属 org|cousin 的格式应为 单位代码|collateral/in_law/lineal/spouse"),
        (18, "不可参加日期：结束日期 2026-05-01 早于开始日期 2026-05-10"),
        (19, "姓名 以 '=' 开头，疑似表格公式，不予导入"),
    ]
    english = [row["reason"] for row in report.to_json(lambda text: localize(text, "en"))["rows"] if row["reason"]]
    assert english[3:5] == ["The row has the same Expert code as row 2",
                            "Name is missing; Region code 3301 must be 6, 9 or 12 digits (GB/T 2260, e.g. 330102)"]
    entry = await audit_log.entry(audit_log.size - 1)
    assert (entry.kind, entry.payload) == ("experts.imported", {"added": 9, "updated": 0, "rejected": 9, "rows": 18})
    again = await experts.import_csv(engine, audit_log, HEADER + "E01,张一改,,330102,main,A01;B02,,,,0\n", ADMIN)
    assert results(again) == [(2, "张一改", "updated", "")]
    pool = {e.id: e for e in await experts.list_experts(engine)}
    assert len(pool) == 9 and pool["E01"].name == "张一改" and not pool["E01"].active
    assert pool["E01"].specialties == {"A01", "B02"}
    assert pool["E04"].to_json()["employers"] == [{"org": "91330100BIDDER0000", "role": "employee", "from": "2020-01-01", "to": "2024-12-31"}]


async def test_chinese_headers_match_by_id_number_and_link_by_username(engine: AsyncEngine, audit_log: AuditLog) -> None:
    expert = await create_account(audit_log, username="wang.wu", password="p" * 12, display_name="王五", role="expert", hasher=FAST)
    await create_account(audit_log, username="agency.li", password="p" * 12, display_name="李", role="agency", hasher=FAST)
    first = "\ufeff" + ZH + f"王五,{ID1.lower()},wang.wu,330102,主场;副场,A01,在库\n赵六,{ID2},,510104,副场,B02,暂停\n"
    report = await experts.import_csv(engine, audit_log, first, ADMIN)
    assert results(report) == [(2, "王五", "added", ""), (3, "赵六", "added", "")]
    pool = {e.name: e for e in await experts.list_experts(engine)}
    assert pool["王五"].account_id == expert.id and pool["王五"].id_number == ID1 and pool["王五"].sites == {"main", "remote"}
    assert pool["赵六"].sites == {"remote"} and not pool["赵六"].active and pool["赵六"].id.startswith("ZJ")

    second = ZH + "\n".join([
        f"王五（改名）,{ID1},wang.wu,330106,主场,A01;B02,在库",  # matched by its ID number: updated
        f"赵六,{ID2},wang.wu,510104,副场,B02,在库",             # the account is 王五's
        "钱七,110105194912310037,,330102,主场,A01,在库",        # a wrong check digit
        "孙八,,agency.li,330102,主场,A01,在库",                 # not an expert's account
        f"王五again,{ID1},,330102,主场,A01,在库",               # the same ID number twice in the file
        "周九,,,330102,月球,A01,在库",
        "吴十,,,330102,主场,A01,在库,多余",
    ]) + "\n"
    report = await experts.import_csv(engine, audit_log, second, ADMIN)
    assert results(report) == [
        (2, "王五（改名）", "updated", ""),
        (3, "赵六", "rejected", "与第 2 行重复（平台账号相同）"),
        (4, "钱七", "rejected", "身份证号应为 18 位且校验位正确"),
        (5, "孙八", "rejected", "平台账号 agency.li 不是评审专家账号"),
        (6, "王五again", "rejected", "与第 2 行重复（身份证号相同）"),
        (7, "周九", "rejected", "场地应为 主场、副场 或 主场;副场"),
        (8, "", "rejected", "单元格比列多（可能有多余的逗号）"),
    ]
    pool = {e.id: e for e in await experts.list_experts(engine)}
    assert len(pool) == 2
    wang = next(e for e in pool.values() if e.id_number == ID1)
    assert (wang.name, wang.region, wang.account_id) == ("王五（改名）", "330106", expert.id)

    zhao = next(e for e in pool.values() if e.id_number == ID2)
    by_code = f"专家编号,姓名,地区代码,专业\n{zhao.id},赵六,510105,B02\n{zhao.id[:-1]}Q,新人,330102,A01\n"
    assert [r.result for r in (await experts.import_csv(engine, audit_log, by_code, ADMIN)).rows] == ["updated", "added"]
    zhao2 = (await pool_edit.get_expert(engine, zhao.id))[0]
    assert zhao2.region == "510105" and zhao2.id_number == ID2  # a row without the number keeps it
    clash = f"专家编号,姓名,身份证号,地区代码,专业\n{zhao.id},赵六,{ID1},510104,B02\n"
    assert (await experts.import_csv(engine, audit_log, clash, ADMIN)).rejected == [(2, f"身份证号已属于专家 {wang.id}，与专家编号 {zhao.id} 不符")]


@pytest.mark.parametrize(("text", "message"), [
    ("id,name\nE1,x\n", "表格缺少必填列：地区代码、专业（可下载模板）"),
    ("id,name,account,region,specialties\n", "列 account 已停用，请用“平台账号”列填写专家账号的用户名"),
    ("姓名,地区代码,专业,电话\n", "表格有无法识别的列“电话”，可用的列：专家编号、姓名、身份证号、平台账号、地区代码、场地、专业、工作单位、亲属、不可参加日期、状态"),
    ("姓名,name,地区代码,专业\n", "表格的列“姓名”出现了两次"),
    ("姓名,地区代码,专业\n\ud800,330102,A01\n", "含有无效字符：CSV 文件（孤立的代理字符或 NUL）"),
    ('姓名,地区代码,专业\n"' + "x" * 200_000 + '",330102,A01\n', "表格第 2 行无法读取（引号不成对或单元格过长）"),
])
async def test_a_bad_file_is_refused_whole(engine: AsyncEngine, audit_log: AuditLog, text: str, message: str) -> None:
    before = audit_log.size
    with pytest.raises(InvalidRequest) as caught:
        await experts.import_csv(engine, audit_log, text, ADMIN)
    assert caught.value.message == message
    assert audit_log.size == before and await experts.list_experts(engine) == []


async def test_gbk_bytes_are_refused_with_a_hint(engine: AsyncEngine, audit_log: AuditLog, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("姓名,地区代码,专业\n张三,330102,A01\n".encode("gbk"))
    with pytest.raises(InvalidRequest, match="不是 UTF-8 编码（可能是 GBK）"):
        await experts.import_csv(engine, audit_log, path, ADMIN)


async def test_the_template_imports_as_it_is(engine: AsyncEngine, audit_log: AuditLog) -> None:
    report = await experts.import_csv(engine, audit_log, template_csv(), ADMIN)
    assert results(report) == [(2, "张三", "added", "")]


async def test_the_form_adds_edits_pauses_and_resumes_each_logged(engine: AsyncEngine, audit_log: AuditLog) -> None:
    with pytest.raises(pool_edit.FormErrors) as caught:
        await pool_edit.save_expert(engine, audit_log, ADMIN, None, {"name": "", "region": "33", "specialties": "a", "id_number": "123",
                                                                   "username": "nobody", "sites": "x"})
    assert {k: str(v) for k, v in caught.value.errors.items()} == {
        "name": "缺少姓名", "id_number": "身份证号应为 18 位且校验位正确",
        "region": "地区代码 33 应为 6、9 或 12 位数字（GB/T 2260，如 330102）",
        "specialties": "专业代码 a 应为大写字母开头、2–12 位大写字母或数字（如 A01）",
        "sites": "场地应为 主场、副场 或 主场;副场", "username": "平台账号不存在",
    }
    assert caught.value.message == "；".join(str(v) for v in caught.value.errors.values())
    assert localize(caught.value.errors["username"], "en") == "There is no such account"
    size = audit_log.size
    added = await pool_edit.save_expert(engine, audit_log, ADMIN, None, {"name": "李四", "region": "330102", "specialties": "A01", "id_number": ID1})
    entry = await audit_log.entry(size)
    assert (entry.kind, entry.payload) == ("experts.added", {"expert": added.id})
    with pytest.raises(pool_edit.FormErrors) as caught:
        await pool_edit.save_expert(engine, audit_log, ADMIN, None, {"name": "另一人", "region": "330102", "specialties": "A01", "id_number": ID1})
    assert {k: str(v) for k, v in caught.value.errors.items()} == {"id_number": "身份证号已登记在另一位专家名下"}
    await pool_edit.save_expert(engine, audit_log, ADMIN, added.id, {"name": "李四", "region": "330106", "specialties": "A01;B02", "id_number": ID1})
    entry = await audit_log.entry(audit_log.size - 1)
    assert (entry.kind, entry.payload) == ("experts.updated", {"expert": added.id, "fields": ["region", "specialties"]})
    await pool_edit.set_active(engine, audit_log, ADMIN, added.id, False)
    with pytest.raises(ConflictError, match="这位专家已暂停"):
        await pool_edit.set_active(engine, audit_log, ADMIN, added.id, False)
    assert not (await pool_edit.get_expert(engine, added.id))[0].active
    await pool_edit.set_active(engine, audit_log, ADMIN, added.id, True)
    kinds = [(await audit_log.entry(n)).kind for n in range(audit_log.size - 2, audit_log.size)]
    assert kinds == ["experts.deactivated", "experts.reactivated"]


def test_id_numbers_are_checked_and_masked() -> None:
    assert id_number_ok(ID1) and id_number_ok(ID2) and not id_number_ok("110105194912310037")
    assert mask_id_number(ID1) == "1101**********002X" and mask_id_number(None) == ""


def test_row_round_trips_through_json() -> None:
    row = dict(zip(HEADER.strip().split(","), ["E1", "张", "acc1", "330102", "remote", "A01;B02", "o|director|2020-01-01|", "o2|in_law", "2026-01-01|", "0"], strict=True))
    draft = parse_row(row)
    assert draft.username == "acc1" and draft.code == "E1"
    assert experts.ExpertRecord.from_json(draft.record.to_json()) == draft.record
    assert draft.record.rules_view().active is False
