"""A large bid streams to disk over HTTP: the server's memory does not grow with its size."""

from __future__ import annotations

import resource
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.evaluation.tender_fixtures import sealed
from tests.web.tender_client import start, tender_body

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
