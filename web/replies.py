"""JSON replies of the API: UTF-8 as it is, never ``\\uXXXX`` escapes (people read them too)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aiohttp import web

_dumps = partial(json.dumps, ensure_ascii=False)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """`web.json_response` with Chinese (and every other script) kept readable."""
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)
