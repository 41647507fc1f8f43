"""The evaluation API over real HTTP: who may call what (status codes and one-line errors), the
independence of sheets, refusals that log nothing, and `pingbiao audit replay` (a real process)
recomputing the stored tally from the installation's log and from an exported bundle.

The committee is drawn for real (pool import and draw over the API, the draw job on the local
beacon) and read by the session through production's source, evaluation.experts.committee_of."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role
from evaluation.session.session import drawn_committee
from tests.e2e.test_evaluation_flow import confirmed_tender
from tests.evaluation.session_fixtures import Keys, sheets_doc
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import Hall, start
from tests.web.tender_client import drawn_committee as draw_over_api
from web.api.evaluation import EVALUATION
from web.keys import AUDIT_LOG

ROOT = Path(__file__).resolve().parents[2]


async def seated(hall: Hall, n: int = 5, **spec: Any) -> tuple[str, list[str]]:
    app = hall.client.app
    names = []
    for i in range(n):
        account = await make_account(app, Role.expert, f"e{i}")
        hall.accounts[f"e{i}"], hall.headers[f"e{i}"] = account, await session_headers(app, account)
        names.append(f"e{i}")
    tender_id = await confirmed_tender(app, hall.accounts["agency"].actor, **spec)
    assert app[EVALUATION].committee is drawn_committee  # production's source, no stand-in
    await draw_over_api(hall, tender_id, names)
    return tender_id, names


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PINGBIAO_DATA_DIR": str(data_dir), "PINGBIAO_LOG_ORIGIN": "test.example/audit"}
    env.pop("PINGBIAO_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "web.cli", *args], check=False, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


async def test_api_rules_flow_and_replay(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender_id, experts = await seated(hall)
    base = f"/api/evaluation/{tender_id}"
    keys = Keys()
    acct = {n: hall.accounts[n].id for n in experts}

    assert (await hall.call("bidder0", "POST", f"{base}/start", json={}))[0] == 403
    assert (await hall.call("agency2", "POST", f"{base}/start", json={}))[0] == 403
    assert (await hall.call("e0", "GET", base))[0] == 404  # not started
    status, body = await hall.call("agency", "POST", f"{base}/start", json={"config": {"deviation_threshold": "3/10"}})
    assert status == 201 and body["state"] == "checkin", body
    session_bids = body["bids"]
    assert (await hall.call("agency", "POST", f"{base}/start", json={}))[0] == 409
    assert (await hall.call("expert", "GET", base))[0] == 403  # an expert not on this committee
    assert (await hall.call("supervisor", "POST", f"{base}/checkin", json={}))[0] == 403
    status, body = await hall.call("e0", "POST", f"{base}/checkin", json={**keys.checkin(acct["e0"], session_bids), "declaration_sha256": "0" * 64})
    assert status == 400 and body["error"].startswith("请阅读并接受当前的回避声明")
    for n in experts:
        assert (await hall.call(n, "POST", f"{base}/checkin", json=keys.checkin(acct[n], session_bids)))[0] == 201
    for n in experts[:3]:
        status, body = await hall.call(n, "POST", f"{base}/votes", json={"candidate": acct["e0"]})
        assert status == 201, body
    assert body["state"] == "scoring" and body["leader"] == acct["e0"]

    bid_ids = [b["bid"] for b in body["bids"]]
    assert body["local_beacon"] and "本地信标" in body["local_beacon_note"]  # said plainly
    assert {"price", "evaluated_price", "deduction_percent"} <= set(body["bids"][0])
    size = hall.client.app[AUDIT_LOG].size
    decision = {"bid": bid_ids[0], "ground": "conformity", "reason": "缺少授权书"}
    status, body = await hall.call("e1", "POST", f"{base}/invalid-bids", json=decision)
    assert (status, body["error"]) == (403, "只有评标组长可以记录评标委员会的决定")
    status, body = await hall.call("e0", "POST", f"{base}/invalid-bids", json={**decision, "ground": "dislike"})
    assert status == 400 and "ground 须为 qualification" in body["error"], body
    status, body = await hall.call("e0", "POST", f"{base}/price-corrections", json={"bid": bid_ids[0], "rule": "words",
                                                                                   "words": "x", "explanation": "e"})
    assert status == 400 and "不是有效的大写金额" in body["error"], body
    status, body = await hall.call("bidder0", "GET", f"{base}/my-bid")  # bidder0 did not bid in this tender
    assert (status, body["error"]) == (403, "您在本次评标中没有投标")
    status, body = await hall.call("bidder0", "POST", f"{base}/price-corrections/answer", json={"bid": bid_ids[0], "confirm": True})
    assert status == 403 and body["error"].startswith("只有供应商 ") and body["error"].endswith("本人可以答复")
    assert (await hall.call("e0", "GET", f"{base}/my-bid"))[0] == 403  # bidders only
    assert hall.client.app[AUDIT_LOG].size == size  # refusals log nothing
    scores = {b: {"c2": "40", "c3": "15"} for b in bid_ids}
    text, _ = sheets_doc(keys, tender_id, acct["e0"], scores)
    size = hall.client.app[AUDIT_LOG].size
    status, body = await hall.call("e0", "POST", f"{base}/sheets", json={"document": text, "signature": Keys().sign(acct["e0"], text.encode())})
    assert (status, body["error"]) == (400, "签名与您登记的签名密钥不符")
    for hostile in ("1e10000000", "1e5000"):  # once 17.7 s of a frozen server, then a 500
        raw = [{"bid": b, "expert": acct["e0"], "scores": {"c2": hostile, "c3": "15"}, "total": None} for b in sorted(bid_ids)]
        text, sig = keys.document("pingbiao-sheets/1", tender_id, acct["e0"], sheets=raw)
        status, body = await hall.call("e0", "POST", f"{base}/sheets", json={"document": text, "signature": sig})
        assert status == 400 and "不是数字" in body["error"] and "\n" not in body["error"], body
    assert hall.client.app[AUDIT_LOG].size == size
    for i, n in enumerate(experts):
        mine = {b: ({"c2": "10", "c3": "15"} if i == 4 and b == bid_ids[0] else s) for b, s in scores.items()}
        text, sig = sheets_doc(keys, tender_id, acct[n], mine)
        status, body = await hall.call(n, "POST", f"{base}/sheets", json={"document": text, "signature": sig})
        assert status == 201, body
        if i == 0:
            assert list(body["sheets"]) == [acct["e0"]]
            assert (await hall.call("e1", "GET", f"{base}/sheets/{acct['e0']}"))[0] == 404
            assert (await hall.call("e0", "GET", f"{base}/sheets/{acct['e0']}"))[0] == 200
    assert body["state"] == "review" and body["review"]["deviations"]
    change = {"expert": acct["e4"], "bid": bid_ids[0], "criterion": "c2", "new": "39", "explanation": "核对 re-checked"}
    text, sig = keys.document("pingbiao-change/1", tender_id, acct["e4"], change={**change, "reason": "it felt low"})
    status, body = await hall.call("e4", "POST", f"{base}/changes", json={"document": text, "signature": sig})
    assert status == 409 and body["error"].startswith("修改评分须选择允许的理由")
    text, sig = keys.document("pingbiao-change/1", tender_id, acct["e4"], change={**change, "reason": "abnormal_high_low"})
    assert (await hall.call("e4", "POST", f"{base}/changes", json={"document": text, "signature": sig}))[0] == 201
    assert (await hall.call("e1", "POST", f"{base}/tally"))[0] == 403
    status, body = await hall.call("e0", "POST", f"{base}/tally")
    assert status == 201 and body["state"] == "signing", body
    for n in experts:
        text, sig = keys.document("pingbiao-report/1", tender_id, acct[n], sha256=body["report_sha256"])
        assert (await hall.call(n, "POST", f"{base}/report/signatures", json={"document": text, "signature": sig}))[0] == 201
    status, report = await hall.call("supervisor", "GET", f"{base}/report")
    assert status == 200 and report["final"] and len(report["signers"]) == 5
    resp = await hall.client.get(f"/evaluation/{tender_id}/report.pdf", headers=hall.headers["agency"])
    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")

    data_dir = tmp_path / "data"
    done = run_cli(data_dir, "audit", "replay", tender_id)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr + done.stdout
    assert done.stdout.startswith("1. ")
    exported = run_cli(data_dir, "audit", "export", str(tmp_path / "bundle"))
    assert exported.returncode == 0, exported.stderr
    offline = run_cli(data_dir, "audit", "replay", tender_id, "--bundle", str(tmp_path / "bundle"))
    assert offline.returncode == 0 and offline.stdout == done.stdout, offline.stderr


async def test_the_agency_adds_a_representative_by_username(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender_id, _ = await seated(hall)
    base = f"/api/evaluation/{tender_id}"
    assert (await hall.call("agency", "POST", f"{base}/start", json={}))[0] == 201
    rep = await make_account(hall.client.app, Role.agency, "rep-zhang")
    for bad in ("nobody", "", "  ", 7, ["rep-zhang"], None):
        status, body = await hall.call("agency", "POST", f"{base}/members", json={"username": bad})
        assert status == 404 and "用户名" in body["error"], (bad, body)
    assert (await hall.call("agency2", "POST", f"{base}/members", json={"username": "REP-zhang"}))[0] == 403
    status, body = await hall.call("agency", "POST", f"{base}/members", json={"username": "REP-zhang"})
    assert status == 201 and [m["name"] for m in body["members"] if m["account"] == rep.id] == [rep.display_name], body
