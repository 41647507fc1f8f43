"""Protocol messages: every type round-trips, every malformed case has its exact error."""

from __future__ import annotations

import json

import pytest

from signaling.codes import ErrorCode, LeaveReason, MediaKind, Role
from signaling.messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    Answer,
    Candidate,
    Error,
    IceRestart,
    Join,
    Leave,
    MediaState,
    Mute,
    MuteRequested,
    Offer,
    PeerBack,
    PeerJoined,
    PeerLeft,
    PeerMedia,
    PeerReconnecting,
    Ping,
    Pong,
    RelayedAnswer,
    RelayedCandidate,
    RelayedIceRestart,
    RelayedOffer,
    Remove,
    Removed,
    Welcome,
    parse_client,
    parse_server,
    relay_text,
)
from signaling.wire import IceCandidate, IceServer, PeerInfo, ProtocolError, raw_string_literal

from .sdp import CHROMIUM_OFFER

CAND = IceCandidate("candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host generation 0", "0", 0, "abcd")
CLIENT = [
    Join("pb1.x.y"),
    Offer("bob", CHROMIUM_OFFER),
    Answer("bob", "v=0\r\n"),
    Candidate("bob", CAND),
    Candidate("bob", IceCandidate("")),
    IceRestart("bob"),
    Leave(),
    Ping(),
    Ping(1723456789.5),
    Mute("bob", MediaKind.AUDIO),
    MediaState(False, True),
    Remove("bob", "left the booth unattended"),
]
SERVER = [
    Welcome(
        "alice", "room-1", Role.HOST, "Alice",
        (PeerInfo("bob", "Bob", Role.EXPERT), PeerInfo("carol", "Carol", Role.SUPERVISOR, "reconnecting")),
        (IceServer(("stun:stun.example.org:3478",)), IceServer(("turn:t.example.org:3478",), "1:alice", "cHc=")),
        60.0, 10.0, 65536, True,
    ),
    PeerJoined(PeerInfo("bob", "Bob", Role.OBSERVER)),
    PeerLeft("bob", LeaveReason.TIMEOUT),
    PeerReconnecting("bob"),
    PeerBack("bob"),
    RelayedOffer("bob", CHROMIUM_OFFER),
    RelayedAnswer("bob", "v=0\r\n"),
    RelayedCandidate("bob", CAND),
    RelayedIceRestart("bob"),
    MuteRequested("alice", MediaKind.VIDEO),
    PeerMedia("alice", False, True, True),
    Removed("alice", ""),
    Error(ErrorCode.UNKNOWN_PEER, 'no participant "x" in this room', "offer"),
    Pong(3.0),
]


def test_every_type_is_covered() -> None:
    assert {m.TYPE for m in CLIENT} == set(CLIENT_TYPES)
    assert {m.TYPE for m in SERVER} == set(SERVER_TYPES)


@pytest.mark.parametrize("msg", CLIENT, ids=lambda m: m.TYPE)
def test_client_round_trip(msg: object) -> None:
    text = msg.to_json()  # type: ignore[attr-defined]
    assert parse_client(text) == msg
    assert parse_client(text).to_json() == text


@pytest.mark.parametrize("msg", SERVER, ids=lambda m: m.TYPE)
def test_server_round_trip(msg: object) -> None:
    text = msg.to_json()  # type: ignore[attr-defined]
    assert parse_server(text) == msg
    assert parse_server(text).to_json() == text


def test_wire_shape_is_pinned() -> None:
    assert Offer("bob", "v=0").to_json() == '{"type":"offer","to":"bob","sdp":"v=0"}'
    assert RelayedOffer("alice", "v=0").to_json() == '{"type":"offer","from":"alice","sdp":"v=0"}'
    assert json.loads(Candidate("bob", CAND).to_json())["candidate"] == {
        "candidate": CAND.candidate, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd",
    }
    assert PeerLeft("x", LeaveReason.REMOVED).to_json() == '{"type":"peer-left","id":"x","reason":"removed"}'


def test_unknown_fields_are_ignored() -> None:
    assert parse_client('{"type":"ice-restart","to":"bob","extra":[1,2]}') == IceRestart("bob")


def test_real_browser_offer_parses() -> None:
    msg = parse_client(Offer("bob", CHROMIUM_OFFER).to_json())
    assert isinstance(msg, Offer) and msg.sdp == CHROMIUM_OFFER
    assert 5000 < len(CHROMIUM_OFFER.encode()) < 8000


MALFORMED = [
    ("{", ErrorCode.BAD_JSON, "message is not valid JSON"),
    (b"\xff\xfe", ErrorCode.BAD_JSON, "message is not valid JSON"),
    ("[1,2]", ErrorCode.BAD_MESSAGE, "message must be a JSON object"),
    ('"join"', ErrorCode.BAD_MESSAGE, "message must be a JSON object"),
    ("{}", ErrorCode.BAD_MESSAGE, 'missing field "type"'),
    ('{"type":7}', ErrorCode.BAD_MESSAGE, 'missing field "type"'),
    ('{"type":"shout"}', ErrorCode.UNKNOWN_TYPE, 'unknown message type "shout"'),
    ('{"type":"welcome"}', ErrorCode.UNKNOWN_TYPE, 'unknown message type "welcome"'),
    ('{"type":"join"}', ErrorCode.BAD_MESSAGE, 'missing field "token"'),
    ('{"type":"join","token":""}', ErrorCode.BAD_MESSAGE, 'field "token" must be a string of 1 to 2048 characters'),
    ('{"type":"offer","sdp":"v=0"}', ErrorCode.BAD_MESSAGE, 'missing field "to"'),
    ('{"type":"offer","to":5,"sdp":"v=0"}', ErrorCode.BAD_MESSAGE, 'field "to" must be a string of 1 to 64 characters'),
    ('{"type":"offer","to":"' + "x" * 65 + '","sdp":"v=0"}', ErrorCode.BAD_MESSAGE,
     'field "to" must be a string of 1 to 64 characters'),
    ('{"type":"answer","to":"bob"}', ErrorCode.BAD_MESSAGE, 'missing field "sdp"'),
    ('{"type":"candidate","to":"bob"}', ErrorCode.BAD_MESSAGE, 'missing field "candidate"'),
    ('{"type":"candidate","to":"bob","candidate":"x"}', ErrorCode.BAD_MESSAGE, 'field "candidate" must be an object'),
    ('{"type":"candidate","to":"bob","candidate":{"candidate":"c","sdpMLineIndex":-1}}', ErrorCode.BAD_MESSAGE,
     'field "sdpMLineIndex" must be an integer from 0 to 1023'),
    ('{"type":"candidate","to":"bob","candidate":{"candidate":"c","sdpMLineIndex":true}}', ErrorCode.BAD_MESSAGE,
     'field "sdpMLineIndex" must be an integer from 0 to 1023'),
    ('{"type":"ping","ts":"now"}', ErrorCode.BAD_MESSAGE, 'field "ts" must be a number'),
    ('{"type":"ping","ts":true}', ErrorCode.BAD_MESSAGE, 'field "ts" must be a number'),
    ('{"type":"mute","to":"bob","kind":"screen"}', ErrorCode.BAD_MESSAGE, 'field "kind" must be one of: audio, video'),
    ('{"type":"remove","to":"bob","reason":5}', ErrorCode.BAD_MESSAGE,
     'field "reason" must be a string of 0 to 200 characters'),
    # the value rule, checked before the message is read (docs/signaling.md, Values)
    ('{"type":"remove","to":"bob","reason":"\\ud800"}', ErrorCode.BAD_JSON,
     "message is not valid Unicode: lone surrogate \\ud800"),
    ('{"type":"ping","\\udfff":0}', ErrorCode.BAD_JSON, "message is not valid Unicode: lone surrogate \\udfff"),
    ('["\\udc00"]', ErrorCode.BAD_JSON, "message is not valid Unicode: lone surrogate \\udc00"),
    (b'{"type":"remove","to":"bob","reason":"\xed\xa0\x80"}', ErrorCode.BAD_JSON,  # UTF-8 of a surrogate
     "message is not valid JSON"),
    ('{"type":"ping","ts":NaN}', ErrorCode.BAD_JSON, "numbers must be finite and at most 2^53 in magnitude"),
    ('{"type":"ping","ts":-Infinity}', ErrorCode.BAD_JSON, "numbers must be finite and at most 2^53 in magnitude"),
    ('{"type":"ping","ts":1e999}', ErrorCode.BAD_JSON, "numbers must be finite and at most 2^53 in magnitude"),
    ('{"type":"ping","ts":-9007199254740993}', ErrorCode.BAD_JSON,
     "numbers must be finite and at most 2^53 in magnitude"),
    ('{"type":"ping","ts":' + "9" * 5000 + "}", ErrorCode.BAD_JSON,
     "numbers must be finite and at most 2^53 in magnitude"),
    ('{"type":"ping","x":' + "[" * 32 + "]" * 32 + "}", ErrorCode.BAD_JSON, "message is nested deeper than 32 levels"),
    ("[" * 100_000 + "]" * 100_000, ErrorCode.BAD_JSON, "message is nested deeper than 32 levels"),
]


@pytest.mark.parametrize(("text", "code", "message"), MALFORMED)
def test_malformed_client_messages(text: str | bytes, code: ErrorCode, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client(text)
    assert (info.value.code, info.value.message) == (code, message)


def test_the_value_rule_lets_good_values_through() -> None:
    assert parse_client('{"type":"remove","to":"bob","reason":"\\ud83d\\ude00 \\u624b\\u673a"}') == Remove("bob", "\U0001f600 手机")
    assert parse_client('{"type":"ping","ts":9007199254740992}') == Ping(2.0**53)
    assert parse_client('{"type":"ping","ts":-1.5e-300}') == Ping(-1.5e-300)
    assert parse_client('{"type":"ping","x":' + "[" * 31 + "]" * 31 + "}") == Ping()


def test_malformed_server_messages() -> None:
    with pytest.raises(ProtocolError, match='field "reason" must be one of: left, timeout, removed'):
        parse_server('{"type":"peer-left","id":"x","reason":"bored"}')
    with pytest.raises(ProtocolError, match='field "state" must be one of: connected, reconnecting'):
        parse_server('{"type":"peer-joined","peer":{"id":"x","name":"X","role":"expert","state":"gone"}}')
    with pytest.raises(ProtocolError, match='field "urls" must be a non-empty list of strings'):
        parse_server(SERVER[0].to_json().replace('"urls":["stun:stun.example.org:3478"]', '"urls":[]'))


# --- relaying without re-encoding the SDP -----------------------------------------------------------


def _relayed(text: str) -> tuple[str, object]:
    msg = parse_client(text)
    assert isinstance(msg, (Offer, Candidate, IceRestart))
    return relay_text(msg, "alice", text), msg


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"type": "offer", "to": "bob", "sdp": CHROMIUM_OFFER}),  # Python's default separators
        json.dumps({"type": "answer", "to": "bob", "sdp": CHROMIUM_OFFER}, separators=(",", ":")),
        json.dumps({"sdp": CHROMIUM_OFFER, "type": "offer", "to": "bob", "extra": [1, {"x": 2}]}),
        '{ "type" : "offer" ,\n "to" : "bob" ,\t"sdp"\r\n:\n "v=0\\r\\nx é 中\\r\\n" }',
        json.dumps({"type": "offer", "to": "bob", "sdp": "v=0\r\né"}, ensure_ascii=False),
    ],
    ids=["default-json", "compact-answer", "sdp-first", "whitespace", "non-ascii"],
)
def test_relay_copies_the_sdp_literal(text: str) -> None:
    out, msg = _relayed(text)
    assert isinstance(msg, Offer)
    relayed = (RelayedAnswer if isinstance(msg, Answer) else RelayedOffer)("alice", msg.sdp)
    assert parse_server(out) == relayed
    assert json.loads(out) == {"type": msg.TYPE, "from": "alice", "sdp": msg.sdp}  # nothing else, no `to`
    assert raw_string_literal(text, "sdp", msg.sdp) is not None  # the fast path was taken


@pytest.mark.parametrize(
    "text",
    [
        # decoys: whatever the text holds, the addressee gets exactly the validated `sdp`
        '{"type":"offer","to":"bob","sdp":"evil","sdp":"good"}',
        '{"type":"offer","to":"bob","sdp":"good","x":{"sdp":"evil"}}',
        '{"type":"offer","to":"bob","x":"\\"sdp\\":\\"evil\\"","sdp":"good"}',
        '{"type":"offer","to":"bob","k\\"sdp":"evil","sdp":"good"}',
        '{"type":"offer","to":"bob","sdp":"go\\u006fd"}',  # other escapes: encoded again
        '{"type":"offer","to":"bob","x":{"sdp":"evil"},"s\\u0064p":"good"}',  # escaped key
        '{"type":"offer","to":"bob","s\\u0064p":"good","a\\"sdp":"evil"}',
        '{"type":"offer","to":"bob","a\\"sdp":"evil","s\\u0064p":"good"}',
        '{"type":"offer","to":"bob","x":["\\"sdp\\":\\"evil"],"sdp":"good"}',
        '{"type":"offer","to":"bob","sdp":"a\\"b\\\\"}',
        '{"type":"offer","to":"bob","sdp":"a\\\\r"}',
        '{"type":"offer","to":"bob","sdp":"a\\\\\\r"}',
        '{"type":"offer","to":"bob","sdp":"\\t/\\/"}',
    ],
)
def test_relay_never_forwards_other_text_than_the_validated_sdp(text: str) -> None:
    out, msg = _relayed(text)
    assert isinstance(msg, Offer)
    assert json.loads(out) == {"type": "offer", "from": "alice", "sdp": json.loads(text)["sdp"]}
    assert parse_server(out) == RelayedOffer("alice", msg.sdp)


def test_relay_of_candidates_and_ice_restarts_is_rebuilt() -> None:
    text = json.dumps({"type": "candidate", "to": "bob", "candidate": {**CAND.dump(), "junk": "x" * 100}})
    out, _ = _relayed(text)
    assert parse_server(out) == RelayedCandidate("alice", CAND)
    assert "junk" not in out and '"to"' not in out
    out, _ = _relayed('{"type":"ice-restart","to":"bob"}')
    assert out == '{"type":"ice-restart","from":"alice"}'
