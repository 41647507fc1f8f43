"""畸高畸低 over real HTTP, on SQLite and PostgreSQL: only the outlying expert is flagged (the
median rule), the tally is refused with one Chinese line naming the expert, the bidder and the
criterion while the deviation is open, hostile confirmations change nothing, and the expert's
confirmation with a reason (logged) lets the tally proceed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.evaluation.session_fixtures import Keys, sheets_doc
from tests.web import test_signin_throttle
from tests.web.tender_client import start
from tests.web.test_evaluation_api import seated
from web.keys import AUDIT_LOG

database_url = test_signin_throttle.database_url  # the fixture: SQLite, then a fresh PostgreSQL database


async def test_one_outlier_is_flagged_and_blocks_the_tally_until_confirmed(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    hall = await start(aiohttp_client, tmp_path, database_url=database_url)
    tender_id, experts = await seated(hall)
    base = f"/api/evaluation/{tender_id}"
    keys = Keys()
    acct = {n: hall.accounts[n].id for n in experts}
    status, body = await hall.call("agency", "POST", f"{base}/start", json={"config": {"deviation_threshold": "3/10"}})
    assert status == 201, body
    for n in experts:
        assert (await hall.call(n, "POST", f"{base}/checkin", json=keys.checkin(acct[n], body["bids"])))[0] == 201
    for n in experts[:3]:
        status, body = await hall.call(n, "POST", f"{base}/votes", json={"candidate": acct["e0"]})
    assert body["state"] == "scoring", body
    bid_ids = [b["bid"] for b in body["bids"]]
    outlier_bid = bid_ids[0]
    for n in experts:  # c2 has 50 points: e4's 10 is 30 from the median 40 (> 15); the others sit on it
        mine = {b: {"c2": "10" if (n == "e4" and b == outlier_bid) else "40", "c3": "15"} for b in bid_ids}
        text, sig = sheets_doc(keys, tender_id, acct[n], mine)
        status, body = await hall.call(n, "POST", f"{base}/sheets", json={"document": text, "signature": sig})
        assert status == 201, body
    assert body["state"] == "review"
    [d] = body["review"]["deviations"]  # only e4, not the experts its low score pulls the mean from
    assert (d["expert"], d["bid"], d["criterion"], d["score"], d["median"], d["others_low"], d["others_high"], d["high"]) == (
        acct["e4"], outlier_bid, "c2", "10", "40", "40", "40", False)
    assert (await hall.call("e0", "GET", base))[1]["review"]["deviations"][0]["reason"] is None  # open

    expert_name = next(m["name"] for m in body["members"] if m["account"] == acct["e4"])
    bidder_name = next(b["bidder_name"] for b in body["bids"] if b["bid"] == outlier_bid)
    status, refused = await hall.call("e0", "POST", f"{base}/tally")
    assert status == 409, refused
    line = refused["error"]
    assert "\n" not in line and expert_name in line and bidder_name in line and "技术方案" in line, line
    assert "acct_" not in line and outlier_bid not in line, line

    log = hall.client.app[AUDIT_LOG]
    size = log.size
    good = {"bid": outlier_bid, "criterion": "c2", "reason": "已复核投标文件，维持评分"}
    for hostile in ({**good, "reason": 5}, {**good, "reason": ["x"]}, {**good, "reason": "  "}, {**good, "reason": "x" * 5000},
                    {**good, "bid": "B-nope"}, {**good, "bid": {"a": 1}}, {**good, "criterion": "c9"}, {"bid": outlier_bid}):
        status, err = await hall.call("e4", "POST", f"{base}/deviations/confirm", json=hostile)
        assert status == 400 and "\n" not in err["error"], (hostile, status, err)
    raw = ('{"bid": "%s", "criterion": "c2", "reason": "\\ud800"}' % outlier_bid).encode()
    status, err = await hall.call("e4", "POST", f"{base}/deviations/confirm", data=raw,
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and "\n" not in err["error"], err
    status, err = await hall.call("e1", "POST", f"{base}/deviations/confirm", json=good)  # e1's score does not deviate
    assert status == 400, err
    assert (await hall.call("bidder0", "POST", f"{base}/deviations/confirm", json=good))[0] == 403
    assert (await hall.call("supervisor", "POST", f"{base}/deviations/confirm", json=good))[0] == 403
    assert log.size == size  # nothing logged by any refusal
    assert (await hall.call("e0", "POST", f"{base}/tally"))[0] == 409

    status, body = await hall.call("e4", "POST", f"{base}/deviations/confirm", json=good)
    assert status == 201, body
    assert body["review"]["deviations"][0]["reason"] == good["reason"]  # the page sees it confirmed
    assert await hall.kinds_since(size) == ["evaluation.deviation_confirmed"]
    [entry] = await log.entries(size, log.size)
    assert entry.payload["reason"] == good["reason"] and entry.payload["expert"] == acct["e4"]
    assert entry.payload["median"] == "40"
    status, err = await hall.call("e4", "POST", f"{base}/deviations/confirm", json=good)  # once is enough
    assert status == 400, err
    status, body = await hall.call("e0", "POST", f"{base}/tally")
    assert status == 201 and body["state"] == "signing", body
    status, report = await hall.call("supervisor", "GET", f"{base}/report")
    assert status == 200, report
    [logged] = report["report"]["deviations"]  # the report keeps the deviation with the expert's reason
    assert (logged["expert"], logged["median"], logged["reason"]) == (acct["e4"], "40", good["reason"])
    resp = await hall.client.get(f"/evaluation/{tender_id}/report", headers=hall.headers["supervisor"])
    page = await resp.text()
    assert resp.status == 200 and good["reason"] in page and "中位数" in page
    resp = await hall.client.get(f"/evaluation/{tender_id}/report.pdf", headers=hall.headers["agency"])
    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
