"""Reading a request (请求正文) under the input rules of evaluation/inputs.py, the one way every
handler of the JSON API (and the sign-in forms) reads what a client sends: size, nesting,
numbers and text are checked here, once, before any handler sees a value."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from evaluation.errors import Text
from evaluation.inputs import MAX_JSON_BYTES, check_text, parse_json, printable
from web.errors import AppError, BadRequest, Handler

INLINE_PARSE_BYTES = 64 << 10
"""Bodies up to this size are parsed on the event loop (well under a millisecond); larger ones,
up to 1 MiB of hostile shapes (a few hundred ms), in a worker thread."""


class PayloadTooLarge(AppError):
    status = 413


async def _raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise PayloadTooLarge("请求正文过大（超过 {limit} 字节）", limit=MAX_JSON_BYTES)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge("请求正文过大（超过 {limit} 字节）", limit=MAX_JSON_BYTES) from None


async def json_value(request: web.Request) -> Any:
    """The request's JSON, any shape (InputError 400 for what breaks the rules)."""
    raw = await _raw(request)
    if not raw.strip():
        raise BadRequest("请求正文为空，请发送 JSON 对象")
    if len(raw) > INLINE_PARSE_BYTES:  # a large body is read in a worker thread: the loop keeps serving
        return await asyncio.to_thread(parse_json, raw)
    return parse_json(raw)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object."""
    data = await json_value(request)
    if not isinstance(data, dict):
        raise BadRequest("请求正文必须是 JSON 对象")
    return data


async def optional_json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or {} when it sends no body."""
    return await json_body(request) if request.can_read_body else {}


async def form_or_json(request: web.Request) -> dict[str, Any]:
    """A JSON object (``Content-Type: application/json``) or a urlencoded/multipart form, its text
    fields checked like JSON strings."""
    if request.content_type == "application/json":
        return await json_body(request)
    form = await request.post()
    return {check_text(str(k), Text("表单字段名")): check_text(v, Text("表单字段 {name}", name=printable(str(k), 80))) if isinstance(v, str) else v
            for k, v in form.items()}


HEADERS_READ = ("User-Agent", "X-Client-Fingerprint", "X-Forwarded-For", "X-Forwarded-Proto", "Origin", "Referer")
"""Headers pingbiao takes into its records (uploads, collusion leads, logs, the proxy setting)."""


def check_request_text(request: web.Request) -> None:
    """The path, every query parameter and the headers pingbiao reads hold valid text (400 otherwise)."""
    check_text(request.path, Text("请求路径"))
    for key, value in request.query.items():
        check_text(key, Text("查询参数名"))
        check_text(value, Text("查询参数 {name}", name=printable(key, 80)))
    for name in HEADERS_READ:
        if (value := request.headers.get(name)) is not None:
            check_text(value, Text("请求头 {name}", name=printable(name, 80)))


@web.middleware
async def input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the text rule to what every request carries outside its body, before any handler."""
    check_request_text(request)
    return await handler(request)
