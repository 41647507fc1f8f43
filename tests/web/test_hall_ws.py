"""The opening hall over WebSocket: snapshot on connect, then the record bid by bid as the
scheduler opens the bids on the real local beacon, then the final record."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from crypto import tlock
from evaluation.tenders.bid_container import build_container
from tests.web.tender_client import start, tender_body


async def test_hall_receives_the_record_live(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(3, min_bids=3))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    for n in range(3):
        out = io.BytesIO()
        plain = build_container({"total_price": f"{100 + n}.00", "delivery_days": 10}, [("a.txt", b"doc")])
        tlock.seal(io.BytesIO(plain), out, hall.chain, tender["opening_round"])
        status, _ = await hall.call(f"bidder{n}", "PUT", f"/api/tenders/{tender['id']}/bid", data=out.getvalue(),
                                    headers={"Content-Type": "application/octet-stream"})
        assert status == 201
    path = f"/api/tenders/{tender['id']}/hall/ws"
    other = await hall.client.ws_connect(path, headers={"Cookie": hall.headers["bidder2"]["Cookie"]})
    ws = await hall.client.ws_connect(path, headers={"Cookie": hall.headers["bidder0"]["Cookie"],
                                                     "Origin": f"http://{hall.client.host}:{hall.client.port}"})
    snapshot = await ws.receive_json(timeout=5)
    assert snapshot["type"] == "snapshot" and snapshot["tender"]["opening_round"] == tender["opening_round"]
    assert (await other.receive_json(timeout=5))["type"] == "snapshot"
    await hall.call("bidder0", "POST", f"/api/tenders/{tender['id']}/hall/signin", json={"name": "零号供应商"})
    events = []
    while not events or events[-1]["type"] != "record.final":
        events.append(await ws.receive_json(timeout=15))
    types = [e["type"] for e in events]
    assert types[0] == "signin" and types[1] == "phase" and events[1]["signins"] == ["零号供应商"]
    assert types[2:] == ["record.bid"] * 3 + ["record.final"]
    assert sorted(e["row"]["fields"]["total_price"] for e in events[2:5]) == ["100.00", "101.00", "102.00"]
    other_first = await other.receive_json(timeout=5)
    assert other_first["type"] == "phase"  # bidder2 never saw bidder0's sign-in before the opening
    assert (await ws.receive_json(timeout=5))["type"] == "phase"  # confirming
    await ws.close()
    await other.close()
    status, _ = await hall.call("bidder3", "GET", path)
    assert status == 403
    resp = await hall.client.get(path, headers={**hall.headers["bidder0"], "Origin": "http://evil.example", "Upgrade": "websocket",
                                                "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 403
