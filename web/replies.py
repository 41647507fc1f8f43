"""JSON replies of the API: UTF-8 as it is, never ``\\uXXXX`` escapes (people read them too)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """`web.json_response` with Chinese (and every other script) kept readable. Text that is not
    valid Unicode (a lone surrogate the input boundary should have refused) cannot be UTF-8: that
    reply falls back to escapes rather than failing."""
    try:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(data).encode("ascii")
    return web.Response(body=body, status=status, headers=headers, content_type="application/json", charset="utf-8")
