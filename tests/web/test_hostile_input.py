"""Hostile input at the JSON boundary (web/api/body.py, evaluation/inputs.py): deep nesting, huge
numbers, floats, lone surrogates and NUL, unknown invitations — each a 400 with one line (Chinese
first), nothing stored, nothing logged; and the server keeps answering."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.tenders import tender as tenders
from tests.web.tender_client import Hall, start, tender_body
from web.api.tenders import TENDERS
from web.keys import AUDIT_LOG

DEEP = ("[" * 100_000) + ("]" * 100_000)


def hostile_bodies(hall: Hall) -> list[tuple[str, bytes, int, str]]:
    """(what, raw body, status, expected text) for POST /api/tenders."""
    base = tender_body()

    def body(**over: Any) -> bytes:
        return json.dumps({**base, **over}).encode()

    return [
        ("nested 100 000 deep", json.dumps({**base, "lots": "X"}).encode().replace(b'"X"', DEEP.encode()), 400, "嵌套过深"),
        ("a deep object alone", ('{"a":' * 100_000 + "1" + "}" * 100_000).encode(), 400, "嵌套过深"),
        ("opening_time 2**80", body(opening_time=2**80), 400, "整数超出范围"),
        ("a huge integer", body(budget_fen=int("9" * 4000)), 400, "整数超出范围"),
        ("a float", body(budget_fen=1.5), 400, "数字必须是整数（收到 1.5）"),
        ("an exponent", body(budget_fen="X").replace(b'"X"', b"1e5000"), 400, "数字必须是整数（收到 1e5000）"),
        ("NaN", body(budget_fen="X").replace(b'"X"', b"NaN"), 400, "不允许的数值：NaN"),
        ("a lone surrogate", body(title="X").replace(b'"X"', b'"\\ud800"'), 400, "含有无效字符：请求内容.title"),
        ("a surrogate key", body().replace(b'"title"', b'"t\\udfff"', 1), 400, "含有无效字符"),
        ("NUL", body(description="a\x00b"), 400, "含有无效字符：请求内容.description"),
        ("not UTF-8", b'{"title": "\xff"}', 400, "不是 UTF-8 编码"),
        ("not JSON", b"{", 400, "不是有效的 JSON"),
        ("a list", b"[]", 400, "必须是 JSON 对象"),
        ("empty", b"", 400, "请求正文为空"),
        ("year 10000", body(opening_time="9999-12-31T23:00:00-10:00"), 400, "「开标时间」超出范围（须在 1970 至 9999 年之间）"),
        ("unknown invitation", body(method="invited", invited=["nope"]), 400, "invited: unknown account(s) nope"),
        ("an agency invited", body(method="invited", invited=[hall.accounts["agency2"].id]), 400,
         f"not bidder account(s) {hall.accounts['agency2'].id} (agency)"),
        ("too large", body(description="x" * (1 << 20)), 413, "请求正文过大"),
    ]


async def test_hostile_tender_bodies_are_refused_with_one_line(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    size = hall.client.app[AUDIT_LOG].size
    for what, raw, status, text in hostile_bodies(hall):
        got, body = await hall.call("agency", "POST", "/api/tenders", data=raw, headers={"Content-Type": "application/json"})
        assert (what, got) == (what, status), body
        assert isinstance(body, dict) and text in body["error"] and "\n" not in body["error"], (what, body)
        assert body["error"][0] > "\u2e80", (what, body)  # Chinese first
    assert hall.client.app[AUDIT_LOG].size == size
    assert await tenders.list_all(hall.client.app[TENDERS]) == []
    ok, body = await hall.call("agency", "POST", "/api/tenders", json=tender_body(method="invited", invited=[hall.accounts["bidder0"].id]))
    assert ok == 201, body
    assert (await hall.client.get("/healthz")).status == 200


@pytest.mark.parametrize("path", ["/api/tenders/%00", "/api/tenders?mine=%00", "/tenders?x=%00"])
async def test_nul_in_path_or_query_is_refused(aiohttp_client: Any, tmp_path: Path, path: str) -> None:
    hall = await start(aiohttp_client, tmp_path)
    status, body = await hall.call("agency", "GET", path)
    assert status == 400 and "含有无效字符" in body["error"]


async def test_a_header_with_invalid_text_is_refused(aiohttp_client: Any, tmp_path: Path) -> None:
    """Raw bytes on the wire (a client library would not send them): a User-Agent that is not UTF-8."""
    hall = await start(aiohttp_client, tmp_path)
    reader, writer = await asyncio.open_connection(hall.client.server.host, hall.client.server.port)
    cookie = hall.headers["agency"]["Cookie"].encode()
    writer.write(b"GET /api/tenders HTTP/1.1\r\nHost: x\r\nUser-Agent: \xed\xa0\x80\r\nCookie: " + cookie + b"\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and "请求头 User-Agent" in json.loads(body)["error"]


async def test_login_form_and_json_follow_the_same_rule(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    raw = b'{"username": "\\ud800", "password": "x"}'
    status, body = await hall.call("anonymous", "POST", "/login", data=raw, headers={"Content-Type": "application/json"})
    assert status == 400 and "含有无效字符" in body["error"]
    status, body = await hall.call("anonymous", "POST", "/login", data={"username": "a\x00", "password": "x"})
    assert status == 400 and "表单字段 username" in body["error"]
