"""The canonical leaf encoding: exact bytes, round trips, and refusals with their messages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from evaluation.audit.entry import Actor, EntryDraft, LeafError, decode_leaf, encode_leaf
from tests.messages import CHINESE_FIRST

T = datetime(2026, 5, 1, 8, 0, 0, 5, tzinfo=timezone.utc)


def test_golden_leaf_bytes() -> None:
    leaf = encode_leaf(7, T, "T-1", Actor("张三", "bidder"), "bid.submitted", {"size": 3, "b": [True, None], "a": "开标"})
    assert leaf == (
        '{"actor":{"account":"张三","role":"bidder"},"index":7,"kind":"bid.submitted",'
        '"payload":{"a":"开标","b":[true,null],"size":3},"tender":"T-1",'
        '"time":"2026-05-01T08:00:00.000005Z","v":1}'
    ).encode()
    entry = decode_leaf(leaf)
    assert (entry.index, entry.time, entry.tender_id, entry.actor.account, entry.kind) == (
        7, T, "T-1", "张三", "bid.submitted"
    )
    assert entry.payload == {"a": "开标", "b": [True, None], "size": 3}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"price": 1.5}, "内容中不能有小数，请用整数或文字：payload.price 为 1.5"),
        ({"n": [1, 2**53]}, "整数过大，请改用文字：payload.n[1] 为 9007199254740992"),
        ({1: "x"}, "内容中有非文字的键：payload 的键 1"),
        ({"s": "\ud800"}, "文字中有无效字符：payload.s"),
        ({"b": b"x"}, "内容中有不允许的数据类型：payload.b 的类型为 bytes"),
    ],
)
def test_payload_refused(payload: dict, message: str) -> None:
    with pytest.raises(LeafError) as caught:
        EntryDraft("x.y", payload)
    assert CHINESE_FIRST.match(str(caught.value)) and message in str(caught.value)


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        (b'{"actor":{"account":"a","role":"r"}, "index":0,"kind":"k","payload":{},"tender":null,'
         b'"time":"2026-05-01T08:00:00.000000Z","v":1}', "第 0 条记录的格式不规范"),
        (b'{"actor":{"account":"a","role":"r"},"index":0,"kind":"k","payload":{"p":1.0},"tender":null,'
         b'"time":"2026-05-01T08:00:00.000000Z","v":1}', "记录中含有小数，格式不规范（1.0）"),
        (b'{"actor":{"account":"a","role":"r"},"index":0,"kind":"k","payload":{},"tender":null,'
         b'"time":"2026-05-01T08:00:00Z","v":1}', "时间格式不对：'2026-05-01T08:00:00Z' 不是带微秒的 RFC 3339 UTC 时间"),
        (b'{"actor":{"account":"a","role":"r"},"index":0,"kind":"k","payload":{},"tender":null,'
         b'"time":"2026-05-01T08:00:00.000000Z","v":2}', "不支持此版本的记录（版本 2，应为 1）"),
        (b"[1]", "记录格式不对：须是含成员 actor, index, kind, payload, tender, time, v 的对象"),
    ],
)
def test_decode_refuses(leaf: bytes, message: str) -> None:
    with pytest.raises(LeafError) as caught:
        decode_leaf(leaf)
    assert CHINESE_FIRST.match(str(caught.value)) and message in str(caught.value)


def test_member_by_member_encoding_equals_whole_object_encoding() -> None:
    """encode_leaf writes the leaf member by member: the same bytes as canonical_json of the object."""
    import random
    from datetime import timedelta

    from evaluation.audit.entry import canonical_json, format_time, make_entries

    rng = random.Random(7)
    alphabet = 'ab"\\\n\t\x00\x1f\x7f/é名值😀\u2028 '

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 8)))

    def value(depth: int = 0) -> object:
        r = rng.random()
        if depth > 3 or r < 0.5:
            return rng.choice([text(), rng.randrange(-(2**53) + 1, 2**53), True, False, None])
        if r < 0.75:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        return {text(): value(depth + 1) for _ in range(rng.randrange(4))}

    for i in range(2000):
        payload = {text(): value() for _ in range(rng.randrange(5))}
        actor, tender = Actor(text(), text()), rng.choice([None, text()])
        kind = "".join(ch for ch in text() if not ch.isspace()) or "k"
        moment = T + timedelta(microseconds=rng.randrange(10**12))
        whole = canonical_json(
            {"actor": actor.to_json(), "index": i, "kind": kind, "payload": payload, "tender": tender,
             "time": format_time(moment), "v": 1}
        )
        assert encode_leaf(i, moment, tender, actor, kind, payload) == whole
        [(entry, payload_text)] = make_entries(i, moment, [EntryDraft(kind, payload, tender, actor)])
        assert entry.leaf == whole
        assert payload_text.encode() == canonical_json(payload)
