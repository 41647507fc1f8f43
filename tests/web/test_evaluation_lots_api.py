"""The evaluation of a two-lot tender (分包) over real HTTP: each lot's session is
``/api/evaluation/<tender>.<lot>``, started from that id or from the tender's with ``lot``; hostile
ids (a lot the tender lacks, a malformed lot, a second start) are refused with one line and the
right status, writing nothing; the pages name the lot, the tender page lists each lot's
evaluation with a start button while it has none, and the experts' workbench links each lot."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from crypto.beacon import LocalBeaconSource
from evaluation.accounts.account import Role
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from tests.evaluation.tender_fixtures import BIDDERS, chunks, meta, sealed, spec
from tests.evaluation.test_lot_session import BIDS, LOTS
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import Hall, start
from tests.web.tender_client import drawn_committee as draw_over_api
from web.api.tenders import TENDERS
from web.keys import AUDIT_LOG, LOCAL_BEACON

CRITERIA = [{"name": "价格", "points": 30}, {"name": "技术方案", "points": 50}, {"name": "商务", "points": 20}]


async def two_lot_tender(hall: Hall) -> tuple[str, list[str]]:
    """A confirmed tender of two lots (计算机, 打印机) with four opened bids, its committee drawn."""
    app = hall.client.app
    names = []
    for i in range(5):
        account = await make_account(app, Role.expert, f"e{i}")
        hall.accounts[f"e{i}"], hall.headers[f"e{i}"] = account, await session_headers(app, account)
        names.append(f"e{i}")
    ctx: tenders.TenderContext = app[TENDERS]
    t = await tenders.create(ctx, hall.accounts["agency"].actor, "采购中心",
                             spec(3, criteria=CRITERIA, objection_window_s=0, lots=LOTS))
    t = await tenders.publish(ctx, hall.accounts["agency"].actor, t.id)
    assert t.opening_round is not None
    for i, lots in enumerate(BIDS):
        await bids.submit(ctx, BIDDERS[i], t.id, chunks(sealed(ctx.chain, t.opening_round, {"delivery_days": 30, "lots": lots})),
                          meta(i))
    await opening.run(ctx, t.id, await LocalBeaconSource(app[LOCAL_BEACON]).wait_for(t.opening_round))
    await opening_record.finalize(dataclasses.replace(ctx, clock=lambda: time.time() + 5), t.id)
    await draw_over_api(hall, t.id, names)
    return t.id, names


def one_line(body: Any) -> str:
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    text = body["error"]
    assert "\n" not in text and "Traceback" not in text and len(text) < 300, text
    return text


async def test_each_lot_has_its_own_session_over_http(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tid, experts = await two_lot_tender(hall)
    status, body = await hall.call(experts[0], "POST", f"/api/experts/me/invitations/{tid}/accept", json={})
    assert status in (200, 201), body
    log = hall.client.app[AUDIT_LOG]
    size = log.size

    for path, status_wanted, words in ((f"/api/evaluation/{tid}.3/start", 400, "分包"),
                                       (f"/api/evaluation/{tid}.0/start", 400, "评标编号"),
                                       (f"/api/evaluation/{tid}.1x/start", 400, "评标编号"),
                                       (f"/api/evaluation/{tid}/start", 400, "分包")):
        status, body = await hall.call("agency", "POST", path, json={})
        assert status == status_wanted and words in one_line(body), (path, status, body)
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tid}.2/start", json={"lot": 1})
    assert status == 400 and "第2包" in one_line(body)
    status, body = await hall.call("e0", "GET", f"/api/evaluation/{tid}.2")
    assert status == 404, body
    status, body = await hall.call("agency", "GET", f"/evaluation/{tid}.7")
    assert status == 404 and "第7包" in one_line(body)
    assert log.size == size  # nothing written by the refusals
    assert (await tenders.get(hall.client.app[TENDERS], tid)).state.value == "confirmed"

    status, page = await hall.call("agency", "GET", f"/evaluation/{tid}.2")
    assert status == 200 and 'id="start-lot-fixed"' in page and "第2包" in page and 'id="start-lot"' not in page
    documents = page.split('id="documents"')[1].split("</table>")[0]
    assert "供应商 3" in documents and "供应商 2" not in documents  # the bids on lot 2 only
    status, page = await hall.call("agency", "GET", f"/tenders/{tid}")
    assert page.count('class="button start-lot"') == 2 and f'href="/evaluation/{tid}.1"' in page

    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tid}.2/start", json={})
    assert status == 201 and body["id"] == f"{tid}.2" and body["lot"] == {"lot": 2, "name": "打印机"}, body
    assert {b["price_fen"] for b in body["bids"]} == {15_000_000, 16_000_000, 14_000_050}
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tid}.2/start", json={})
    assert status == 409 and "第2包的评标已经开始" in one_line(body)
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tid}/start", json={"lot": 1})
    assert status == 201 and body["id"] == f"{tid}.1" and body["tender"]["state"] == "evaluating", body
    status, body = await hall.call("e0", "GET", f"/api/evaluation/{tid}")
    assert status == 404 and "分包评标" in one_line(body)

    status, page = await hall.call("e0", "GET", f"/evaluation/{tid}.1")
    assert status == 200 and 'id="eval-lot"' in page and "第1包 计算机" in page
    status, page = await hall.call("agency", "GET", f"/tenders/{tid}")
    assert 'class="button start-lot"' not in page and page.count('data-state="checkin"') == 2
    status, page = await hall.call(experts[0], "GET", "/")
    assert f'href="/evaluation/{tid}.1"' in page and f'href="/evaluation/{tid}.2"' in page

    size = log.size
    status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/result", json={"lot": 1})
    assert status == 409 and "评标报告尚未经全体成员签署" in one_line(body)
    for bad in ({"lot": 5}, {"lot": "1"}, {}):
        status, body = await hall.call("agency", "POST", f"/api/tenders/{tid}/result", json=bad)
        assert status == 400, (bad, body)
        one_line(body)
    assert log.size == size
