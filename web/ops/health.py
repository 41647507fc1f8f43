"""Liveness (``/healthz``, 存活) and readiness (``/readyz``, 就绪) for load balancers and operators.

``/healthz`` answers 200 while the process serves HTTP at all: it touches nothing else, so a slow
database never gets a healthy process restarted. ``/readyz`` checks what a request needs, each
check bounded by `CHECK_TIMEOUT` and all run together:

- ``database`` (数据库): a query answers;
- ``audit_log`` (审计日志): the log's single writer, which appends entries and signs checkpoints,
  is running;
- ``beacon`` (信标): the beacon serves a recent round, verified;
- ``bus`` (信令总线), only when ``signaling_bus_url`` is set: Redis answers a PING;
- ``media`` (媒体服务器), only when a Janus URL is known (`media_url`): Janus answers ``GET /info``.

200 ``{"ok": true, "checks": {...}}`` when all pass, else 503 with ``"failed": [names]`` and one
line per failed check. The detail (the exception) is logged with the request id, not shown: the
probe is public. Concurrent probes share one run of the checks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
import redis.asyncio as aioredis
import sqlalchemy as sa
from aiohttp import web

from web.booth.media import MEDIA
from web.keys import AUDIT_LOG, BEACON, CHAIN, ENGINE, SETTINGS
from web.replies import json_response

log = logging.getLogger("pingbiao.ops")
routes = web.RouteTableDef()

CHECK_TIMEOUT = 3.0
"""Seconds one check may take before it counts as failed."""

FAILURES = {
    "database": "数据库无法查询 the database did not answer a query",
    "audit_log": "审计日志写入器未运行 the audit log's writer (appends, signs checkpoints) is not running",
    "beacon": "信标不可达 the beacon did not serve a recent round",
    "bus": "信令总线不可达 Redis (the signaling bus between app processes) did not answer",
    "media": "媒体服务器不可达 the media server (Janus) did not answer",
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


MEDIA_URL = web.AppKey("media_url", str)
"""The Janus HTTP API URL (``http://host:port/janus``) the booth uses, set by whatever starts or
configures the media server; the booth's media plane (web/booth/media.py) once it started or
reached Janus, and a setting ``janus`` holding an http(s) URL, count too."""

_CLIENTS = web.AppKey("readiness_clients", dict)


def media_url(app: web.Application) -> str:
    """The media server to check: set for the app, the one the booth started or reached, or the setting."""
    plane = app.get(MEDIA)
    url = app.get(MEDIA_URL) or (plane.url if plane is not None else "") or str(getattr(app[SETTINGS], "janus", "") or "")
    return url.rstrip("/") if url.startswith(("http://", "https://")) else ""


async def check_bus(app: web.Application) -> None:
    clients = app[_CLIENTS]
    if "redis" not in clients:  # one client (and its pool) per process, closed with the app
        clients["redis"] = aioredis.Redis.from_url(app[SETTINGS].signaling_bus_url, socket_connect_timeout=CHECK_TIMEOUT,
                                                   socket_timeout=CHECK_TIMEOUT)
    if not await clients["redis"].ping():
        raise RuntimeError("redis answered PING with false")


async def check_media(app: web.Application) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{media_url(app)}/info") as resp:
            info = await resp.json(content_type=None)
    if resp.status != 200 or not isinstance(info, dict) or info.get("janus") != "server_info":
        raise RuntimeError(f"janus /info answered {resp.status} {str(info)[:100]}")


CHECKS: dict[str, Callable[[web.Application], Awaitable[None]]] = {
    "database": check_database,
    "audit_log": check_audit_log,
    "beacon": check_beacon,
    "bus": check_bus,
    "media": check_media,
}


def enabled(app: web.Application) -> list[str]:
    """The checks that apply to this installation: the bus and the media server only when configured."""
    names = ["database", "audit_log", "beacon"]
    if app[SETTINGS].signaling_bus_url:
        names.append("bus")
    if media_url(app):
        names.append("media")
    return names


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
    results = await asyncio.gather(*(_run_one(app, name) for name in enabled(app)))
    return dict(results)


_INFLIGHT = web.AppKey("readiness_inflight", dict)


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"ok": True})


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
    return json_response(body, status=503 if failed else 200)


async def _close_clients(app: web.Application) -> None:
    if (client := app[_CLIENTS].pop("redis", None)) is not None:
        await client.aclose()


def install(app: web.Application) -> None:
    app[_INFLIGHT] = {}
    app[_CLIENTS] = {}
    app.on_cleanup.append(_close_clients)
    app.add_routes(routes)
