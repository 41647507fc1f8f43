"""Operating the platform (运维): liveness and readiness probes, Prometheus metrics, request ids.

``install(app)`` (called by web/app.py) adds the request-id, access-log (web/ops/access_log.py) and
metrics middlewares in front of every other one, and the routes ``/healthz``, ``/readyz`` and
``/metrics`` (docs/operations.md).
"""

from __future__ import annotations

from aiohttp import web


def install(app: web.Application) -> None:
    """Put the request-id middleware first, the access log second and the metrics middleware third
    (all see the final answer of every other middleware), then add the routes."""
    # Imported here: web/errors.py imports web.ops.request_id, and metrics imports web.errors.
    from web.ops import access_log, health, metrics, request_id

    app.middlewares.insert(0, metrics.metrics_middleware)
    app.middlewares.insert(0, access_log.access_log_middleware)
    app.middlewares.insert(0, request_id.request_id_middleware)
    request_id.install(app)
    metrics.install(app)
    health.install(app)
    app.add_routes(metrics.routes)
