"""Demo data for `pingbiao demo`: sample bids sealed to rounds a minute or two ahead that open by
themselves while a newcomer watches (/demo/timelock). Real tlock files, the real beacon, no shortcut.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from crypto import tlock
from crypto.errors import CryptoError
from web import keys
from web.demo.data import ACCOUNTS, SAMPLE_BIDS
from web.formatting import money
from web.rendering import render
from web.replies import json_response

log = logging.getLogger("pingbiao.demo")

SAMPLES = [
    (next(a.organization for a in ACCOUNTS if a.username == username),
     f"总报价：¥{money(record['total_price'])}；交货期：{record['delivery_days']} 天")
    for username, (record, _) in SAMPLE_BIDS.items()
]
"""The timelock demo's files: the demo bidders' bids, each bidder named once, as on every page."""
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


DEMO_TENDER_IN = web.AppKey("demo_tender_in", float)


async def _seed_tender(app: web.Application) -> None:
    """Demo accounts and a published tender with three sealed bids, opening a few minutes ahead."""
    from web.api.tenders import TENDERS
    from web.demo.data import DEMO_PASSWORD, ensure_accounts, seed_tender

    accounts = await ensure_accounts(app)
    tender = await seed_tender(app[TENDERS], accounts, app[DEMO_TENDER_IN])
    settings = app[keys.SETTINGS]
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        f"demo tender {tender.id} opens at round {tender.opening_round}, in {int(app[DEMO_TENDER_IN])} s:",
        f"  hall 开标大厅: {base}/tenders/{tender.id}/hall",
        f"sign in at {base}/login with password {DEMO_PASSWORD!r} as:",
        *(f"  {a.username:<11} {a.role.value:<10} {a.display_name}" for a in ACCOUNTS),
        f"watch sealed files open by themselves: {base}/demo/timelock",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


async def _demo_ctx(app: web.Application) -> AsyncIterator[None]:
    await _seed_tender(app)
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
    return json_response({"now": time.time(), "bids": _bids_json(request.app)})


def install_demo(app: web.Application, delays: tuple[float, ...] = OPEN_AFTER, tender_in: float = 180) -> None:
    """Add the demo's data and pages to an application built by create_app.

    `delays`: seconds after start-up at which each sample file becomes openable (one per sample);
    `tender_in`: seconds until the demo tender's opening.
    """
    app[DEMO_DELAYS] = delays
    app[DEMO_TENDER_IN] = tender_in
    app.cleanup_ctx.append(_demo_ctx)
    app.router.add_get("/demo/timelock", demo_page, name="demo.timelock")
    app.router.add_get("/api/demo/timelock", demo_api, name="api.demo.timelock")
