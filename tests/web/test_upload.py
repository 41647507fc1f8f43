"""A large bid streams to disk over HTTP: the server's memory does not grow with its size."""

from __future__ import annotations

import hashlib
import os
import resource
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.evaluation.tender_fixtures import sealed
from tests.web.tender_client import start, tender_body
from web.keys import AUDIT_LOG

SIZE = 300 << 20


async def test_300_mb_upload_keeps_memory_flat(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600, max_bid_bytes=400 << 20))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    head = sealed(hall.chain, tender["opening_round"], plaintext=b"")  # a real header; the payload is not read at upload
    block = bytes(range(256)) * 4096  # 1 MiB

    async def body() -> AsyncIterator[bytes]:
        yield head
        sent = len(head)
        while sent < SIZE:
            piece = block[: SIZE - sent]
            sent += len(piece)
            yield piece

    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    status, receipt = await hall.call(
        "bidder0", "PUT", f"/api/tenders/{tender['id']}/bid", data=body(), headers={"Content-Type": "application/octet-stream"}
    )
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert status == 201, receipt
    assert receipt["bid"]["size"] == SIZE
    assert growth_mib < 64, f"peak RSS grew by {growth_mib:.0f} MiB for a {SIZE >> 20} MiB upload"
    blob = tmp_path / "data" / "blobs" / "sha256" / receipt["bid"]["sha256"][:2] / receipt["bid"]["sha256"][2:4] / receipt["bid"]["sha256"]
    assert blob.stat().st_size == SIZE


def blob_files(tmp_path: Path) -> list[Path]:
    root = tmp_path / "data" / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def published(hall: Any) -> dict[str, Any]:
    _, tender = await hall.call("agency", "POST", "/api/tenders", json=tender_body(600))
    _, tender = await hall.call("agency", "POST", f"/api/tenders/{tender['id']}/publish")
    return dict(tender)


async def test_upload_in_parts_stores_the_same_bid(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender = await published(hall)
    bid = sealed(hall.chain, tender["opening_round"], docs=[("技术标.bin", os.urandom(700_000))])
    base = f"/api/tenders/{tender['id']}/bid/uploads"
    octet = {"Content-Type": "application/octet-stream"}
    status, started = await hall.call("bidder0", "POST", base, json={"size": len(bid)})
    assert status == 201, started
    part_url = f"{base}/{started['upload']}"

    # Another bidder cannot use the session; a part out of order is refused and changes nothing.
    status, _ = await hall.call("bidder1", "PUT", f"{part_url}?offset=0", data=bid[:10], headers=octet)
    assert status in (403, 404)
    status, answer = await hall.call("bidder0", "PUT", f"{part_url}?offset=5", data=bid[:10], headers=octet)
    assert status == 409, answer

    cuts = [0, 300_000, 600_000, len(bid)]
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        last = "&last=1" if b == len(bid) else ""
        status, answer = await hall.call("bidder0", "PUT", f"{part_url}?offset={a}{last}", data=bid[a:b], headers=octet)
        if last:
            assert status == 201, answer
            receipt = answer
        else:
            assert (status, answer) == (200, {"received": b})
    assert receipt["bid"]["sha256"] == hashlib.sha256(bid).hexdigest()
    assert receipt["receipt"]["entry"]["kind"] == "bid.submitted"
    assert [p.read_bytes() for p in blob_files(tmp_path)] == [bid]
    status, _ = await hall.call("bidder0", "PUT", f"{part_url}?offset=0", data=b"x", headers=octet)
    assert status == 404  # the session is over


async def test_cancelled_upload_leaves_nothing(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender = await published(hall)
    bid = sealed(hall.chain, tender["opening_round"], docs=[("技术标.bin", os.urandom(3 << 20))])
    base = f"/api/tenders/{tender['id']}/bid/uploads"
    octet = {"Content-Type": "application/octet-stream"}
    log_size = hall.client.app[AUDIT_LOG].size
    _, started = await hall.call("bidder0", "POST", base, json={"size": len(bid)})
    part_url = f"{base}/{started['upload']}"
    status, answer = await hall.call("bidder0", "PUT", f"{part_url}?offset=0", data=bid[: 2 << 20], headers=octet)
    assert (status, answer) == (200, {"received": 2 << 20})
    assert len(list((tmp_path / "data" / "blobs" / "tmp").iterdir())) == 1  # being received

    status, answer = await hall.call("bidder0", "DELETE", part_url)
    assert (status, answer) == (200, {"cancelled": True})
    assert blob_files(tmp_path) == []
    assert await hall.kinds_since(log_size) == []
    status, _ = await hall.call("bidder0", "GET", f"/api/tenders/{tender['id']}/bid")
    assert status == 404
    status, _ = await hall.call("bidder0", "PUT", f"{part_url}?offset={2 << 20}&last=1", data=bid[2 << 20 :], headers=octet)
    assert status == 404


async def test_upload_in_parts_refuses_a_bad_header_at_the_first_part(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    tender = await published(hall)
    wrong_round = sealed(hall.chain, tender["opening_round"] + 1, docs=[("技术标.bin", os.urandom(100_000))])
    base = f"/api/tenders/{tender['id']}/bid/uploads"
    octet = {"Content-Type": "application/octet-stream"}
    _, started = await hall.call("bidder0", "POST", base, json={"size": len(wrong_round) + 100})
    status, answer = await hall.call("bidder0", "PUT", f"{base}/{started['upload']}?offset=0", data=wrong_round, headers=octet)
    assert status == 400, answer
    assert "\n" not in answer["error"]
    assert blob_files(tmp_path) == []
    status, answer = await hall.call("bidder0", "POST", base, json={"size": "big"})
    assert status == 400 and "size" in answer["error"]
