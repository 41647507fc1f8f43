"""Liveness (``/healthz``, 存活) and readiness (``/readyz``, 就绪) for load balancers and operators.

``/healthz`` answers 200 while the process serves HTTP at all: it touches nothing else, so a slow
database never gets a healthy process restarted. ``/readyz`` checks what a request needs, each
check bounded by `CHECK_TIMEOUT` and all run together:

- ``database`` (数据库): a query answers;
- ``audit_log`` (审计日志): the log's single writer, which appends entries and signs checkpoints,
  is running;
- ``beacon`` (信标): the beacon serves a recent round, verified.

200 ``{"ok": true, "checks": {...}}`` when all pass, else 503 with ``"failed": [names]`` and one
line per failed check. The detail (the exception) is logged with the request id, not shown: the
probe is public. Concurrent probes share one run of the checks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from aiohttp import web

from web.keys import AUDIT_LOG, BEACON, CHAIN, ENGINE

log = logging.getLogger("pingbiao.ops")
routes = web.RouteTableDef()

CHECK_TIMEOUT = 3.0
"""Seconds one check may take before it counts as failed."""

FAILURES = {
    "database": "数据库无法查询 the database did not answer a query",
    "audit_log": "审计日志写入器未运行 the audit log's writer (appends, signs checkpoints) is not running",
    "beacon": "信标不可达 the beacon did not serve a recent round",
}
"""What each failed check means, as the probe's JSON says it (docs/operations.md explains more)."""


async def check_database(app: web.Application) -> None:
    async with app[ENGINE].connect() as conn:
        await conn.execute(sa.text("select 1"))


async def check_audit_log(app: web.Application) -> None:
    if not app[AUDIT_LOG].running:
        raise RuntimeError("audit log writer stopped")


async def check_beacon(app: web.Application) -> None:
    chain = app[CHAIN]
    round = max(1, chain.round_at(time.time()) - 1)  # the previous round: surely published by now
    await app[BEACON].beacon(round)


CHECKS: dict[str, Callable[[web.Application], Awaitable[None]]] = {
    "database": check_database,
    "audit_log": check_audit_log,
    "beacon": check_beacon,
}


async def _run_one(app: web.Application, name: str) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(CHECKS[name](app), CHECK_TIMEOUT)
    except Exception as exc:  # any failure of the check is the answer, not an error of the probe
        detail = f"timed out after {CHECK_TIMEOUT:g} s" if isinstance(exc, TimeoutError) else repr(exc)
        log.warning("readiness check failed", extra={"check": name, "error": detail[:500]})
        return name, FAILURES[name]
    return name, None


async def readiness(app: web.Application) -> dict[str, str | None]:
    """Every check's failure line (None: passed)."""
    results = await asyncio.gather(*(_run_one(app, name) for name in CHECKS))
    return dict(results)


_INFLIGHT = web.AppKey("readiness_inflight", dict)


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@routes.get("/readyz", name="readyz")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    inflight: dict[str, asyncio.Future[dict[str, str | None]]] = app[_INFLIGHT]
    running = inflight.get("run")
    if running is None or running.done():
        running = inflight["run"] = asyncio.ensure_future(readiness(app))
    results = await asyncio.shield(running)
    failed = [name for name, error in results.items() if error is not None]
    body = {
        "ok": not failed,
        "checks": {name: ({"ok": True} if error is None else {"ok": False, "error": error}) for name, error in results.items()},
    }
    if failed:
        body["failed"] = failed
    return web.json_response(body, status=503 if failed else 200, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def install(app: web.Application) -> None:
    app[_INFLIGHT] = {}
    app.add_routes(routes)
