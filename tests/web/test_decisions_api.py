"""The committee's decisions on bids and the bidders' answers over real HTTP (87号令 arts. 59–60,
投标无效): an arithmetic correction confirmed by its bidder, a low price justified with a document
stored in the blob store and read by the committee (each reading logged with its hash), a late
justification refused before any file is kept, decisions, an invalid bid. Hostile input — lone
surrogates, NaN, 1e999, huge numbers, a wrong role, a bid not in the session — gets one clear line
and the right status, and changes nothing: neither the log nor the session's bids."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import FormData

from evaluation.accounts.account import Role
from evaluation.audit.entry import Actor, Entry
from evaluation.notifications.rules import Facts, notices_for
from evaluation.session import sheets as scoring
from evaluation.session.session import get_session
from tests.conftest import need_executable
from tests.evaluation.session_fixtures import Keys, sheets_doc
from tests.web.decisions_setup import start_scoring, tender_with_bids
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import Hall, start
from tests.web.tender_client import drawn_committee as draw_over_api
from web.api.evaluation import EVALUATION
from web.keys import AUDIT_LOG

PRICES = ["100000.00", "60000.00", "120000.00", "110000.00", "55000.00"]  # bidder1 and bidder4 abnormally low
PDF = b"%PDF-1.4\n% cost breakdown\n" + bytes(range(256)) * 8


async def set_up(aiohttp_client: Any, tmp_path: Path) -> tuple[Hall, str, dict[str, str], Keys]:
    hall = await start(aiohttp_client, tmp_path)
    app = hall.client.app
    account = await make_account(app, Role.bidder, "bidder4")
    hall.accounts["bidder4"], hall.headers["bidder4"] = account, await session_headers(app, account)
    for i in range(5):
        account = await make_account(app, Role.expert, f"e{i}")
        hall.accounts[f"e{i}"], hall.headers[f"e{i}"] = account, await session_headers(app, account)
    offers = [(Actor(hall.accounts[f"bidder{i}"].id, "bidder"), p) for i, p in enumerate(PRICES)]
    tender_id = await tender_with_bids(app, hall.accounts["agency"].actor, offers)
    await draw_over_api(hall, tender_id, [f"e{i}" for i in range(5)])
    session, keys = await start_scoring(app, tender_id, hall.accounts["agency"].actor,
                                  [Actor(hall.accounts[f"e{i}"].id, "expert") for i in range(5)])
    bid_of = {f"bidder{i}": next(b["bid"] for b in session.bids if b["bidder"] == hall.accounts[f"bidder{i}"].id)
              for i in range(5)}
    return hall, tender_id, bid_of, keys


def one_line(status: int, body: Any, want: int) -> str:
    assert status == want and isinstance(body, dict), (status, body)
    line: str = body["error"]
    assert "\n" not in line and "Traceback" not in line and not line.isascii(), line  # Chinese first
    assert "acct_" not in line and "B-" not in line, line  # no ids
    return line


async def test_decisions_and_answers_over_http(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tender_id, bid_of, keys = await set_up(aiohttp_client, tmp_path)
    app = hall.client.app
    log, ectx = app[AUDIT_LOG], app[EVALUATION]
    base = f"/api/evaluation/{tender_id}"
    before_bids = (await get_session(ectx, tender_id)).bids
    size = log.size

    # -- hostile input: one line, the right status, nothing written ---------------------------------
    fix = {"bid": bid_of["bidder0"], "rule": "words", "words": "壹拾万零伍仟元整", "explanation": "大写与小写不一致"}
    for who, body, want in [
        ("e1", fix, 403),  # not the leader
        ("bidder0", fix, 403),  # a bidder
        ("supervisor", fix, 403),
        ("e0", {**fix, "bid": "B-0000000000000000"}, 400),  # not a bid of this session
        ("e0", {**fix, "bid": {"a": 1}}, 400),
        ("e0", {**fix, "rule": "guess"}, 400),
        ("e0", {**fix, "words": "十万"}, 400),
        ("e0", {**fix, "explanation": " "}, 400),
        ("e0", {**fix, "rule": "unit_sum", "items": [{"unit_price": "9" * 40, "quantity": 1}]}, 400),
        ("e0", {**fix, "rule": "unit_sum", "items": [{"unit_price": "5.00", "quantity": 10 ** 30}]}, 400),
        ("e0", {"bid": bid_of["bidder1"], "minutes": 10 ** 30}, 400),
        ("e0", {"bid": bid_of["bidder1"], "minutes": True}, 400),
    ]:
        path = f"{base}/price-corrections" if "rule" in body or who != "e0" else f"{base}/low-price-queries"
        status, answer = await hall.call(who, "POST", path, json=body)
        if want == 403 and who == "supervisor":
            assert status == 403, answer
            continue
        one_line(status, answer, want)
    for raw in (b'{"bid": "%s", "minutes": NaN}', b'{"bid": "%s", "minutes": 1e999}', b'{"bid": "%s", "minutes": 30.5}'):
        status, answer = await hall.call("e0", "POST", f"{base}/low-price-queries", data=raw % bid_of["bidder1"].encode(),
                                         headers={"Content-Type": "application/json"})
        one_line(status, answer, 400)
    surrogate = ('{"bid": "%s", "rule": "schedule", "explanation": "\\ud800"}' % bid_of["bidder0"]).encode()
    status, answer = await hall.call("e0", "POST", f"{base}/price-corrections", data=surrogate,
                                     headers={"Content-Type": "application/json"})
    one_line(status, answer, 400)
    status, answer = await hall.call("e0", "POST", f"{base}/low-price-queries", json={"bid": bid_of["bidder2"], "minutes": 10})
    assert "未被提示为异常低价" in one_line(status, answer, 400)  # 120,000 is not low
    status, answer = await hall.call("e0", "POST", f"{base}/invalid-bids",
                                     json={"bid": bid_of["bidder1"], "ground": "abnormally_low", "reason": "低"})
    assert "须先要求投标人说明" in one_line(status, answer, 400)
    assert log.size == size and (await get_session(ectx, tender_id)).bids == before_bids

    # -- 算术修正: proposed, seen and confirmed by its bidder only ---------------------------------------
    status, body = await hall.call("e0", "POST", f"{base}/price-corrections", json=fix)
    assert status == 201, body
    assert await hall.kinds_since(size) == ["evaluation.price_correction"]
    status, mine = await hall.call("bidder0", "GET", f"{base}/my-bid")
    assert status == 200 and mine["bids"][0]["correction"]["status"] == "pending"
    assert mine["bids"][0]["correction"]["corrected_fen"] == 105_000_00 and mine["now_us"] > 0
    assert "price_fen" not in str([b for b in mine["bids"] if b["bid"] != bid_of["bidder0"]])  # its own bid only
    status, answer = await hall.call("bidder1", "POST", f"{base}/price-corrections/answer", json={"bid": bid_of["bidder0"], "confirm": True})
    assert "只有供应商 0本人可以答复" in one_line(status, answer, 403)
    status, answer = await hall.call("bidder0", "POST", f"{base}/price-corrections/answer", json={"bid": bid_of["bidder0"], "confirm": "yes"})
    one_line(status, answer, 400)
    status, mine = await hall.call("bidder0", "POST", f"{base}/price-corrections/answer", json={"bid": bid_of["bidder0"], "confirm": True})
    assert status == 201 and mine["bids"][0]["correction"]["status"] == "confirmed" and mine["bids"][0]["price_fen"] == 105_000_00

    # -- 异常低价: asked, justified with a document in time, read by the committee (logged) -----------
    for bidder, minutes in (("bidder1", 30), ("bidder4", 1)):
        status, body = await hall.call("e0", "POST", f"{base}/low-price-queries", json={"bid": bid_of[bidder], "minutes": minutes})
        assert status == 201, body
    status, answer = await hall.call("e0", "POST", f"{base}/low-price-queries", json={"bid": bid_of["bidder1"], "minutes": 5})
    assert "已要求" in one_line(status, answer, 409)
    form = FormData()
    form.add_field("bid", bid_of["bidder1"])
    form.add_field("text", "库存设备，成本已摊销 old stock, costs written off")
    form.add_field("document", PDF, filename="成本构成.pdf", content_type="application/pdf")
    size = log.size
    status, mine = await hall.call("bidder1", "POST", f"{base}/low-price-justifications", data=form)
    assert status == 201, mine
    said = mine["bids"][0]["low_price"]["justification"]
    digest = hashlib.sha256(PDF).hexdigest()
    assert (said["document_sha256"], said["document_name"], said["document_size"]) == (digest, "成本构成.pdf", len(PDF))
    [entry] = await log.entries(size, log.size)
    assert entry.kind == "evaluation.low_price_justified" and entry.payload["document_sha256"] == digest
    with app[EVALUATION].tenders.blobs.open(digest) as stored:
        assert stored.read() == PDF
    link = f"/evaluation/{tender_id}/bids/{bid_of['bidder1']}/justification"
    resp = await hall.client.get(link, headers=hall.headers["e3"])
    assert resp.status == 200 and await resp.read() == PDF and resp.headers["Content-Type"] == "application/pdf"
    [read] = await log.entries(log.size - 1, log.size)
    assert (read.kind, read.actor.account, read.payload["sha256"]) == ("evaluation.justification_opened", hall.accounts["e3"].id, digest)
    size = log.size
    for outsider in ("bidder2", "agency2", "anonymous"):
        assert (await hall.client.get(link, headers=hall.headers[outsider])).status in (401, 403)
    assert (await hall.client.get(f"/evaluation/{tender_id}/bids/{bid_of['bidder0']}/justification",
                                  headers=hall.headers["e3"])).status == 404  # no document sent for that bid
    assert log.size == size

    # -- a late justification is refused with one line, and its file is not kept --------------------
    late = dataclasses.replace(ectx.tenders, clock=lambda: time.time() + 3600)
    ectx.tenders = late
    hashes = late.blobs.all_hashes()
    form = FormData()
    form.add_field("bid", bid_of["bidder4"])
    form.add_field("text", "迟到的说明")
    form.add_field("document", b"%PDF-1.4 late " + bytes(64), filename="迟到.pdf", content_type="application/pdf")
    status, answer = await hall.call("bidder4", "POST", f"{base}/low-price-justifications", data=form)
    assert one_line(status, answer, 409).startswith("说明期限已过，不再接收书面说明")
    assert late.blobs.all_hashes() == hashes and log.size == size
    for bad in ({"bid": bid_of["bidder1"], "text": "x"}, {"bid": "B-nope", "text": "x"}):
        status, answer = await hall.call("bidder1", "POST", f"{base}/low-price-justifications", json=bad)
        assert status in (400, 409) and "\n" not in answer["error"], answer

    # -- decisions: accepted, rejected after the deadline, and an invalid bid -------------------------
    status, answer = await hall.call("e1", "POST", f"{base}/low-price-decisions", json={"bid": bid_of["bidder1"], "accepted": True, "reason": "合理"})
    one_line(status, answer, 403)
    status, body = await hall.call("e0", "POST", f"{base}/low-price-decisions",
                                   json={"bid": bid_of["bidder1"], "accepted": True, "reason": "库存设备，说明合理"})
    assert status == 201, body
    status, body = await hall.call("e0", "POST", f"{base}/low-price-decisions",
                                   json={"bid": bid_of["bidder4"], "accepted": False, "reason": "未在规定时间内提交书面说明"})
    assert status == 201, body
    status, body = await hall.call("e0", "POST", f"{base}/invalid-bids",
                                   json={"bid": bid_of["bidder3"], "ground": "conformity", "reason": "缺少法定代表人授权书"})
    assert status == 201 and body["state"] == "scoring", body  # three valid bids remain
    bids = {b["bidder_name"]: b for b in body["bids"]}
    assert bids["供应商 1"]["low_price"]["status"] == "accepted" and bids["供应商 1"]["low_price"]["decision"] == "库存设备，说明合理"
    assert (bids["供应商 4"]["invalid_ground"], bids["供应商 4"]["invalid_reason"]) == ("abnormally_low", "未在规定时间内提交书面说明")
    assert (bids["供应商 3"]["invalid_ground"], bids["供应商 3"]["invalid_reason"]) == ("conformity", "缺少法定代表人授权书")
    assert bids["供应商 3"]["invalid"] == "符合性审查不通过：缺少法定代表人授权书"
    assert bids["供应商 0"]["price"] == "105000.00"
    status, answer = await hall.call("e0", "POST", f"{base}/invalid-bids",
                                     json={"bid": bid_of["bidder3"], "ground": "conformity", "reason": "again"})
    assert "已被认定无效" in one_line(status, answer, 409)

    # -- the pages: the committee's for members, the bidder's for its bidders --------------------------
    for who, path, want in (("e2", "decisions", 200), ("supervisor", "decisions", 200), ("bidder0", "decisions", 403),
                            ("bidder1", "my-bid", 200), ("e2", "my-bid", 403)):
        resp = await hall.client.get(f"/evaluation/{tender_id}/{path}", headers={**hall.headers[who], "Accept": "text/html"})
        assert resp.status == want, (who, path, resp.status)
    status, answer = await hall.call("bidder2", "GET", f"/api/evaluation/{tender_id}/my-bid")
    assert status == 200 and answer["bids"][0]["low_price"] is None

    # -- the report shows every decision, in the HTML page and in the signed PDF ---------------------
    valid = [bid_of[b] for b in ("bidder0", "bidder1", "bidder2")]
    experts = [Actor(hall.accounts[f"e{i}"].id, "expert") for i in range(5)]
    for e in experts:
        await scoring.submit_sheets(ectx, e, tender_id, *sheets_doc(keys, tender_id, e.account, {b: {"c2": "40", "c3": "15"} for b in valid}))
    status, body = await hall.call("e0", "POST", f"{base}/tally")
    assert status == 201 and body["state"] == "signing", body
    resp = await hall.client.get(f"/evaluation/{tender_id}/report", headers={**hall.headers["supervisor"], "Accept": "text/html"})
    html = await resp.text()
    section = html[html.index('id="report-decisions"'):html.index("</table>", html.index('id="report-decisions"'))]
    for text in ("供应商 0", "105,000.00", "投标人已确认", "说明已接受", "库存设备，说明合理", "成本构成.pdf", digest,
                 "报价明显低于其他报价且未能证明其合理性：未在规定时间内提交书面说明", "符合性审查不通过：缺少法定代表人授权书"):
        assert text in section, text
    assert "abnormally_low" not in section and "conformity" not in section and "acct_" not in section
    pdf = await (await hall.client.get(f"/evaluation/{tender_id}/report.pdf", headers=hall.headers["supervisor"])).read()
    (tmp_path / "report.pdf").write_bytes(pdf)
    text = subprocess.run([need_executable("pdftotext"), str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    text = "".join(text.split())  # the table's cells wrap their lines
    assert "评审决定" in text and "说明已接受" in text and "缺少法定代表人授权书" in text, text
    # A reader who chose English gets an English copy: the labels translated, the signed content as signed.
    english_pdf = await (await hall.client.get(f"/evaluation/{tender_id}/report.pdf",
                                               headers={**hall.headers["supervisor"], "Cookie": hall.headers["supervisor"]["Cookie"] + "; lang=en"})).read()
    (tmp_path / "report-en.pdf").write_bytes(english_pdf)
    english = subprocess.run([need_executable("pdftotext"), str(tmp_path / "report-en.pdf"), "-"], capture_output=True,
                             text=True, check=True, timeout=60).stdout
    words = " ".join(english.split())
    for label in ("Evaluation report", "Committee decisions", "Justification accepted", "Confirmed by the bidder",
                  "Report hash (SHA-256"):
        assert label in words, label
    flat = "".join(english.split())
    assert digest in flat and "缺少法定代表人授权书" in flat and "评审决定" not in flat and "说明已接受" not in flat


async def test_justification_form_refusals_keep_nothing(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tender_id, bid_of, _ = await set_up(aiohttp_client, tmp_path)
    app = hall.client.app
    base = f"/api/evaluation/{tender_id}"
    status, body = await hall.call("e0", "POST", f"{base}/low-price-queries", json={"bid": bid_of["bidder1"], "minutes": 30})
    assert status == 201, body
    log, blobs = app[AUDIT_LOG], app[EVALUATION].tenders.blobs
    size, hashes = log.size, blobs.all_hashes()

    def form(**fields: Any) -> FormData:
        out = FormData()
        for name, value in fields.items():
            if name == "document":
                out.add_field("document", value[1], filename=value[0], content_type="application/pdf")
            else:
                out.add_field(name, value)
        return out

    cases = [
        ("bidder1", form(bid=bid_of["bidder1"], text="  ", document=("a.pdf", PDF)), 400),  # no text: the file is not kept
        ("bidder1", form(bid=bid_of["bidder1"], text="说明", document=("a.pdf", b"")), 400),  # an empty file
        ("bidder1", form(document=("a.pdf", PDF), bid=bid_of["bidder1"], text="说明"), 400),  # the file before the fields
        ("bidder1", form(bid=bid_of["bidder1"], text="说明", extra="x"), 400),
        ("bidder2", form(bid=bid_of["bidder1"], text="说明", document=("a.pdf", PDF)), 403),  # another bidder's bid
        ("bidder1", form(bid="B-0000", text="说明", document=("a.pdf", PDF)), 400),
        ("bidder1", form(bid=bid_of["bidder1"], text="说明", document=("..", PDF)), 400),
        ("supervisor", form(bid=bid_of["bidder1"], text="说明"), 403),
        ("bidder1", form(bid=bid_of["bidder1"], text="说明", document=("a.pdf", PDF), extra="after the file"), 400),
        ("bidder1", form(bid=bid_of["bidder1"], text="长" * 40_000), 400),
    ]
    for who, data, want in cases:
        status, answer = await hall.call(who, "POST", f"{base}/low-price-justifications", data=data)
        assert status == want and "\n" not in answer["error"], (who, status, answer)
        assert blobs.all_hashes() == hashes, (who, answer)
    raw = b"--x\r\nContent-Disposition: form-data; name=\"bid\"\r\n\r\n\xff\xfe\r\n--x--\r\n"
    status, answer = await hall.call("bidder1", "POST", f"{base}/low-price-justifications", data=raw,
                                     headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400 and "\n" not in answer["error"], answer
    for content_type, raw in (("multipart/form-data", b"{}"),  # no boundary (a fuzzer's find)
                              ("multipart/form-data; boundary=x", b"--y\r\nnot the boundary\r\n")):
        status, answer = await hall.call("bidder1", "POST", f"{base}/low-price-justifications", data=raw,
                                         headers={"Content-Type": content_type})
        assert status == 400 and answer["error"].startswith("表单格式无效"), (content_type, status, answer)
    assert log.size == size and blobs.all_hashes() == hashes
    big = form(bid=bid_of["bidder1"], text="说明", document=("大.pdf", b"%PDF" + bytes(21 << 20)))
    status, answer = await hall.call("bidder1", "POST", f"{base}/low-price-justifications", data=big)
    assert status == 413 and answer["error"].startswith("证明材料不能超过 20 MiB"), answer
    assert log.size == size and blobs.all_hashes() == hashes
    assert next(b for b in (await get_session(app[EVALUATION], tender_id)).bids if b["bid"] == bid_of["bidder1"])["low_price"]["status"] == "open"
    scan = b"%PDF-1.4 scanned letter " + bytes(range(256)) * (12 << 12)  # 12 MiB: beyond any request-body limit
    status, mine = await hall.call("bidder1", "POST", f"{base}/low-price-justifications",
                                   data=form(bid=bid_of["bidder1"], text="说明", document=("扫描件.pdf", scan)))
    assert status == 201 and mine["bids"][0]["low_price"]["justification"]["document_size"] == len(scan), mine


def test_bidders_and_members_are_told() -> None:
    """The notices of the decisions (evaluation/notifications/rules.py): the bid's bidder for a
    correction or a price query, the other members for a bidder's answer."""
    facts = Facts(title="办公设备", members=("e1", "e2"), bid_bidders={"B-1": "b1", "B-2": "b2"})
    leader, bidder = Actor("e1", "expert"), Actor("b1", "bidder")
    for kind, link, text in (("evaluation.price_correction", "/evaluation/T-1/my-bid", "算术修正"),
                             ("evaluation.low_price_query", "/evaluation/T-1/my-bid", "书面说明")):
        [n] = notices_for(Entry(1, datetime.now(UTC), "T-1", leader, kind, {"bid": "B-1"}, b""), facts)
        assert (n.account, n.link) == ("b1", link) and text in n.text.format(**n.values)
    answered = Entry(2, datetime.now(UTC), "T-1", bidder, "evaluation.low_price_justified", {"bid": "B-1"}, b"")
    assert [(n.account, n.link) for n in notices_for(answered, facts)] == [("e1", "/evaluation/T-1/decisions"),
                                                                         ("e2", "/evaluation/T-1/decisions")]
    assert notices_for(Entry(3, datetime.now(UTC), "T-1", leader, "evaluation.low_price_query", {"bid": "B-9"}, b""), facts) == []


async def test_the_leader_records_a_justification_given_in_the_booth(aiohttp_client: Any, tmp_path: Path) -> None:
    hall, tender_id, bid_of, _ = await set_up(aiohttp_client, tmp_path)
    base = f"/api/evaluation/{tender_id}"
    assert (await hall.call("e0", "POST", f"{base}/low-price-queries", json={"bid": bid_of["bidder1"], "minutes": 30}))[0] == 201
    said = {"bid": bid_of["bidder1"], "text": "投标人代表在评标舱内说明：库存设备"}
    status, answer = await hall.call("e2", "POST", f"{base}/low-price-justifications", json=said)  # a member, not the leader
    assert "只有供应商 1本人可以答复" in one_line(status, answer, 403)
    status, body = await hall.call("e0", "POST", f"{base}/low-price-justifications", json=said)
    assert status == 201, body
    [b] = [b for b in body["bids"] if b["bid"] == bid_of["bidder1"]]
    assert b["low_price"]["status"] == "justified" and b["low_price"]["justification"]["in_booth"] is True
    status, mine = await hall.call("bidder1", "GET", f"{base}/my-bid")
    assert mine["bids"][0]["low_price"]["justification"]["text"] == said["text"]
