"""Prometheus metrics (监控指标) at ``/metrics``, one registry per application.

- ``pingbiao_http_requests_total{method, route, status}`` — answers, by route PATTERN
  (``/api/tenders/{tender_id}``, not the tender's id: bounded label values), ``unmatched`` when no
  route matched;
- ``pingbiao_http_request_duration_seconds{method, route}`` — time to the answer (WebSocket
  connections are left out: they last as long as the connection);
- ``pingbiao_websocket_connections{route}`` — WebSocket connections open now (booth signaling,
  the opening hall);
- ``pingbiao_audit_log_entries`` — entries in the audit log as this process knows it;
- ``pingbiao_booth_participants`` — booth participants connected to this process now;
- ``pingbiao_booth_recording_bytes`` — bytes of booth recordings covered by the checkpoints this
  process wrote to the audit log (docs/media.md);
- ``pingbiao_booth_checkpoint_rooms`` — booth rooms whose recording checkpoints this process writes
  (with several processes each room has one writer);
- the client's standard ``process_*`` and ``python_*`` families.

Access: with the setting ``metrics_token``, ``Authorization: Bearer <token>`` is accepted from
anywhere; otherwise (and also with a token) requests from this machine's loopback address that did
not pass through a proxy (no ``X-Forwarded-For``). Everything else gets 403.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from web.booth.media import MEDIA
from web.booth.routes import participants
from web.errors import Forbidden
from web.keys import AUDIT_LOG, SETTINGS
from web.ops.request_id import Handler

routes = web.RouteTableDef()


class Metrics:
    """The families one application exports, in their own registry (tests build many apps)."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.requests = Counter("pingbiao_http_requests", "HTTP answers by route pattern and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("pingbiao_http_request_duration_seconds", "time to answer, by route pattern",
                                 ["method", "route"], registry=self.registry)
        self.websockets = Gauge("pingbiao_websocket_connections", "WebSocket connections open now",
                                ["route"], registry=self.registry)
        audit_entries = Gauge("pingbiao_audit_log_entries", "entries in the audit log",
                              registry=self.registry)
        audit_entries.set_function(lambda: log.size if (log := app.get(AUDIT_LOG)) is not None else 0)
        Gauge("pingbiao_booth_participants", "booth participants connected to this process now",
              registry=self.registry).set_function(lambda: participants(app))
        Gauge("pingbiao_booth_recording_bytes", "bytes of booth recordings covered by checkpoints this process wrote",
              registry=self.registry).set_function(lambda: m.recorded_bytes() if (m := app.get(MEDIA)) is not None else 0)
        Gauge("pingbiao_booth_checkpoint_rooms", "booth rooms whose recording checkpoints this process writes",
              registry=self.registry).set_function(lambda: m.written_rooms() if (m := app.get(MEDIA)) is not None else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


def route_pattern(request: web.Request) -> str:
    """The matched route's pattern, never the raw path; ``unmatched`` for 404/405."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app.get(METRICS)
    if metrics is None:
        return await handler(request)
    route, method = route_pattern(request), request.method
    websocket = _is_websocket(request)
    started = time.perf_counter()
    status = "500"
    if websocket:
        metrics.websockets.labels(route).inc()
    try:
        response = await handler(request)
        status = str(response.status)
        return response
    except web.HTTPException as exc:  # redirects and other answers raised as exceptions
        status = str(exc.status)
        raise
    except asyncio.CancelledError:
        status = "cancelled"  # the client went away before the answer
        raise
    finally:
        metrics.requests.labels(method, route, status).inc()
        if websocket:
            metrics.websockets.labels(route).dec()
        else:
            metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def may_read(request: web.Request, token: str) -> bool:
    """The metrics token as a bearer token, or a direct request from the loopback address."""
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # passed through a proxy: the loopback peer is the proxy, not the reader
    try:
        return request.remote is not None and ipaddress.ip_address(request.remote).is_loopback
    except ValueError:
        return False


@routes.get("/metrics", name="metrics")
async def metrics_page(request: web.Request) -> web.Response:
    if not may_read(request, request.app[SETTINGS].metrics_token):
        raise Forbidden("监控指标仅限本机或持令牌访问")
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application) -> None:
    app[METRICS] = Metrics(app)
