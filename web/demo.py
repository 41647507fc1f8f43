"""Demo data for `pingbiao demo`: sample bids sealed to rounds a minute or two ahead that open by
themselves while a newcomer watches (/demo/timelock). Real tlock files, the real beacon, no shortcut.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from crypto import tlock
from crypto.errors import CryptoError
from web import keys
from web.pages import render

log = logging.getLogger("pingbiao.demo")

SAMPLES = [
    ("华东建设工程有限公司 East China Construction Co.", "总报价 Total price: ¥1,268,000; 交货期 Delivery: 60 days"),
    ("杭州智联科技有限公司 Hangzhou Zhilian Technology", "总报价 Total price: ¥1,192,500; 交货期 Delivery: 45 days"),
    ("宁波海工装备有限公司 Ningbo Marine Equipment", "总报价 Total price: ¥1,305,000; 交货期 Delivery: 50 days"),
]
OPEN_AFTER = (20, 45, 75)  # seconds after start-up


@dataclass
class DemoBid:
    bidder: str
    round: int
    opens_at: float
    sealed_file: str
    sealed_bytes: int
    opened: str | None = None
    error: str | None = None


DEMO_BIDS = web.AppKey("demo_bids", list[DemoBid])


def _demo_dir(app: web.Application) -> Path:
    return app[keys.SETTINGS].data_dir / "demo"


DEMO_DELAYS = web.AppKey("demo_delays", tuple)


async def _seal_samples(app: web.Application) -> list[DemoBid]:
    chain = app[keys.CHAIN]
    folder = _demo_dir(app)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    bids = []
    for i, ((bidder, record), delay) in enumerate(zip(SAMPLES, app[DEMO_DELAYS], strict=True)):
        round = chain.round_not_before(now + delay)
        path = folder / f"bid-{i + 1}.age"
        payload = json.dumps({"bidder": bidder, "opening_record": record}, ensure_ascii=False).encode()
        with path.open("wb") as dst:
            tlock.seal(io.BytesIO(payload), dst, chain, round, armor=True)
        bids.append(DemoBid(bidder, round, chain.time_of(round), path.name, path.stat().st_size))
    return bids


async def _open_when_due(app: web.Application, bid: DemoBid) -> None:
    beacon = await app[keys.BEACON].wait_for(bid.round)
    out = io.BytesIO()
    try:
        with (_demo_dir(app) / bid.sealed_file).open("rb") as src:
            tlock.unseal(src, out, app[keys.CHAIN], beacon.signature)
        bid.opened = json.loads(out.getvalue())["opening_record"]
        log.info("demo bid opened", extra={"round": bid.round, "file": bid.sealed_file})
    except CryptoError as exc:
        bid.error = str(exc)


async def _demo_ctx(app: web.Application) -> AsyncIterator[None]:
    app[DEMO_BIDS] = await _seal_samples(app)
    tasks = [asyncio.create_task(_open_when_due(app, bid)) for bid in app[DEMO_BIDS]]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _bids_json(app: web.Application) -> list[dict[str, Any]]:
    return [asdict(b) for b in app[DEMO_BIDS]]


async def demo_page(request: web.Request) -> web.Response:
    return render(request, "demo_timelock.html", bids=_bids_json(request.app), now=time.time())


async def demo_api(request: web.Request) -> web.Response:
    return web.json_response({"now": time.time(), "bids": _bids_json(request.app)})


def install_demo(app: web.Application, delays: tuple[float, ...] = OPEN_AFTER) -> None:
    """Add the demo's data and pages to an application built by create_app.

    `delays`: seconds after start-up at which each sample bid becomes openable (one per sample).
    """
    app[DEMO_DELAYS] = delays
    app.cleanup_ctx.append(_demo_ctx)
    app.router.add_get("/demo/timelock", demo_page, name="demo.timelock")
    app.router.add_get("/api/demo/timelock", demo_api, name="api.demo.timelock")
