"""The soak's starting state, made through the domain on the same data directory and database the
server will use, before `pingbiao serve` starts (bench/bench_soak.py):

* accounts (argon2 at a low cost, since nobody signs in with a password here) and a session for
  each — the cookie and CSRF headers a signed-in browser sends, valid for the server because the
  cookie keys and the sessions live in the data directory and the database;
* the scoring tenders: each with three bids sealed to the local beacon, opened and its record
  final (objection window 0), and a committee of five really drawn (a pool imported, the draw
  completed by the app's draw job on the beacon). Their evaluation is then played over HTTP.

The app runs here on a loopback port only so that its jobs (draw, opening) run; nothing else
talks to it. It is stopped before the server starts, so one process writes the audit log at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from crypto.beacon import LocalBeaconSource
from evaluation.accounts.account import Account, Role, create_account
from evaluation.accounts.logins import open_session
from evaluation.experts import draw_service
from evaluation.experts import pool as experts
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from tests.evaluation.experts_fixtures import FAST, PURCHASER, committee_pool, wait_drawn
from tests.evaluation.session_fixtures import CRITERIA, PRICES
from tests.evaluation.tender_fixtures import chunks, meta, sealed, spec
from web.access.sessions import COOKIE, COOKIE_KEYS, CookieToken, csrf_token_for, seal_cookie
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, ENGINE, LOCAL_BEACON

PASSWORD = "soak password 123"
AGENCY_ORG = "91330100SOAKAGENCY"
EXPERTS = 5


def settings_for(data_dir: Path, database_url: str) -> Settings:
    """The installation both the seeding app and `pingbiao serve` run (the server reads the same
    values from PINGBIAO_* variables, bench_soak.server_env)."""
    return Settings(data_dir=data_dir, database_url=database_url, beacon_period=1, allow_local_beacon=True,
                    janus="off", log_level="WARNING", log_origin="soak.pingbiao.local/audit")


async def _person(app: web.Application, role: Role, username: str, organization: str) -> dict[str, Any]:
    account: Account = await create_account(app[AUDIT_LOG], username=username, password=PASSWORD, display_name=username,
                                            role=role, organization=organization, hasher=FAST)
    keys = app[COOKIE_KEYS]
    token = CookieToken("s", await open_session(app[ENGINE], account.id))
    headers = {"Cookie": f"{COOKIE}={seal_cookie(keys, token)}", "X-CSRF-Token": csrf_token_for(keys, token)}
    return {"id": account.id, "username": account.username, "headers": headers, "actor": account.actor}


async def seed(data_dir: Path, database_url: str, *, rooms: int, per_room: int, bidders: int, scoring: int) -> dict[str, Any]:
    """Make everything the soak needs; returns what the load generator needs to act as each person."""
    app = create_app(settings_for(data_dir, database_url))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        agency = await _person(app, Role.agency, "soak-agency", AGENCY_ORG)
        # Booth participants join as supervisors: web/ admits a supervisor to any booth room, so 50
        # rooms need no 50 drawn committees; signaling treats every role alike but the host's.
        people = [[await _person(app, Role.supervisor, f"soak-r{r}-p{c}", "市财政局") for c in range(per_room)]
                  for r in range(rooms)]
        bidder_people = [await _person(app, Role.bidder, f"soak-b{n}", f"9133SOAKBIDDER{n:04d}")
                         for n in range(max(bidders, len(PRICES)))]
        expert_people = [await _person(app, Role.expert, f"soak-e{n}", f"专家单位{n}") for n in range(EXPERTS)]
        ctx = app[TENDERS]
        made = []
        for i in range(scoring):
            t = await tenders.create(ctx, agency["actor"], AGENCY_ORG,
                                     spec(4 + scoring, title=f"评分项目 {i}", criteria=CRITERIA, objection_window_s=0))
            made.append(await tenders.publish(ctx, agency["actor"], t.id))
        for t in made:
            for n, price in enumerate(PRICES):
                data = sealed(ctx.chain, t.opening_round, {"total_price": price, "delivery_days": 30})
                await bids.submit(ctx, bidder_people[n]["actor"], t.id, chunks(data), meta(n))
        source = LocalBeaconSource(app[LOCAL_BEACON])
        late = dataclasses.replace(ctx, clock=lambda: time.time() + 5)
        for t in made:
            await opening.run(ctx, t.id, await source.wait_for(t.opening_round))  # idempotent next to the job
            await opening_record.finalize(late, t.id)
        if made:
            pool = committee_pool([e["username"] for e in expert_people], size=EXPERTS)
            report = await experts.import_csv(app[ENGINE], app[AUDIT_LOG], pool, agency["actor"])
            assert report.rejected == [], report
        for t in made:
            await draw_service.request_draw(ctx, agency["actor"], t.id, {"size": EXPERTS, "purchaser": PURCHASER})
            app[DRAW_JOB].kick()
            await wait_drawn(app[DRAW_JOB], t.id)
            seated = sorted(m.account_id for m in await experts.committee_of(app[ENGINE], t.id) if m.account_id)
            assert seated == sorted(e["id"] for e in expert_people), seated
        chain = app[LOCAL_BEACON].chain
    finally:
        await asyncio.shield(runner.cleanup())

    def plain(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k != "actor"}

    return {
        "agency": plain(agency),
        "rooms": [[plain(p) for p in room] for room in people],
        "bidders": [plain(p) for p in bidder_people][:bidders],
        "experts": [plain(p) for p in expert_people],
        "scoring": [t.id for t in made],
        "chain": chain,
    }
