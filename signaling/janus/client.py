"""A small async client for the Janus HTTP API: sessions, handles, VideoRoom requests, events.

One long-poll per session delivers events (and keeps the session alive); `keepalive()` covers the
gaps. Plugin events are matched to requests by transaction id.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp

VIDEOROOM = "janus.plugin.videoroom"


class JanusError(RuntimeError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus error {code}: {reason}")
        self.code = code
        self.reason = reason


def _tx() -> str:
    return secrets.token_hex(8)


class JanusSession:
    """A Janus session over HTTP with an event long-poll running in the background."""

    def __init__(self, url: str, http: aiohttp.ClientSession, session_id: int) -> None:
        self.url = url
        self.http = http
        self.id = session_id
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._poll = asyncio.create_task(self._long_poll())
        self.closed = False

    @classmethod
    async def create(cls, url: str, http: aiohttp.ClientSession) -> "JanusSession":
        reply = await _post(http, url, {"janus": "create", "transaction": _tx()})
        return cls(url, http, reply["data"]["id"])

    async def _long_poll(self) -> None:
        while not self.closed:
            try:
                async with self.http.get(f"{self.url}/{self.id}?maxev=10",
                                         timeout=aiohttp.ClientTimeout(total=40)) as r:
                    body = await r.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                if self.closed:
                    return
                await asyncio.sleep(0.2)  # retry interval after a failed poll
                continue
            for ev in body if isinstance(body, list) else [body]:
                fut = self._waiting.pop(ev.get("transaction", ""), None)
                if fut is not None and not fut.done() and ev.get("janus") != "ack":
                    fut.set_result(ev)
                elif ev.get("janus") != "keepalive":
                    await self.events.put(ev)

    async def post(self, body: dict[str, Any], handle: int | None = None) -> dict[str, Any]:
        path = f"{self.url}/{self.id}" + (f"/{handle}" if handle else "")
        return await _post(self.http, path, {**body, "transaction": body.get("transaction", _tx())})

    async def keepalive(self) -> None:
        await self.post({"janus": "keepalive"})

    async def attach(self, plugin: str = VIDEOROOM) -> "JanusHandle":
        reply = await self.post({"janus": "attach", "plugin": plugin})
        return JanusHandle(self, reply["data"]["id"])

    async def request_async(self, handle: int, body: dict[str, Any], jsep: dict | None = None,
                            timeout: float = 10.0) -> dict[str, Any]:
        """Send a plugin message answered asynchronously by an event (join, publish, start…)."""
        tx = _tx()
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[tx] = fut
        msg: dict[str, Any] = {"janus": "message", "body": body, "transaction": tx}
        if jsep is not None:
            msg["jsep"] = jsep
        reply = await self.post(msg, handle)
        if reply.get("janus") == "success":  # answered synchronously after all
            self._waiting.pop(tx, None)
            return reply
        ev = await asyncio.wait_for(fut, timeout)
        _plugin_error(ev)
        return ev

    async def destroy(self) -> None:
        self.closed = True
        try:
            await self.post({"janus": "destroy"})
        except (aiohttp.ClientError, JanusError):
            pass
        self._poll.cancel()


class JanusHandle:
    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create, destroy, list…): returns plugindata.data."""
        reply = await self.session.post({"janus": "message", "body": body}, self.id)
        _plugin_error(reply)
        return reply["plugindata"]["data"]

    async def message(self, body: dict[str, Any], jsep: dict | None = None) -> dict[str, Any]:
        return await self.session.request_async(self.id, body, jsep)

    async def trickle_done(self) -> None:
        await self.session.post({"janus": "trickle", "candidate": {"completed": True}}, self.id)

    async def detach(self) -> None:
        await self.session.post({"janus": "detach"}, self.id)


class VideoRoom:
    """Room management on one handle: pingbiao's alone, never reachable from a browser."""

    def __init__(self, handle: JanusHandle) -> None:
        self.handle = handle

    async def create(self, room: int, secret: str, rec_dir: str, publishers: int = 13,
                     pin: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "request": "create", "room": room, "secret": secret, "publishers": publishers,
            "record": True, "rec_dir": rec_dir, "videocodec": "vp8", "audiocodec": "opus",
            "permanent": False,
        }
        if pin:
            body["pin"] = pin
        return await self.handle.request(body)

    async def destroy(self, room: int, secret: str) -> dict[str, Any]:
        return await self.handle.request({"request": "destroy", "room": room, "secret": secret})

    async def exists(self, room: int) -> bool:
        return bool((await self.handle.request({"request": "exists", "room": room}))["exists"])


def _plugin_error(reply: dict[str, Any]) -> None:
    if reply.get("janus") == "error":
        raise JanusError(reply["error"]["code"], reply["error"]["reason"])
    data = reply.get("plugindata", {}).get("data", {})
    if "error_code" in data:
        raise JanusError(data["error_code"], data.get("error", ""))


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=10)) as r:
        reply = await r.json(content_type=None)
    _plugin_error(reply)
    return reply


async def keepalives(session: JanusSession, interval: float = 25.0) -> None:
    """Run forever: a keepalive per interval (cancel the task to stop)."""
    while not session.closed:
        await asyncio.sleep(interval)  # the keepalive period itself
        await session.keepalive()
