"""The OpenAPI 3.1 description (接口说明) of the JSON API, served at ``/api/openapi.json``.

Generated from the app's own route table, so every ``/api/…`` route is in it with its method,
path parameters and name (the operation id, the key of its rule in web/access/permissions/), and a
route added later is described without anyone remembering to. What the route table cannot tell
is declared here, per route name: the query parameters, the request body where its shape is
known (`BODIES`), and a body that is not a JSON object. Every other POST/PUT takes a JSON object
read by web/api/body.py (at most 1 MiB, bounded nesting, numbers and text checked); every error
answer is the one shape of web/errors.py (`ERROR`).

A library was not used: the ones for aiohttp (aiohttp-apispec, aiohttp-pydantic, aiohttp-swagger3)
want decorators, docstring YAML or pydantic models on every handler, across packages this module
does not own, and would describe the bodies a second time beside the rules that really check them
(evaluation/inputs.py, the domain's parsers). The description here is only what a client needs to
call the API; the server's checks stay the authority.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

routes = web.RouteTableDef()

WEBSOCKETS = frozenset({"hall.ws"})
"""Routes that upgrade to a WebSocket: not HTTP operations (docs/signaling.md, docs/tenders.md)."""

ERROR: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer of the API (web/errors.py): one plain line, Chinese first.",
    "required": ["ok", "status", "error"],
    "properties": {
        "ok": {"const": False},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "error": {"type": "string", "minLength": 1, "pattern": r"^[^\r\n]+$"},
        "request_id": {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{8,64}$"},
    },
}

_TEXT = {"type": "string", "maxLength": 20000}
_WHOLE = {"type": "integer", "minimum": 0}

QUERY: dict[str, list[tuple[str, dict[str, Any], bool]]] = {
    "tenders.list": [("mine", {"type": "string"}, False)],
    "audit.entries": [("start", _WHOLE, False), ("end", _WHOLE, False)],
    "audit.proof.inclusion": [("index", _WHOLE, True), ("size", {"type": "integer", "minimum": 1}, False)],
    "audit.proof.consistency": [("from", _WHOLE, True), ("to", _WHOLE, False)],
}
"""Query parameters by route name: (name, schema, required)."""

_TENDER = {
    "type": "object",
    "required": ["title", "budget_fen", "opening_time"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": _TEXT,
        "method": {"type": "string"},
        "category": {"type": "string"},
        "evaluation_method": {"type": "string"},
        "budget_fen": {"type": "integer", "minimum": 0},
        "opening_time": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer", "minimum": 0}]},
        "min_bids": {"type": "integer", "minimum": 1},
        "max_bid_bytes": {"type": "integer"},
        "objection_window_s": {"type": "integer", "minimum": 0},
        "invited": {"type": "array", "items": {"type": "string"}},
        "lots": {"type": "array", "items": {"type": "object"}},
        "record_fields": {"type": "array", "items": {"type": "object"}},
        "criteria": {},
        "sme_reserved": {"type": "boolean"},
        "sme_deduction": {},
        "evaluation_date": {"type": "string", "format": "date"},
        "deviation_threshold": {},
    },
}
_WITH_TEXT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}}
_REASON = {"type": "object", "properties": {"reason": {"type": "string"}}}

BODIES: dict[str, dict[str, Any]] = {
    "tenders.create": _TENDER,
    "tenders.edit_draft": _TENDER,
    "tenders.amend": {"type": "object"},
    "tenders.postpone": {"type": "object", "required": ["opening_time"],
                         "properties": {"opening_time": _TENDER["properties"]["opening_time"], "reason": _TEXT}},
    "opening.object": _WITH_TEXT,
    "opening.answer": _WITH_TEXT,
    "hall.announce": _WITH_TEXT,
    "experts.csv_import": {"type": "object", "required": ["csv"], "properties": {"csv": {"type": "string"}}},
    "experts.draw.decline": _REASON,
}
"""Request bodies whose shape is known, by route name (JSON objects; extra members are refused
by some routes and ignored by others: the server's rules decide)."""

OPTIONAL_BODY = frozenset({"hall.signin", "hall.read_out", "experts.decline"})
"""POST routes whose JSON object may be left out."""

RAW_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "bids.upload": ("application/octet-stream", {"type": "string", "format": "binary"}),
}
"""Routes whose body is not JSON: (content type, schema)."""

ALSO_ACCEPTED: dict[str, dict[str, Any]] = {
    "experts.csv_import": {"text/csv": {"schema": {"type": "string"}}},
}
"""Routes that take another content type beside their JSON object."""

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _operation(name: str, method: str, path: str, doc: str | None) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in _PARAM.findall(path)
    ]
    params += [{"name": q, "in": "query", "required": req, "schema": schema} for q, schema, req in QUERY.get(name, [])]
    op: dict[str, Any] = {
        "operationId": name,
        "tags": [name.split(".", 1)[0]],
        "responses": {
            "2XX": {"description": "done 成功"},
            "4XX": {"$ref": "#/components/responses/Error"},
            "5XX": {"$ref": "#/components/responses/Error"},
        },
    }
    if doc:
        op["summary"] = doc.strip().splitlines()[0][:200]
    if params:
        op["parameters"] = params
    if method in ("POST", "PUT", "PATCH"):
        if name in RAW_BODIES:
            ctype, schema = RAW_BODIES[name]
            op["requestBody"] = {"required": True, "content": {ctype: {"schema": schema}}}
        else:
            schema = BODIES.get(name, {"type": "object"})
            content = {"application/json": {"schema": schema}, **ALSO_ACCEPTED.get(name, {})}
            op["requestBody"] = {"required": name not in OPTIONAL_BODY, "content": content}
    return op


def _template(path: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def describe(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document of every ``/api/`` route of `app` (pure over the route table)."""
    paths: dict[str, dict[str, Any]] = {}
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        if not path or not path.startswith("/api/"):
            continue
        for route in resource:
            method, name = route.method.upper(), route.name
            if method in ("HEAD", "*") or not name or name in WEBSOCKETS:
                continue
            handler_doc = getattr(route.handler, "__doc__", None)
            paths.setdefault(_template(path), {})[method.lower()] = _operation(name, method, path, handler_doc)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pingbiao 评标舱 JSON API",
            "version": "1",
            "description": "Sign in with POST /login (JSON username and password) to get the session cookie; every "
                           "POST/PUT/DELETE carries the X-CSRF-Token header from GET /api/me. Who may call "
                           "what: docs/accounts.md.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR},
            "responses": {"Error": {"description": "the error, one line 错误说明",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }


_DOCUMENT = web.AppKey("openapi_document", dict)


@routes.get("/api/openapi.json", name="api.openapi")
async def openapi(request: web.Request) -> web.Response:
    """This document."""
    cache: dict[str, bytes] = request.app[_DOCUMENT]
    if "body" not in cache:  # the route table is frozen once the app runs: describe it once
        cache["body"] = json.dumps(describe(request.app), ensure_ascii=False, indent=1).encode()
    return web.Response(body=cache["body"], content_type="application/json", charset="utf-8")


def install(app: web.Application) -> None:
    app[_DOCUMENT] = {}
    app.add_routes(routes)
