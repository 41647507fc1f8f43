"""The audit log over HTTP: checkpoint, entries, proofs, receipts (JSON), for supervisors and bidders.

Checkpoints, proofs and receipts reveal only hashes; entry contents are for supervisors (role
checks are declared in web/access/permissions.py).
"""

from __future__ import annotations

import base64
import io
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from evaluation.audit.bundle import export_bundle
from evaluation.audit.entry import Entry
from web.errors import BadRequest, NotFound
from web.keys import AUDIT_LOG, LOG_VKEY
from web.replies import json_response

routes = web.RouteTableDef()
MAX_PAGE = 1000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def entry_json(entry: Entry) -> dict[str, Any]:
    return {**entry.to_json(), "leaf_hash": b64(entry.leaf_hash)}


def int_param(request: web.Request, name: str, default: int | None = None, minimum: int = 0) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise BadRequest("缺少查询参数 {name}", name=name)
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # "²".isdigit() is True, int("²") fails
        raise BadRequest("查询参数 {name} 须为非负整数（收到 {got}）", name=name, got=repr(raw[:20]))
    value = int(raw)
    if value < minimum:
        raise BadRequest("查询参数 {name} 不能小于 {minimum}", name=name, minimum=minimum)
    return value


@routes.get("/api/audit/checkpoint", name="audit.checkpoint")
async def checkpoint(request: web.Request) -> web.Response:
    """The latest signed checkpoint, as a C2SP signed note (text/plain)."""
    cp = await request.app[AUDIT_LOG].latest_checkpoint()
    return web.Response(body=cp.note, content_type="text/plain", charset="utf-8")


@routes.get("/api/audit/vkey", name="audit.vkey")
async def vkey(request: web.Request) -> web.Response:
    """The log's verifier key in signed-note vkey form."""
    return web.Response(text=request.app[LOG_VKEY] + "\n", content_type="text/plain")


@routes.get("/api/audit/entries", name="audit.entries")
async def entries(request: web.Request) -> web.Response:
    """Entries [start, end) — at most 1000 per call."""
    log = request.app[AUDIT_LOG]
    start = int_param(request, "start", 0)
    end = min(int_param(request, "end", start + 100), start + MAX_PAGE, log.size)
    if start > log.size:
        raise BadRequest("起始位置 {start} 超出日志长度 {size}", start=start, size=log.size)
    rows = await log.entries(start, max(start, end))
    return json_response({"size": log.size, "entries": [entry_json(e) for e in rows]})


@routes.get("/api/audit/proof/inclusion", name="audit.proof.inclusion")
async def inclusion(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    index = int_param(request, "index")
    size = int_param(request, "size", log.size, minimum=1)
    if size > log.size:
        raise BadRequest("树大小 {size} 超出日志长度 {length}", size=size, length=log.size)
    if index >= size:
        raise BadRequest("第 {index} 条不在大小为 {size} 的日志树中", index=index, size=size)
    proof = await log.inclusion_proof(index, size)
    entry = (await log.entries(index, index + 1))[0]
    root = await log.root_at(size)
    return json_response(
        {"index": index, "size": size, "leaf_hash": b64(entry.leaf_hash), "proof": [b64(p) for p in proof], "root": b64(root)}
    )


@routes.get("/api/audit/proof/consistency", name="audit.proof.consistency")
async def consistency(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    size1 = int_param(request, "from")
    size2 = int_param(request, "to", log.size)
    if not size1 <= size2 <= log.size:
        raise BadRequest("须满足 from ≤ to ≤ {size}，现为 from={first}、to={second}", size=log.size, first=size1,
                         second=size2)
    proof = await log.consistency_proof(size1, size2)
    return json_response(
        {
            "size1": size1,
            "size2": size2,
            "root1": b64(await log.root_at(size1)),
            "root2": b64(await log.root_at(size2)),
            "proof": [b64(p) for p in proof],
        }
    )


def entry_index(request: web.Request) -> int:
    """The ``{index}`` of the route: a whole number naming an entry of the log (400, 404 otherwise)."""
    raw = request.match_info["index"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # "²".isdigit() is True, int("²") fails
        raise BadRequest("条目编号须为非负整数")
    size = request.app[AUDIT_LOG].size
    if int(raw) >= size:
        raise NotFound("没有第 {index} 条：日志共 {size} 条", index=raw, size=size)
    return int(raw)


@routes.get("/api/audit/receipt/{index}", name="audit.receipt")
async def receipt(request: web.Request) -> web.Response:
    rec = await request.app[AUDIT_LOG].receipt(entry_index(request))
    return json_response(rec.to_json())


@routes.get("/api/audit/bundle", name="audit.bundle")
async def bundle(request: web.Request) -> web.Response:
    """The whole log at its latest checkpoint as an offline bundle (what `pingbiao audit export`
    writes: checkpoint, log.vkey, entries.jsonl), packed as a .tar.gz; check it with
    `pingbiao audit verify` (docs/audit-log.md)."""
    log = request.app[AUDIT_LOG]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundle"
        report = await export_bundle(log, out, request.app[LOG_VKEY])
        buffer = io.BytesIO()
        name = f"audit-bundle-{report.size}"
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for child in sorted(out.iterdir()):
                tar.add(child, arcname=f"{name}/{child.name}")
    return web.Response(
        body=buffer.getvalue(),
        content_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}.tar.gz"'},
    )
