"""kill -9 of `pingbiao serve` while the experts submit their score sheets (评分) and the group
leader computes the tally (汇总), on PostgreSQL and SQLite.

The template is an evaluation session in `scoring` (a confirmed tender with three opened bids, a
committee of five drawn for real, checked in, a leader elected), made once in this process; the
members' sheets are signed once, so every run sends the very same documents. Each run takes a
copy, starts a real `pingbiao serve`, sends the five sheets at once as five browsers would, and the
tally once every sheet was accepted; the process is SIGKILLed when the entries written since the
template reach a seeded random target (0: with the requests in flight). After the restart the
client sends again what it has no answer for — what a browser would retry — and every answer must
be 201 or a clean refusal (409, one line, no traceback). The session's entries must then equal an
uninterrupted run's (the sheets as a multiset, the review, the tally's payload; the report's hash
holds times, so only its presence counts): no sheet lost or counted twice, one tally.

PINGBIAO_FAULT_RUNS_SCORING_PG / _SQLITE set the number of runs (20 in all by default)."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from evaluation.accounts.account import Role
from evaluation.audit.entry import canonical_json
from tests.e2e.test_evaluation_flow import confirmed_tender
from tests.evaluation.experts_fixtures import draw_committee
from tests.evaluation.session_fixtures import Keys, sheets_doc
from tests.faults.installs import Copier, Install, entries_after, log_size
from tests.faults.openings import wait_for
from tests.faults.procs import Launcher
from tests.web.signin import make_account, session_headers
from web.api.experts import DRAW_JOB
from web.api.tenders import TENDERS
from web.app import create_app

SEED = int(os.environ.get("PINGBIAO_FAULT_SEED", "15"))
RUNS = {"postgresql": int(os.environ.get("PINGBIAO_FAULT_RUNS_SCORING_PG", "12")),
        "sqlite": int(os.environ.get("PINGBIAO_FAULT_RUNS_SCORING_SQLITE", "8"))}
EXPERTS = 5
TIMEOUT = 60.0
SCORES = ({"c2": "40", "c3": "15"}, {"c2": "45", "c3": "12"}, {"c2": "30", "c3": "18"})


class Template:
    """The session in scoring, and what the client sends: each member's signed sheets, headers."""

    def __init__(self) -> None:
        self.session_id = ""
        self.headers: dict[str, dict[str, str]] = {}
        self.sheets: dict[str, dict[str, str]] = {}  # member name -> {document, signature}
        self.base = 0


async def build_template(install: Install) -> Template:
    made = Template()
    install.new_beacon()
    app = create_app(install.settings())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        agency = await make_account(app, Role.agency, "agency")
        experts = [await make_account(app, Role.expert, f"e{i}") for i in range(EXPERTS)]
        tender_id = await confirmed_tender(app, agency.actor)
        await draw_committee(app[TENDERS], app[DRAW_JOB], agency.actor, tender_id, [e.id for e in experts])
        made.session_id = tender_id
        made.headers["agency"] = await session_headers(app, agency)
        for e in experts:
            made.headers[e.username] = await session_headers(app, e)
        keys = Keys()
        base = f"/api/evaluation/{tender_id}"

        async def call(who: str, path: str, body: Any = None) -> Any:
            resp = await client.post(base + path, json=body if body is not None else {}, headers=made.headers[who])
            answer = await resp.json()
            assert resp.status == 201, (path, answer)
            return answer

        started = await call("agency", "/start", {"config": {"deviation_threshold": "3/10"}})
        for e in experts:
            await call(e.username, "/checkin", keys.checkin(e.id, started["bids"]))
        for e in experts[:3]:
            view = await call(e.username, "/votes", {"candidate": experts[0].id})
        assert view["state"] == "scoring", view
        bid_ids = sorted(b["bid"] for b in view["bids"])
        for e in experts:
            text, signature = sheets_doc(keys, tender_id, e.id, dict(zip(bid_ids, SCORES, strict=True)))
            made.sheets[e.username] = {"document": text, "signature": signature}
    finally:
        await client.close()
    engine = install.engine()
    try:
        made.base = await log_size(engine)
    finally:
        await engine.dispose()
    return made


class Client:
    """The members' browsers: what has been answered, and the answers' statuses."""

    def __init__(self, template: Template) -> None:
        self.t = template
        self.answered: dict[str, int] = {}  # request name ("sheets:e0", "tally") -> status
        self.statuses: list[tuple[str, int, str]] = []

    async def send(self, url: str, name: str) -> None:
        who, path, body = ("e0", "/tally", {}) if name == "tally" else (name.split(":")[1], "/sheets", self.t.sheets[name.split(":")[1]])
        try:
            async with aiohttp.ClientSession() as http, http.post(
                    f"{url}/api/evaluation/{self.t.session_id}{path}", json=body, headers=self.t.headers[who],
                    timeout=aiohttp.ClientTimeout(total=30)) as resp:
                answer = await resp.json()
        except (TimeoutError, aiohttp.ClientError):
            return  # the process died under it: no answer, the browser will send it again
        error = answer.get("error", "") if isinstance(answer, dict) else ""
        self.statuses.append((name, resp.status, error))
        assert resp.status in (201, 409), (name, resp.status, answer)
        if resp.status == 409:  # a clean refusal: one line, no traceback
            assert error and "\n" not in error and "Traceback" not in error, answer
        self.answered[name] = resp.status

    async def play(self, url: str) -> None:
        """Send every sheet not answered yet (at once), then the tally if not answered."""
        await asyncio.gather(*(self.send(url, f"sheets:e{i}") for i in range(EXPERTS) if f"sheets:e{i}" not in self.answered))
        if all(f"sheets:e{i}" in self.answered for i in range(EXPERTS)) and "tally" not in self.answered:
            await self.send(url, "tally")


def normal(entries: list[tuple[str, str | None, Any]]) -> dict[str, Any]:
    kinds = Counter(kind for kind, _t, _p in entries)
    payloads = {kind: [] for kind in kinds}  # type: dict[str, list[str]]
    for kind, _t, payload in entries:
        if kind == "evaluation.report_issued":
            payload = {"sha256": len(payload["sha256"])}
        payloads[kind].append(canonical_json(payload).decode())
    return {"kinds": dict(kinds), "payloads": {k: sorted(v) for k, v in payloads.items()}}


async def session_entries(install: Install, template: Template) -> dict[str, Any]:
    engine = install.engine()
    try:
        return normal(await entries_after(engine, template.base, {template.session_id}))
    finally:
        await engine.dispose()


async def test_kill_9_while_scoring_and_tallying(copier: Copier, launcher: Launcher) -> None:
    install = await copier.new("template")
    template = await build_template(install)
    backend = "postgresql" if install.database_url else "sqlite"

    reference_install = await copier.copy(install, "reference")
    app = reference_install.serve("serve.log", launcher)
    try:
        app.wait_up()
        client = Client(template)
        await client.play(app.url)
        assert client.answered == {**{f"sheets:e{i}": 201 for i in range(EXPERTS)}, "tally": 201}, client.statuses
    finally:
        app.stop()
    reference = await session_entries(reference_install, template)
    total = sum(reference["kinds"].values())
    assert reference["kinds"]["evaluation.tally"] == 1 and reference["kinds"]["evaluation.sheet_submitted"] == EXPERTS

    rng = random.Random(f"{SEED}-scoring-{backend}")
    kills: list[tuple[int, int]] = []
    refusals: Counter[str] = Counter()
    for run in range(RUNS[backend]):
        victim = await copier.copy(install, f"run-{run}")
        target = rng.randint(0, total - 1)
        client = Client(template)
        engine = victim.engine()
        try:
            app = victim.serve("serve-0.log", launcher)
            try:
                app.wait_up()
                playing = asyncio.create_task(client.play(app.url))
                await wait_for(lambda t=target, e=engine: _at_least(e, template.base + t), TIMEOUT, f"{target} entries")
                app.kill9()
                await playing
            finally:
                app.kill9()
            kills.append((target, await log_size(engine) - template.base))
        finally:
            await engine.dispose()
        app = victim.serve("serve-1.log", launcher)
        try:
            app.wait_up()
            await client.play(app.url)  # what has no answer is sent again
            await client.play(app.url)  # the tally, if the sheets were all answered only now
        finally:
            app.stop()
        assert set(client.answered) == {*(f"sheets:e{i}" for i in range(EXPERTS)), "tally"}, client.statuses
        refusals.update(f"{name} {status}" for name, status, _e in client.statuses if status == 409)
        got = await session_entries(victim, template)
        assert got == reference, (run, target, client.statuses)
        await copier.forget(victim)
    print(f"{backend}: (target, entries written at the kill) of {total}: {kills}; clean refusals of retries: {dict(refusals)}")
    assert sum(1 for _t, seen in kills if seen < total) >= RUNS[backend] // 2, kills


async def _at_least(engine: Any, size: int) -> bool:
    return bool(await log_size(engine) >= size)

