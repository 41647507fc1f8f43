"""JSON API of sealed bids: streamed upload (PUT raw body), withdraw, my bid with its receipt, and
the list of bids (supervisors any time, the owning agency after the opening)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from evaluation.tenders import bids
from evaluation.tenders.opening_record import AFTER_OPENING
from evaluation.tenders.store import bid_rows
from web.api.tenders import ctx, current_actor, display_name, visible_tender
from web.errors import AppError, Forbidden

routes = web.RouteTableDef()
CHUNK = 1 << 20


class UnsupportedMediaType(AppError):
    status = 415


def upload_meta(request: web.Request) -> bids.UploadMeta:
    return bids.UploadMeta(
        ip=request.remote or "",
        user_agent=request.headers.get("User-Agent", ""),
        fingerprint=request.headers.get("X-Client-Fingerprint", ""),
        bidder_name=display_name(request),
    )


@routes.put("/api/tenders/{id}/bid", name="bids.upload")
async def upload(request: web.Request) -> web.Response:
    """The sealed bid as the raw body (application/octet-stream), streamed to disk."""
    actor = current_actor(request)
    if request.content_type != "application/octet-stream":
        raise UnsupportedMediaType("send the sealed bid as the raw body with Content-Type application/octet-stream")
    await visible_tender(request, actor)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_chunked(CHUNK):
            yield chunk

    receipt = await bids.submit(
        ctx(request), actor, request.match_info["id"], body(), upload_meta(request), request.content_length
    )
    return web.json_response(receipt.to_json(), status=201)


@routes.delete("/api/tenders/{id}/bid", name="bids.withdraw")
async def withdraw(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    return web.json_response((await bids.withdraw(ctx(request), actor, request.match_info["id"])).to_json())


@routes.get("/api/tenders/{id}/bid", name="bids.mine")
async def mine(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    return web.json_response((await bids.my_bid(ctx(request), actor, request.match_info["id"])).to_json())


@routes.get("/api/tenders/{id}/bids", name="bids.list")
async def list_bids(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    if actor.role != "supervisor" and not (tender.owned_by(actor) and tender.state in AFTER_OPENING):
        raise Forbidden("bids are shown to the agency only after the opening")
    async with ctx(request).engine.connect() as conn:
        rows = await bid_rows(conn, tender.id)
    return web.json_response({"bids": [bids.bid_json(r) for r in rows]})
