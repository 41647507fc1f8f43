"""JSON API of sealed bids: streamed upload (PUT raw body), the same upload in parts (an upload
session: the browser seals and sends as it goes, see docs/browser-sealing.md), withdraw, my bid with
its receipt, and the list of bids (supervisors any time, the owning agency after the opening)."""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import AsyncIterator

from aiohttp import web

from evaluation.errors import ConflictError, InvalidRequest, NotFoundError
from evaluation.tenders import bids
from evaluation.tenders.opening_record import AFTER_OPENING
from evaluation.tenders.store import bid_rows
from web.api.tenders import ctx, current_actor, display_name, visible_tender
from web.errors import AppError, Forbidden
from web.replies import json_response

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
        raise UnsupportedMediaType("请以原始内容（Content-Type application/octet-stream）上传密封好的投标文件")
    await visible_tender(request, actor)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_chunked(CHUNK):
            yield chunk

    receipt = await bids.submit(
        ctx(request), actor, request.match_info["id"], body(), upload_meta(request), request.content_length
    )
    return json_response(receipt.to_json(), status=201)


# --- the upload in parts ----------------------------------------------------------------------
#
# POST   /api/tenders/{id}/bid/uploads {"size": N}           -> 201 {"upload": token}
# PUT    /api/tenders/{id}/bid/uploads/{token}?offset=K[&last=1]  (raw bytes K.. of the sealed file)
#                                                            -> 200 {"received": K'}, last: 201 receipt
# DELETE /api/tenders/{id}/bid/uploads/{token}                -> 200 {"cancelled": true}
#
# One `bids.submit` runs per session and reads the parts as one stream, so the checks, the blob
# store, the audit entry and the size limit are those of the single PUT. Parts come in order (the
# next offset or 409). Cancelling, a part that breaks off, or IDLE_S without a part end the
# session: `submit` is cancelled while still receiving, its temporary blob is removed and nothing
# is stored or logged.

IDLE_S = 60.0
QUEUE_CHUNKS = 4


class _Cancelled(Exception):
    pass


class UploadSession:
    def __init__(self, account: str, tender_id: str, size: int) -> None:
        self.account, self.tender_id, self.size = account, tender_id, size
        self.received = 0
        self.finishing = False
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[bids.BidReceipt] | None = None
        self.timer: asyncio.TimerHandle | None = None

    async def body(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk
            self.queue.task_done()  # the consumer asks for more once it has written this one
        self.queue.task_done()

    async def feed(self, chunk: bytes | None) -> None:
        """Hand `chunk` to `submit`, waiting while it is busy; returns early if `submit` ended."""
        assert self.task is not None
        put = asyncio.ensure_future(self.queue.put(chunk))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()

    def touch(self, sessions: dict[str, UploadSession], token: str) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(IDLE_S, lambda: self.end(sessions, token))

    def end(self, sessions: dict[str, UploadSession], token: str) -> None:
        """Forget the session and stop its `submit` unless it is already storing the bid."""
        if sessions.get(token) is self:
            del sessions[token]
        if self.timer is not None:
            self.timer.cancel()
        if self.task is not None and not self.finishing:
            self.task.cancel()


_SESSIONS: weakref.WeakKeyDictionary[web.Application, dict[str, UploadSession]] = weakref.WeakKeyDictionary()


def _sessions(request: web.Request) -> dict[str, UploadSession]:
    return _SESSIONS.setdefault(request.app, {})


def _session(request: web.Request, actor_account: str) -> tuple[str, UploadSession]:
    token = request.match_info["upload"]
    session = _sessions(request).get(token)
    if session is None or session.account != actor_account or session.tender_id != request.match_info["id"]:
        raise NotFoundError("找不到这次上传（已完成、已取消或已超时），请重新密封并上传投标文件")
    return token, session


@routes.post("/api/tenders/{id}/bid/uploads", name="bids.upload_start")
async def upload_start(request: web.Request) -> web.Response:
    """Open an upload session for a sealed bid of `size` bytes, sent in parts."""
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    try:
        size = (await request.json())["size"]
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest('请以 JSON 说明密封投标文件的大小：{"size": 字节数}') from None
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise InvalidRequest("文件大小（size）须为大于零的整数（字节）")
    sessions = _sessions(request)
    for token, old in list(sessions.items()):  # one session per bidder and tender: a new one replaces it
        if old.account == actor.account and old.tender_id == tender.id:
            old.end(sessions, token)
    token = secrets.token_urlsafe(18)
    session = UploadSession(actor.account, tender.id, size)
    session.task = asyncio.ensure_future(
        bids.submit(ctx(request), actor, tender.id, session.body(), upload_meta(request), size)
    )
    session.task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved by a part or lost
    sessions[token] = session
    session.touch(sessions, token)
    return json_response({"upload": token, "size": size}, status=201)


@routes.put("/api/tenders/{id}/bid/uploads/{upload}", name="bids.upload_part")
async def upload_part(request: web.Request) -> web.Response:
    """Bytes `offset`.. of the sealed bid; the part with `last=1` ends it and answers the receipt."""
    actor = current_actor(request)
    if request.content_type != "application/octet-stream":
        raise UnsupportedMediaType("请以原始内容（Content-Type application/octet-stream）上传每一段")
    token, session = _session(request, actor.account)
    sessions = _sessions(request)
    try:
        offset = int(request.query.get("offset", ""))
    except ValueError:
        raise InvalidRequest("本段的起点（offset）须为此前已发送的字节数") from None
    last = request.query.get("last") == "1"
    assert session.task is not None
    async with session.lock:
        if offset != session.received:
            raise ConflictError("本段的起点与已上传的位置不符：本段从第 {offset} 字节开始，已上传到第 {received} 字节",
                                offset=offset, received=session.received)
        session.touch(sessions, token)
        try:
            async for chunk in request.content.iter_chunked(CHUNK):
                if session.received + len(chunk) > session.size:
                    raise InvalidRequest("上传的内容超过了声明的大小（{size} 字节）", size=session.size)
                await session.feed(chunk)
                if session.task.done():
                    break
                session.received += len(chunk)
            if not session.task.done():  # answer only once submit has taken the part (or refused it)
                joined = asyncio.ensure_future(session.queue.join())
                await asyncio.wait({joined, session.task}, return_when=asyncio.FIRST_COMPLETED)
                joined.cancel()
            if not session.task.done() and last:
                if session.received != session.size:
                    raise InvalidRequest("上传的内容少于声明的大小：只有 {received} 字节，声明为 {size} 字节",
                                             received=session.received, size=session.size)
                session.finishing = True
                await session.feed(None)
                await asyncio.wait({session.task})
        except BaseException:
            session.end(sessions, token)  # a part that breaks off ends the upload: nothing is kept
            raise
        if session.task.done():
            session.end(sessions, token)
            if session.task.cancelled():
                raise NotFoundError("上传已取消")
            receipt = session.task.result()  # raises what submit refused (limit, header, deadline)
            if not last:
                raise InvalidRequest("上传在最后一段之前中断")
            return json_response(receipt.to_json(), status=201)
        session.touch(sessions, token)
    return json_response({"received": session.received})


@routes.delete("/api/tenders/{id}/bid/uploads/{upload}", name="bids.upload_cancel")
async def upload_cancel(request: web.Request) -> web.Response:
    """Stop an upload: nothing of it is stored or logged."""
    actor = current_actor(request)
    token, session = _session(request, actor.account)
    if session.finishing:
        raise ConflictError("投标文件正在保存，请在「我的投标」查看回执，或撤回投标")
    session.end(_sessions(request), token)
    if session.task is not None:
        await asyncio.wait({session.task})
    return json_response({"cancelled": True})


@routes.delete("/api/tenders/{id}/bid", name="bids.withdraw")
async def withdraw(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    return json_response((await bids.withdraw(ctx(request), actor, request.match_info["id"])).to_json())


@routes.get("/api/tenders/{id}/bid", name="bids.mine")
async def mine(request: web.Request) -> web.Response:
    actor = current_actor(request)
    await visible_tender(request, actor)
    return json_response((await bids.my_bid(ctx(request), actor, request.match_info["id"])).to_json())


@routes.get("/api/tenders/{id}/bids", name="bids.list")
async def list_bids(request: web.Request) -> web.Response:
    actor = current_actor(request)
    tender = await visible_tender(request, actor)
    if actor.role != "supervisor" and not (tender.owned_by(actor) and tender.state in AFTER_OPENING):
        raise Forbidden("开标后代理机构才能看到投标")
    async with ctx(request).engine.connect() as conn:
        rows = await bid_rows(conn, tender.id)
    return json_response({"bids": [bids.bid_json(r) for r in rows]})
