"""The opening record (开标记录表) as the signed document over HTTP: a real opening on the local
beacon (one bid tampered with), sign-ins, the host's read-out, a confirmation, an objection and its
answer; the host signs; the PDF is rendered (pdftoppm) and read back (pdftotext):
names, amounts with separators and 大写, statuses in words, times in 北京时间, the hash and the
signatures — and the hash is the SHA-256 of the document anyone can fetch."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
from pathlib import Path
from typing import Any

from crypto import tlock
from evaluation.accounts.account import Role, create_account
from evaluation.audit.entry import canonical_json
from evaluation.tenders.bid_container import build_container
from tests.conftest import need_executable
from tests.evaluation.test_opening import tampered
from tests.web.signin import PASSWORD, session_headers
from tests.web.tender_client import start, tender_body
from web.keys import AUDIT_LOG

COMPANIES = ["华东建设工程有限公司", "杭州智联科技有限公司", "宁波海工装备有限公司", "温州明达电子有限公司"]


async def opened_record(aiohttp_client: Any, tmp_path: Path) -> tuple[Any, str]:
    """A tender of four named bidders opened for real (the last bid tampered with), now confirming."""
    hall = await start(aiohttp_client, tmp_path)
    app = hall.client.app
    for n, company in enumerate(COMPANIES):
        account = await create_account(app[AUDIT_LOG], username=f"co{n}", password=PASSWORD, display_name=f"联系人{n}",
                                       role=Role.bidder, organization=company)
        hall.accounts[f"co{n}"], hall.headers[f"co{n}"] = account, await session_headers(app, account)
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(4, min_bids=3))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    for n, price in enumerate(["1268000.00", "1192500.50", "1305000.00", "999.00"]):
        out = io.BytesIO()
        plain = build_container({"total_price": price, "delivery_days": 30 + n}, [("技术方案.txt", b"doc")])
        tlock.seal(io.BytesIO(plain), out, hall.chain, tender["opening_round"])
        data = tampered(out.getvalue()) if n == 3 else out.getvalue()
        status, body = await hall.call(f"co{n}", "PUT", f"/api/tenders/{tender['id']}/bid", data=data,
                                       headers={"Content-Type": "application/octet-stream"})
        assert status == 201, body
    tid = tender["id"]
    assert (await hall.call("co0", "POST", f"/api/tenders/{tid}/hall/signin", json={}))[0] == 201
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/signin", json={}))[0] == 201
    ws = await hall.client.ws_connect(f"/api/tenders/{tid}/hall/ws", headers={"Cookie": hall.headers["co1"]["Cookie"]})
    while (await ws.receive_json(timeout=20))["type"] != "record.final":
        pass
    await ws.close()
    return hall, tid


def pdf_text(pdf: bytes, tmp_path: Path, *layout: str) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    subprocess.run([need_executable("pdftoppm"), "-png", "-r", "70", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
                   check=True, timeout=60)
    [png] = list(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 10_000  # a page with text on it, not a blank
    return subprocess.run([need_executable("pdftotext"), *layout, str(path), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


async def test_the_record_is_a_signed_pdf_people_read(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tid = await opened_record(aiohttp_client, tmp_path)
    for _ in range(2):
        assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/hall/read-out"))[0] == 201
    assert (await hall.call("co0", "POST", f"/api/tenders/{tid}/record/confirm"))[0] == 201
    status, objection = await hall.call("co1", "POST", f"/api/tenders/{tid}/record/objections", json={"text": "报价读错了"})
    assert status == 201
    status, _ = await hall.call("agency", "POST", f"/api/tenders/{tid}/record/objections/{objection['id']}/answer",
                                json={"text": "已核对，报价无误"})
    assert status == 201

    status, body = await hall.call("co2", "GET", f"/api/tenders/{tid}/record/document")
    assert status == 200 and body["signatures"] == []
    assert hashlib.sha256(canonical_json(body["document"])).hexdigest() == body["sha256"]  # anyone can recompute it
    first = body["sha256"]
    # who may sign, and only what they saw
    for who, sha, code in [("co0", first, 403), ("agency2", first, 403), ("agency", "0" * 64, 409), ("agency", "短", 400),
                           ("agency", None, 400)]:
        status, refused = await hall.call(who, "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": sha})
        assert status == code, (who, refused)
        assert re.match(r"[\u4e00-\u9fff]", refused["error"]), refused  # Chinese first
    size = hall.client.app[AUDIT_LOG].size
    status, signed = await hall.call("agency", "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": first})
    assert status == 201 and signed["sha256"] == first
    assert await hall.kinds_since(size) == ["opening.record_signed"]
    entry = (await hall.client.app[AUDIT_LOG].entries(signed["index"], signed["index"] + 1))[0]
    assert entry.payload["sha256"] == first and entry.actor.account == hall.accounts["agency"].id
    status, _ = await hall.call("agency", "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": first})
    assert status == 409  # once per version
    # a supervisor signs as witness (监督人): its own entry, the one write a supervisor may make
    status, witnessed = await hall.call("supervisor", "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": first})
    assert status == 201 and witnessed["role"] == "supervisor" and witnessed["sha256"] == first, witnessed
    assert (await hall.call("supervisor", "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": first}))[0] == 409
    status, body = await hall.call("co2", "GET", f"/api/tenders/{tid}/record/document")
    assert [s["role"] for s in body["signatures"]] == ["agency", "supervisor"]
    for route in (f"/api/tenders/{tid}/record/confirm", f"/api/tenders/{tid}/hall/read-out"):  # and nothing else
        assert (await hall.call("supervisor", "POST", route))[0] == 403
    # a later confirmation is a new version: the signatures name the one they signed
    assert (await hall.call("co2", "POST", f"/api/tenders/{tid}/record/confirm"))[0] == 201
    status, body = await hall.call("co2", "GET", f"/api/tenders/{tid}/record/document")
    assert body["sha256"] != first and [s["sha256"] for s in body["signatures"]] == [first, first]
    assert (await hall.call("agency", "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": body["sha256"]}))[0] == 201
    assert (await hall.call("supervisor", "POST", f"/api/tenders/{tid}/record/sign", json={"sha256": body["sha256"]}))[0] == 201

    resp = await hall.client.get(f"/api/tenders/{tid}/record.pdf", headers=hall.headers["co3"])
    assert resp.status == 200 and resp.content_type == "application/pdf"
    text = pdf_text(await resp.read(), tmp_path)  # in reading order: cell by cell
    flat = re.sub(r"\s+", "", text)  # table cells wrap: read the words without the line breaks
    assert "开标记录表" in text and "办公设备采购" in text
    assert all(company in flat for company in COMPANIES), text
    assert "1,268,000.00" in flat and "大写：壹佰贰拾陆万捌仟元整" in flat and "1,192,500.50" in flat
    assert "大写：壹佰壹拾玖万贰仟伍佰元伍角" in flat and "预算（元）：1,000,000.00" in flat
    assert "已解密，已开启" in flat and "解密失败，未能开启：密文被篡改" in flat
    assert "北京时间" in text and "未签到" in flat and "已签到" in flat
    assert "主持人唱标" in text and "报价读错了" in flat and "已核对，报价无误" in flat
    assert f"本表哈希（SHA-256）：{body['sha256']}" in flat and "验证方法" in text and "opening.record_signed" in flat
    assert "已签署较早版本" in flat and "测试单位" in flat and "监督人" in flat  # the signers by name (the test accounts' organisation)
    assert not re.search(r"acct_[0-9a-f]{8}|B-[0-9a-f]{8}|\\u[0-9a-f]{4}", text), text
    assert "\ufffd" not in text
    # A reader who chose English downloads an English copy: labels, states and reasons translated,
    # what was signed (names, amounts with their 大写, the hash) as signed.
    english_pdf = await (await hall.client.get(f"/api/tenders/{tid}/record.pdf", headers={
        **hall.headers["co3"], "Cookie": hall.headers["co3"]["Cookie"] + "; lang=en"})).read()
    (tmp_path / "english").mkdir()
    english = pdf_text(english_pdf, tmp_path / "english")
    words, flat = " ".join(english.split()), re.sub(r"\s+", "", english)
    for label in ("Opening record", "Decrypted, opened", "Decryption failed, not opened: ", "Beijing time",
                  "Host reads a bid out", "Hash of this record (SHA-256): ", "Signed an earlier version"):
        assert label.split()[0] in words and re.sub(r"\s+", "", label) in flat, label
    assert "大写：壹佰贰拾陆万捌仟元整" in flat and body["sha256"] in flat and "报价读错了" in flat
    assert not re.search(r"开标记录表|已解密|主持人唱标|验证方法|北京时间", flat), english


async def test_the_record_document_and_pdf_wait_for_the_opening(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(120))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    for path in ("record/document", "record.pdf"):
        status, body = await hall.call("bidder0", "GET", f"/api/tenders/{tender['id']}/{path}")
        assert status == 409, body
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/record/sign", json={"sha256": "a" * 64})
    assert status == 409, body


async def test_the_tender_page_shows_why_a_bid_failed(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tid = await opened_record(aiohttp_client, tmp_path)
    status, page = await hall.call("co0", "GET", f"/tenders/{tid}", headers={"Accept": "text/html"})
    assert status == 200 and "密文被篡改" in page and f"/api/tenders/{tid}/record.pdf" in page
    status, snap = await hall.call("co0", "GET", f"/api/tenders/{tid}/hall")
    assert sorted(b["code"] or "" for b in snap["bids"]) == ["", "", "", "tampered"]


def test_every_failure_code_has_the_same_label_everywhere() -> None:
    """The codes of the opening (opening.FAILURES), the pages' labels and the hall script's map agree."""
    from evaluation.tenders.opening import FAILURES
    from web.labels import LABELS

    assert LABELS["open_failure"] == FAILURES
    script = (Path(__file__).resolve().parents[2] / "web/static/hall.js").read_text()
    block = script[script.index("const FAILURES = {"):script.index("};", script.index("const FAILURES = {"))]
    assert dict(re.findall(r'(\w+): t\("([^"]+)"\)', block)) == FAILURES
