"""Rules for the operator's endpoints (web/ops/, docs/operations.md)."""

from __future__ import annotations

from web.access.permissions import PUBLIC, Rule

RULES: dict[str, Rule] = {
    "healthz": Rule(PUBLIC, "存活检查 liveness probe for load balancers (no data)"),
    "readyz": Rule(PUBLIC, "就绪检查 readiness probe: which dependency failed, no details"),
    # The handler itself admits only loopback peers not behind a proxy, or the metrics token.
    "api.openapi": Rule(PUBLIC, "接口说明 the OpenAPI description of the JSON API (routes and shapes, no data)"),
    "metrics": Rule(PUBLIC, "监控指标 Prometheus metrics: only from this machine or with the metrics_token"),
}
