"""The browser's way to Janus: a filtering proxy in Janus's own HTTP layout (docs/media.md).

    POST /api/booth/{room}/janus                      {"janus": "create"}
    POST /api/booth/{room}/janus/{session}            attach (VideoRoom only), keepalive, destroy
    GET  /api/booth/{room}/janus/{session}?maxev=N    the session's events (long-poll)
    POST /api/booth/{room}/janus/{session}/{handle}   message, trickle, detach

Every request is the signed-in member's (``may_join``), for their own Janus session in their own
booth room. Plugin messages are rebuilt from an allow-list: the Janus room is always the booth
room's; a publisher joins under the one feed id and display pingbiao gives its account and
source (camera or screen), after any older connection under that id is kicked; room management
(create, destroy, kick, record, rtp_forward…) and every secret stay on the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from evaluation.errors import Text
from signaling.janus.launcher import JanusUnavailable
from web.booth.media import MEDIA, SOURCES, MediaPlane, feed_id, janus_room_id
from web.errors import NotFound
from web.i18n import language_of, localize
from web.replies import json_response

routes = web.RouteTableDef()

MESSAGE_REQUESTS = {"join", "publish", "configure", "unpublish", "start", "pause", "subscribe",
                    "unsubscribe", "update", "leave", "switch"}
BODY_KEYS = {"request", "audio", "video", "data", "bitrate", "keyframe", "descriptions", "streams"}
STREAM_KEYS = {"feed", "mid", "sub_mid", "send", "keyframe", "description"}
MAX_STREAMS = 64
SESSIONS_PER_MEMBER = 4  # media sessions one member keeps in one room (a reload or two, another tab)


def _refuse(request: web.Request, text: Text) -> web.Response:
    reason = localize(text, language_of(request))
    return json_response({"janus": "error", "error": {"code": 403, "reason": reason}}, status=403)


async def _member(request: web.Request) -> tuple[str, str, MediaPlane]:
    room = request.match_info["room"]
    media = request.app[MEDIA]
    account = await media.admit(request, room)  # the booth's one entry rule (web/booth/routes.py)
    if not media.sfu:
        raise NotFound("这个评标舱没有录音录像服务")
    try:
        await media.ensure_room(room)
    except JanusUnavailable:
        raise NotFound("这个评标舱没有录音录像服务") from None
    return account, room, media


def _own_session(request: web.Request, media: MediaPlane, account: str, room: str) -> int:
    try:
        session = int(request.match_info["session"])
    except ValueError:
        raise NotFound("没有这个媒体会话") from None
    if media.owners.get(session) != (account, room):
        raise NotFound("没有这个媒体会话")
    return session


def _handle(request: web.Request) -> int:
    try:
        return int(request.match_info["handle"])
    except ValueError:
        raise NotFound("没有这个媒体连接") from None


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("janus"), str):
        raise web.HTTPBadRequest(text="请求格式不对 Expected a Janus request object", content_type="text/plain")
    return body


async def _janus(media: MediaPlane, path: str, body: dict[str, Any]) -> dict[str, Any]:
    assert media._http is not None
    try:
        async with media._http.post(media.url + path, json=body, timeout=aiohttp.ClientTimeout(total=15)) as r:
            return dict(await r.json(content_type=None))
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return {"janus": "error", "error": {"code": 503, "reason": "媒体服务器暂不可用 The media server is not answering"}}


def _streams(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_STREAMS:
        raise ValueError("streams")
    out = []
    for s in value:
        if not isinstance(s, dict):
            raise ValueError("stream")
        clean = {k: v for k, v in s.items() if k in STREAM_KEYS}
        if "feed" in clean and (not isinstance(clean["feed"], int) or isinstance(clean["feed"], bool)):
            raise ValueError("feed")
        out.append(clean)
    return out


async def plugin_body(media: MediaPlane, account: str, room: str, body: Any) -> dict[str, Any]:
    """The VideoRoom request to forward for a member's `body`, or ValueError."""
    if not isinstance(body, dict) or body.get("request") not in MESSAGE_REQUESTS:
        raise ValueError("request")
    clean = {k: v for k, v in body.items() if k in BODY_KEYS}
    if "streams" in clean:
        clean["streams"] = _streams(clean["streams"])
    if body["request"] == "join":
        clean["room"] = janus_room_id(room)
        if body.get("ptype") == "publisher":
            source = body.get("source", "camera")
            if source not in SOURCES:
                raise ValueError("source")
            feed = feed_id(room, account, source)
            await media.kick(room, feed)
            media.feeds[(room, feed)] = (account, source)
            clean.update(ptype="publisher", id=feed, display=f"{account}/{source}")
            clean.pop("streams", None)
        elif body.get("ptype") == "subscriber":
            clean.update(ptype="subscriber")
            clean.setdefault("streams", [])
        else:
            raise ValueError("ptype")
    return clean


@routes.post("/api/booth/{room}/janus", name="booth.janus")
async def create(request: web.Request) -> web.Response:
    account_id, room, media = await _member(request)
    body = await _body(request)
    if body["janus"] != "create":
        return _refuse(request, Text("只能创建媒体会话（create）"))
    reply = await _janus(media, "", {"janus": "create", "transaction": str(body.get("transaction", ""))[:64]})
    if reply.get("janus") == "success":
        mine = [sid for sid, owner in media.owners.items() if owner == (account_id, room)]
        for sid in mine[: max(0, len(mine) - SESSIONS_PER_MEMBER + 1)]:
            media.owners.pop(sid, None)  # the oldest is forgotten here; Janus times it out
        media.owners[int(reply["data"]["id"])] = (account_id, room)
    return json_response(reply)


@routes.post("/api/booth/{room}/janus/{session}", name="booth.janus_session")
async def session_request(request: web.Request) -> web.Response:
    account_id, room, media = await _member(request)
    session = _own_session(request, media, account_id, room)
    body = await _body(request)
    tx = str(body.get("transaction", ""))[:64]
    kind = body["janus"]
    if kind == "attach":
        if body.get("plugin") != "janus.plugin.videoroom":
            return _refuse(request, Text("只能使用视频会议插件（VideoRoom）"))
        forward = {"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": tx}
    elif kind in ("keepalive", "destroy"):
        forward = {"janus": kind, "transaction": tx}
    else:
        return _refuse(request, Text("不允许的请求 {kind}", kind=repr(kind[:40])))
    reply = await _janus(media, f"/{session}", forward)
    if kind == "destroy":
        media.owners.pop(session, None)
    return json_response(reply)


@routes.get("/api/booth/{room}/janus/{session}", name="booth.janus_events")
async def events(request: web.Request) -> web.Response:
    account_id, room, media = await _member(request)
    session = _own_session(request, media, account_id, room)
    assert media._http is not None
    maxev = request.query.get("maxev", "10")
    maxev = maxev if maxev.isdigit() and 0 < int(maxev) <= 50 else "10"
    try:
        async with media._http.get(f"{media.url}/{session}?maxev={maxev}",
                                   timeout=aiohttp.ClientTimeout(total=45)) as r:
            reply = await r.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        reply = {"janus": "error", "error": {"code": 503, "reason": "媒体服务器暂不可用 The media server is not answering"}}
    if isinstance(reply, dict) and reply.get("janus") == "error" and reply.get("error", {}).get("code") == 458:
        media.owners.pop(session, None)  # Janus forgot the session (timed out or restarted)
    return json_response(reply)


@routes.post("/api/booth/{room}/janus/{session}/{handle}", name="booth.janus_handle")
async def handle_request(request: web.Request) -> web.Response:
    account_id, room, media = await _member(request)
    session = _own_session(request, media, account_id, room)
    handle = _handle(request)
    body = await _body(request)
    tx = str(body.get("transaction", ""))[:64]
    kind = body["janus"]
    if kind == "message":
        try:
            plugin = await plugin_body(media, account_id, room, body.get("body"))
        except ValueError:
            return _refuse(request, Text("不允许的媒体请求"))
        forward: dict[str, Any] = {"janus": "message", "body": plugin, "transaction": tx}
        jsep = body.get("jsep")
        if isinstance(jsep, dict) and jsep.get("type") in ("offer", "answer") and isinstance(jsep.get("sdp"), str):
            forward["jsep"] = {"type": jsep["type"], "sdp": jsep["sdp"][:200_000]}
    elif kind == "trickle":
        forward = {"janus": "trickle", "transaction": tx}
        for key in ("candidate", "candidates"):
            if key in body:
                forward[key] = body[key]
    elif kind == "detach":
        forward = {"janus": "detach", "transaction": tx}
    else:
        return _refuse(request, Text("不允许的请求 {kind}", kind=repr(kind[:40])))
    return json_response(await _janus(media, f"/{session}/{handle}", forward))
