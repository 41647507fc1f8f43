"""The audit log over HTTP and the supervisor pages, checked the way an outside verifier would."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from crypto.checkpoint import Checkpoint
from crypto.note import Verifier, open_note
from crypto.proof import verify_consistency, verify_inclusion
from evaluation.accounts.account import Role
from evaluation.audit import store
from evaluation.audit.entry import Actor, EntryDraft
from tests.web.signin import sign_in_as
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, ENGINE

AGENCY = Actor("agency-1", "agency")
BIDDER = Actor("bidder-7", "bidder")


def b64d(s: str) -> bytes:
    return base64.b64decode(s)


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path / "data", log_origin="test.example/audit"))
    c: TestClient = await aiohttp_client(app)
    log = app[AUDIT_LOG]
    await log.append(EntryDraft("tender.published", {"title": "办公设备采购 Office equipment", "round": 100}, "T-1", AGENCY))
    await log.append_many(
        [EntryDraft("bid.submitted", {"sha256": f"{i:064x}", "size": 1000 + i}, "T-1", BIDDER) for i in range(5)]
    )
    await log.append(EntryDraft("tender.published", {"title": "另一个项目 Another", "round": 200}, "T-2", AGENCY))
    await sign_in_as(c, Role.supervisor)  # entries and pages are for supervisors; proofs are public
    return c


async def checkpoint_and_verifier(client: TestClient) -> tuple[Checkpoint, Verifier]:
    vkey = (await (await client.get("/api/audit/vkey")).text()).strip()
    verifier = Verifier.from_key_text(vkey)
    note = await (await client.get("/api/audit/checkpoint")).read()
    return Checkpoint.parse(open_note(note, [verifier]).text), verifier


async def test_checkpoint_entries_and_proofs_verify(client: TestClient) -> None:
    cp, _ = await checkpoint_and_verifier(client)
    assert cp.origin == "test.example/audit"
    assert cp.size == 9  # log.started + 7 + the supervisor's account.created
    body = await (await client.get("/api/audit/entries", params={"start": "0", "end": "100"})).json()
    entries = body["entries"]
    assert [e["index"] for e in entries] == list(range(9))
    assert entries[0]["kind"] == "log.started"
    for e in entries:
        proof = await (await client.get("/api/audit/proof/inclusion", params={"index": str(e["index"])})).json()
        assert b64d(proof["root"]) == cp.root
        verify_inclusion(b64d(e["leaf_hash"]), e["index"], cp.size, [b64d(p) for p in proof["proof"]], cp.root)
    for size1 in range(1, 10):
        c = await (await client.get("/api/audit/proof/consistency", params={"from": str(size1), "to": "9"})).json()
        verify_consistency(size1, 9, [b64d(p) for p in c["proof"]], b64d(c["root1"]), cp.root)


async def test_receipt_verifies_offline(client: TestClient) -> None:
    _, verifier = await checkpoint_and_verifier(client)
    rec = await (await client.get("/api/audit/receipt/3")).json()
    cp = Checkpoint.parse(open_note(rec["checkpoint"].encode(), [verifier]).text)
    leaf = b64d(rec["entry"]["leaf"])
    from crypto.merkle import leaf_hash

    verify_inclusion(leaf_hash(leaf), 3, cp.size, [b64d(p) for p in rec["proof"]], cp.root)
    assert json.loads(leaf)["kind"] == "bid.submitted"


@pytest.mark.parametrize(
    "path, params, status, message",
    [
        ("/api/audit/proof/inclusion", {"index": "99"}, 400, "第 99 条不在大小为"),
        ("/api/audit/proof/inclusion", {"index": "x"}, 400, "查询参数 index 须为非负整数"),
        ("/api/audit/proof/inclusion", {}, 400, "缺少查询参数 index"),
        ("/api/audit/proof/inclusion", {"index": "0", "size": "50"}, 400, "树大小 50 超出日志长度"),
        ("/api/audit/proof/consistency", {"from": "9", "to": "3"}, 400, "须满足 from ≤ to"),
        ("/api/audit/entries", {"start": "500"}, 400, "起始位置 500 超出日志长度"),
        ("/api/audit/receipt/77", {}, 404, "没有第 77 条"),
        ("/api/audit/receipt/-1", {}, 400, "条目编号须为非负整数"),
        ("/api/audit/proof/inclusion", {"index": "0", "size": "0"}, 400, "不能小于 1"),
    ],
)
async def test_bad_requests_are_one_clear_line(client: TestClient, path: str, params: dict[str, str], status: int, message: str) -> None:
    resp = await client.get(path, params=params)
    assert resp.status == status
    body = await resp.json()
    assert body["ok"] is False and body["status"] == status
    assert message in body["error"] and "\n" not in body["error"]
    assert re.match(r"[\u4e00-\u9fff]", body["error"]), body["error"]  # Chinese first, then English


def visible(html: str) -> str:
    """The text a reader sees: no tags, no <code> (ids kept small and copyable), no <pre>."""
    import re

    html = re.sub(r"<(code|pre|script|style|select)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


async def test_supervisor_pages(client: TestClient) -> None:
    html = await (await client.get("/audit")).text()
    assert "已验证" in html and "T-1" in html and "T-2" in html
    assert "/api/audit/bundle" in html
    html = await (await client.get("/audit/tenders/T-1")).text()
    assert "已验证" in html and html.count("递交投标文件") >= 5
    # The state at a chosen point: after the publication, before any bid.
    html = await (await client.get("/audit/tenders/T-1", params={"until": "1"})).text()
    assert "第 1 条时的状态" in html
    filtered = await (await client.get("/audit/tenders/T-1", params={"kind": "tender.published"})).text()
    assert "递交投标文件</strong>" not in filtered and "发布招标公告</strong>" in filtered
    by_stage = await (await client.get("/audit/tenders/T-1", params={"stage": "bids"})).text()
    assert by_stage.count("递交投标文件</strong>") == 5 and "发布招标公告</strong>" not in by_stage
    assert (await client.get("/audit/tenders/T-1", params={"stage": "x\ud800"})).status == 400
    assert (await client.get("/audit/tenders/NOPE")).status == 404


async def test_the_replay_reads_like_a_record(client: TestClient) -> None:
    """Names for ids, Chinese labels, local time with its zone, payloads as fields; no acct_/B-
    ids or \\u escapes in what a reader sees."""
    from evaluation.accounts.tables import account_table

    engine = client.app[ENGINE]
    async with engine.begin() as conn:
        row = (await conn.execute(sa.select(account_table.c.id, account_table.c.display_name)
                                  .where(account_table.c.role == "supervisor"))).first()
    log = client.app[AUDIT_LOG]
    await log.append(EntryDraft("bid.opened", {"bid_id": "B-00aa11", "bidder_name": "甲公司", "fields": {"price_fen": 123456789}},
                                "T-1", Actor(row.id, "supervisor")))
    await log.append(EntryDraft("bid.withdrawn", {"bid_id": "B-00aa11"}, "T-1", Actor("acct_ffff0000ffff0000", "bidder")))
    resp = await client.get("/audit/tenders/T-1")
    html = await resp.text()
    text = visible(html)
    assert resp.status == 200
    for words in ("公告", "投标", "开标", "发布招标公告", "递交投标文件", "唱标", "撤回投标", "甲公司", row.display_name,
                  "北京时间", "1,234,567.89", "办公设备采购 Office equipment", "项目名称", "未知账户"):
        assert words in text, words
    assert "acct_" not in text and "B-00aa11" not in text and "\\u" not in html and "{&#34;" not in html
    assert "<pre class=\"state\">" not in html
    receipt = await client.get("/audit/receipt/3")
    page = await receipt.text()
    assert receipt.status == 200 and receipt.content_type == "text/html"
    assert "已验证" in page and "递交投标文件" in page and "包含证明" in page and "acct_" not in visible(page)
    assert (await client.get("/audit/receipt/999")).status == 404
    assert (await client.get("/audit/receipt/1e999")).status == 400


async def test_the_audit_pages_speak_the_readers_language(client: TestClient) -> None:
    """Labels for codes (the category, a member's kind, the deviation's fields), the replay's
    problems and the pages' refusals in words — in Chinese, and in English for an English reader;
    the technical line of a problem kept under 技术细节."""
    log = client.app[AUDIT_LOG]
    published = await log.append(EntryDraft("tender.amended", {"category": "goods", "method": "open"}, "T-1", AGENCY))
    broken = await log.append(EntryDraft("bid.withdrawn", {"bid_id": "B-0000nosuch"}, "T-1", BIDDER))
    await log.append(EntryDraft("evaluation.member_added", {
        "account": "acct_00000000000000aa", "kind": "expert", "name": "王专家", "seat": 4, "site": "remote",
        "specialty": "信息技术", "fills": 2, "replaces": "acct_00000000000000bb"}, "T-1", AGENCY))
    await log.append(EntryDraft("evaluation.deviation_confirmed", {
        "deviation": {"expert": "acct_00000000000000aa", "bid": "B-0000nosuch", "criterion": "tech", "score": 9,
                      "others_mean": "25.5", "high": False, "median": 26, "others_low": 24, "others_high": 27},
        "reason": "确有依据"}, "T-1", AGENCY))
    html = await (await client.get("/audit/tenders/T-1")).text()
    text = visible(html)
    for words in ("货物", "公开招标", "加入评标委员会", "评审专家", "副场", "补入席位", "替换的评委", "确认偏差评分",
                  "其他评委平均分", "其他评委最高分", "回放时有条目无法应用", f"第 {broken.index} 条（撤回投标）", "技术细节"):
        assert words in text, words
    for raw in ("goods", "remote", "others_mean", "cannot apply", "replaces", "deviation_confirmed"):
        assert raw not in text, raw
    assert f"entry {broken.index} (bid.withdrawn): cannot apply" in html  # the detail, kept
    assert published.index < broken.index

    async def refusal(path: str, params: dict[str, str] | None = None) -> tuple[int, str]:
        resp = await client.get(path, params=params or {}, headers={"Accept": "text/html"})
        return resp.status, visible(await resp.text())

    for (path, params), (status, words) in {
        ("/audit/tenders/T-1", ("stage", "x\ud800")): (400, "没有这个阶段；可选：公告、投标"),
        ("/audit/tenders/T-1", ("until", "1e999")): (400, "“截至第几条”须为非负整数"),
        ("/audit/tenders/NOPE", None): (404, "此项目在审计日志中没有条目"),
        ("/audit/receipt/999", None): (404, "没有这个条目：日志共有"),
        ("/audit/receipt/NaN", None): (400, "条目序号须为非负整数"),
    }.items():
        got_status, got = await refusal(path, dict([params]) if params else None)
        assert got_status == status and words in got, (path, got_status, got[:300])
        assert "whole number" not in got and "unknown stage" not in got and "no audit entries" not in got

    client.session.cookie_jar.update_cookies({"lang": "en"})
    text = visible(await (await client.get("/audit/tenders/T-1")).text())
    for words in ("Goods", "Member joined the committee", "Deviating score confirmed", "Other members",
                  f"Entry {broken.index} (", "Technical detail"):
        assert words in text, words
    assert "货物" not in text and "回放时有条目无法应用" not in text
    page = visible(await (await client.get("/audit/receipt/3")).text())
    assert "Verified" in page and "已验证" not in page
    status, text = await refusal("/audit/tenders/T-1", {"stage": "nope"})
    assert status == 400 and "No such stage; one of: " in text


async def test_the_bundle_downloads_and_verifies(client: TestClient, tmp_path: Path) -> None:
    """The page's bundle link gives what `pingbiao audit export` writes; it verifies offline."""
    import io
    import tarfile

    from evaluation.audit.bundle import verify_bundle

    resp = await client.get("/api/audit/bundle")
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(await resp.read()), mode="r:gz") as tar:
        tar.extractall(tmp_path / "out", filter="data")
    (folder,) = (tmp_path / "out").iterdir()
    report = verify_bundle(folder)
    assert report.size >= 7 and report.origin == "test.example/audit"
    await sign_in_as(client, Role.admin)
    assert (await client.get("/api/audit/bundle", headers={"Accept": "application/json"})).status == 403


async def test_quiet_change_in_the_database_is_caught(client: TestClient) -> None:
    """An operator edits only the payload column of a stored entry (not its leaf): neither the
    entries API nor the replay shows the edited value; both name the entry."""
    engine = client.app[ENGINE]
    t = store.entry_table
    async with engine.begin() as conn:
        await conn.execute(sa.update(t).where(t.c.idx == 2).values(payload=json.dumps({"sha256": "e" * 64, "size": 1})))
    html = await (await client.get("/audit/tenders/T-1")).text()
    assert "验证失败" in html
    assert "第 2 条记录" in html and "e" * 64 not in html
    # Said in words; the verifier's own line stays, for the auditor, under 技术细节.
    text = visible(html)
    assert "条目与签名的日志树不一致" in text and "技术细节" in text and "stored columns" not in text
    resp = await client.get("/api/audit/entries", params={"start": "0", "end": "9"})
    body = await resp.json()
    assert resp.status == 422 and body["error"] == "第 2 条记录的存储内容与其签名数据不符"
    assert (await client.get("/api/audit/receipt/2")).status == 422
    assert (await client.get("/api/audit/entries", params={"start": "3", "end": "9"})).status == 200


async def test_only_the_supervisor_reads_entries(client: TestClient) -> None:
    """Entries show who has bid before the opening: the administrator gets 403, like a bidder."""
    await sign_in_as(client, Role.admin)
    for path in ("/api/audit/entries", "/api/audit/receipt/1", "/audit", "/audit/tenders/T-1", "/audit/receipt/1"):
        resp = await client.get(path, headers={"Accept": "application/json"})
        assert resp.status == 403, path
    assert (await client.get("/api/audit/proof/inclusion", params={"index": "1"})).status == 200  # hashes stay public


async def test_the_server_refuses_to_start_on_a_changed_leaf(tmp_path: Path) -> None:
    """`pingbiao serve` on a log whose leaf was changed: exit 1, one line naming the entry."""
    import os
    import subprocess
    import sys

    from web.cli.installation import database, installation

    data = tmp_path / "data"
    settings = Settings(data_dir=data, log_origin="test.example/audit")
    async with installation(settings) as (engine, log):
        await log.append_many([EntryDraft("bid.submitted", {"sha256": f"{i:064x}", "size": 1}, "T-1", BIDDER) for i in range(4)])
        leaf = (await log.entry(3)).leaf.replace(b'"size":1', b'"size":2')
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PINGBIAO_DATA_DIR": str(data), "PINGBIAO_LOG_ORIGIN": "test.example/audit"}
    env.pop("PINGBIAO_CONFIG", None)
    check = subprocess.run([sys.executable, "-m", "web.cli", "audit", "check"], capture_output=True, env=env, cwd=root, timeout=120)
    assert check.returncode == 0 and check.stdout.startswith(b"ok: 5 entries match their leaves"), check.stderr
    async with database(settings) as engine:
        async with engine.begin() as conn:
            await conn.execute(sa.update(store.entry_table).where(store.entry_table.c.idx == 3).values(leaf=leaf))
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--port", "0"], capture_output=True, env=env, cwd=root, timeout=120
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.decode().splitlines() if line.startswith("pingbiao: error:")]
    assert errors == ["pingbiao: error: 审计日志校验失败：第 3 条记录的存储内容与其签名数据不符"]
    assert "Traceback" not in done.stderr.decode()
    check = subprocess.run([sys.executable, "-m", "web.cli", "audit", "check"], capture_output=True, env=env, cwd=root, timeout=120)
    assert check.returncode == 1 and "第 3 条记录".encode() in check.stderr


def test_every_registered_event_kind_has_a_label_and_a_stage() -> None:
    """The replay never shows a raw event code: each kind the platform registers has a label."""
    from evaluation.audit.events import KINDS
    from web.labels import LABELS
    from web.pages.audit_view import STAGES, stage_of

    create_app  # the app registers every feature's kinds on import
    missing = sorted(k for k in KINDS if k not in LABELS["event"])
    assert missing == []
    assert {stage_of(k) for k in KINDS} <= set(STAGES)
    assert set(STAGES) == set(LABELS["stage"])
