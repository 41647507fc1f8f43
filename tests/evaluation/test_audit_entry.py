"""The canonical leaf encoding: exact bytes, round trips, and refusals with their messages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from evaluation.audit.entry import Actor, EntryDraft, LeafError, decode_leaf, encode_leaf

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
        ({"price": 1.5}, "payload.price is a float (1.5): floats are not canonical"),
        ({"n": [1, 2**53]}, "payload.n[1] is 9007199254740992: integers must be within"),
        ({1: "x"}, "payload has a non-string key 1"),
        ({"s": "\ud800"}, "payload.s holds a string that is not valid Unicode"),
        ({"b": b"x"}, "payload.b has a value of type bytes"),
    ],
)
def test_payload_refused(payload: dict, message: str) -> None:
    with pytest.raises(LeafError) as caught:
        EntryDraft("x.y", payload)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        (b'{"actor":{"account":"a","role":"r"}, "index":0,"kind":"k","payload":{},"tender":null,'
         b'"time":"2026-05-01T08:00:00.000000Z","v":1}', "leaf of entry 0 is not in canonical form"),
        (b'{"actor":{"account":"a","role":"r"},"index":0,"kind":"k","payload":{"p":1.0},"tender":null,'
         b'"time":"2026-05-01T08:00:00.000000Z","v":1}', "leaf holds a float (1.0)"),
        (b'{"actor":{"account":"a","role":"r"},"index":0,"kind":"k","payload":{},"tender":null,'
         b'"time":"2026-05-01T08:00:00Z","v":1}', "time '2026-05-01T08:00:00Z' is not RFC 3339 UTC"),
        (b'{"actor":{"account":"a","role":"r"},"index":0,"kind":"k","payload":{},"tender":null,'
         b'"time":"2026-05-01T08:00:00.000000Z","v":2}', "leaf version 2 is not supported"),
        (b"[1]", "leaf must be an object with the members"),
    ],
)
def test_decode_refuses(leaf: bytes, message: str) -> None:
    with pytest.raises(LeafError) as caught:
        decode_leaf(leaf)
    assert str(caught.value).startswith(message)
