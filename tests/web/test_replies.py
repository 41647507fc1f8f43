"""The API's JSON replies: Chinese as it is; text that cannot be UTF-8 still answers (escaped)."""

from __future__ import annotations

import json

from web.replies import json_response


def test_chinese_is_sent_as_utf8() -> None:
    reply = json_response({"title": "办公设备"}, status=201, headers={"Cache-Control": "no-store"})
    assert reply.body == '{"title": "办公设备"}'.encode()
    assert (reply.status, reply.content_type, reply.charset) == (201, "application/json", "utf-8")
    assert reply.headers["Cache-Control"] == "no-store"


def test_a_lone_surrogate_falls_back_to_escapes() -> None:
    reply = json_response({"name": "办\ud800"})
    assert reply.body == b'{"name": "\\u529e\\ud800"}' and json.loads(reply.body) == {"name": "办\ud800"}
