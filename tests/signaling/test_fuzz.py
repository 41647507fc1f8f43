"""Fuzzing the signaling server over a real socket with hypothesis.

Each example opens two rooms of two participants each, lets one of the four send a few frames —
documented messages, the same mutated, hostile strings (lone surrogates, controls), numbers JSON
cannot carry, deep nesting, random text, oversized and binary frames — and checks:

* every frame gets the answer docs/signaling.md gives (an oracle written apart from the server:
  stdlib JSON plus the protocol's value rule): `bad-json`, `too-large`, a close with 1009 or,
  before `join`, 4008; a well-formed frame at most one error of another documented code, a valid
  relay reaches its addressee, a valid ping its pong;
* everything the server sends is a documented message (the client's parser reads each);
* nothing crosses rooms: no participant receives anything naming a participant of the other room;
* the server logs no error and its event loop reports no unhandled exception.

The run is bounded: a fixed number of examples, each with a few frames (a few seconds to a few tens on a busy machine).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from signaling.client import Closed, SignalingClient
from signaling.codes import ErrorCode, Role
from signaling.messages import (
    Error,
    MuteRequested,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    Ping,
    Pong,
    RelayedCandidate,
    RelayedIceRestart,
    RelayedOffer,
    Removed,
    ServerMessage,
)
from signaling.server import signaling_app
from signaling.tokens import TokenSigner

from .conftest import BASE_CONFIG, SECRET, RecordingHooks
from .sdp import CHROMIUM_OFFER

LIMIT = 8192  # maxMessageBytes of the fuzzed server (the smallest sensible, so big frames are cheap)
CONFIG = replace(BASE_CONFIG, max_message_bytes=LIMIT, rate=1e6, burst=100_000, join_burst=100_000, heartbeat=60.0)
ROOMS = (("alice", "bob"), ("carol", "dave"))  # the first of each room is its host
IDS = [p for room in ROOMS for p in room]
BAD_JSON_TEXTS = (
    "message is not valid JSON",
    "message is nested deeper than 32 levels",
    "numbers must be finite and at most 2^53 in magnitude",
)

# --- what clients might send ------------------------------------------------------------------------

hostile_text = st.one_of(
    st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\ude00\ud83d", "\ud83d\ude00", "\x00", "\u202e", "\uffff",
                     "é", "bob\x00", "x" * 70, "", " "]),
    st.text(st.characters(categories=("Cs",)), min_size=1, max_size=3),  # lone surrogates only
    st.text(max_size=30),
)
numbers = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 2**53, 2**53 + 1, -(2**53) - 1, 10**400, 1e300, -0.0, 5e-324]),
    st.floats(),
    st.integers(-(2**60), 2**60),
)
ident = st.one_of(st.sampled_from(IDS), st.sampled_from(IDS), st.sampled_from(["zed", ""]), hostile_text)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=8
)
candidate = st.fixed_dictionaries(
    {"candidate": st.one_of(st.just(""), st.just("candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host"), hostile_text)},
    optional={
        "sdpMid": st.one_of(st.just("0"), st.none(), hostile_text),
        "sdpMLineIndex": st.one_of(st.integers(-2, 1100), numbers, st.none()),
        "usernameFragment": st.one_of(st.just("Y8ZF"), hostile_text),
    },
)
documented = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["offer", "answer"]), "to": ident,
                           "sdp": st.one_of(st.just(CHROMIUM_OFFER), st.just("v=0\r\n"), hostile_text)}),
    st.fixed_dictionaries({"type": st.just("candidate"), "to": ident, "candidate": candidate}),
    st.fixed_dictionaries({"type": st.just("ice-restart"), "to": ident}),
    st.fixed_dictionaries({"type": st.just("ping")}, optional={"ts": numbers}),
    st.fixed_dictionaries({"type": st.just("leave")}),
    st.fixed_dictionaries({"type": st.just("mute"), "to": ident,
                           "kind": st.one_of(st.sampled_from(["audio", "video"]), st.sampled_from(["audio", "video"]),
                                             hostile_text)}),
    st.fixed_dictionaries({"type": st.just("remove"), "to": ident},
                          optional={"reason": st.one_of(hostile_text, st.text(min_size=195, max_size=205))}),
    st.fixed_dictionaries({"type": st.just("join"), "token": hostile_text}),
)

to_anyone = st.sampled_from(IDS)
wellformed = st.one_of(  # what a good client sends, to anyone of either room
    st.fixed_dictionaries({"type": st.sampled_from(["offer", "answer"]), "to": to_anyone,
                           "sdp": st.sampled_from([CHROMIUM_OFFER, "v=0\r\n", "v=0 \U0001f600 手机"])}),
    st.fixed_dictionaries({"type": st.just("candidate"), "to": to_anyone, "candidate": st.fixed_dictionaries(
        {"candidate": st.sampled_from(["", "candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host"]),
         "sdpMid": st.just("0"), "sdpMLineIndex": st.integers(0, 1023)})}),
    st.fixed_dictionaries({"type": st.just("ice-restart"), "to": to_anyone}),
    st.fixed_dictionaries({"type": st.just("ping")}, optional={"ts": st.floats(-1e15, 1e15) | st.integers(-2**53, 2**53)}),
    st.fixed_dictionaries({"type": st.just("mute"), "to": to_anyone, "kind": st.sampled_from(["audio", "video"])}),
)


def nest(depth: int, leaf: Any, as_object: bool) -> Any:
    for _ in range(depth):
        leaf = {"a": leaf} if as_object else [leaf]
    return leaf


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A documented message with up to three mutations: a field dropped, replaced, added, nested."""
    msg: dict[str, Any] = dict(draw(documented))
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3]))):
        op = draw(st.sampled_from(["drop", "set", "extra", "nest", "type"]))
        keys = list(msg)
        if op == "drop" and keys:
            del msg[draw(st.sampled_from(keys))]
        elif op == "set" and keys:
            msg[draw(st.sampled_from(keys))] = draw(json_values)
        elif op == "extra":
            msg[draw(hostile_text)] = draw(json_values)
        elif op == "nest":
            key = draw(st.sampled_from(keys or ["x"]))
            msg[key] = nest(draw(st.integers(1, 60)), msg.get(key), draw(st.booleans()))
        elif op == "type":
            msg["type"] = draw(st.one_of(hostile_text, json_values))
    return msg if draw(st.integers(0, 9)) else draw(json_values)  # now and then not even an object


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    """One frame: JSON text of a (mutated) message, that text damaged, random text, big, or binary."""
    kind = draw(st.sampled_from(["value"] * 6 + ["good"] * 3 + ["damaged", "damaged", "random", "big", "binary"]))
    if kind == "good":
        return json.dumps(draw(wellformed), ensure_ascii=draw(st.booleans()))
    if kind == "binary":
        return draw(st.binary(max_size=20))
    if kind == "random":
        return draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
    if kind == "big":
        size = draw(st.sampled_from([LIMIT - 60, LIMIT + 1, 3 * LIMIT, 4 * LIMIT + 1, 10 * LIMIT]))
        return json.dumps({"type": "offer", "to": draw(st.sampled_from(IDS)), "sdp": "v" * size})
    text = json.dumps(draw(mutated()))  # ensure_ascii: a lone surrogate becomes "\ud800", NaN stays NaN
    if kind == "damaged" and text:
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + draw(st.text(st.sampled_from('{}[]",:\\u0d8e'), max_size=3)) + text[at + cut:]
    return text


# --- the oracle: what docs/signaling.md says the answer is ------------------------------------------


def breaks_value_rule(value: Any, depth: int = 1) -> bool:
    """Whether a parsed value breaks the protocol's rule: lone surrogates, numbers beyond ±2^53 or
    not finite, nesting beyond 32 levels (written apart from signaling.wire, on purpose)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return abs(value) > 2**53
    if isinstance(value, float):
        return not math.isfinite(value) or abs(value) > 2**53
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    children = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    return depth > 32 or any(
        (k is not None and breaks_value_rule(k)) or breaks_value_rule(v, depth + 1) for k, v in children
    )


@dataclass(frozen=True)
class Expected:
    close: frozenset[int] = frozenset()  # the socket is closed with one of these
    error: ErrorCode | None = None  # exactly this error (None: at most one error, not bad-json/too-large)
    value: Any = None  # the parsed message when it is well-formed


def expected(frame: str | bytes, joined: bool) -> Expected:
    if isinstance(frame, bytes):
        return Expected(frozenset({4008}) if not joined else frozenset(), ErrorCode.BAD_MESSAGE)
    size = len(frame.encode("utf-8"))
    if size > 4 * LIMIT:
        return Expected(frozenset({1009}))
    if not joined:
        value = _stdlib(frame)
        is_join = isinstance(value, dict) and value.get("type") == "join" and not breaks_value_rule(value)
        return Expected(frozenset({4001, 4008} if is_join else {4008}))
    if size > LIMIT:
        return Expected(error=ErrorCode.TOO_LARGE)
    value = _stdlib(frame)
    if value is _INVALID or breaks_value_rule(value):
        return Expected(error=ErrorCode.BAD_JSON)
    return Expected(value=value)


_INVALID = object()


def _stdlib(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


# --- the harness: one server for all examples, its log and loop watched ------------------------------


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()} {record.exc_info or ''}")


@dataclass
class Harness:
    loop: asyncio.AbstractEventLoop
    base: str
    errors: _Errors
    loop_errors: list[dict[str, Any]]
    signer: TokenSigner = field(default_factory=lambda: TokenSigner(SECRET))
    rooms: Iterator[int] = field(default_factory=itertools.count)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    server = TestServer(signaling_app(CONFIG, RecordingHooks()), host="127.0.0.1")
    loop.run_until_complete(server.start_server())
    try:
        yield Harness(loop, f"ws://127.0.0.1:{server.port}/rooms/", errors, loop_errors)
    finally:
        loop.run_until_complete(server.close())
        loop.close()
        logging.getLogger().removeHandler(errors)


SENTINELS = itertools.count()


async def _until_pong(client: SignalingClient) -> tuple[list[ServerMessage], int | None]:
    """Send a ping with a fresh `ts`; the messages before its pong and, if the socket closed
    instead, its close code (-1 for a connection dropped without a close frame)."""
    ts = -7e12 - next(SENTINELS)
    got: list[ServerMessage] = []
    try:
        await client.send(Ping(ts))
    except ConnectionError:
        pass
    while True:
        try:
            msg = await client.recv(5.0)
        except Closed as closed:
            return got, -1 if closed.code is None else closed.code
        if msg == Pong(ts):
            return got, None
        got.append(msg)


def _named(msg: ServerMessage) -> set[str]:
    """The participants a server message names."""
    names = {getattr(msg, a) for a in ("from_", "by", "id") if isinstance(getattr(msg, a, None), str)}
    if isinstance(msg, PeerJoined):
        names.add(msg.peer.id)
    return names


RELAYED = {"offer": RelayedOffer, "answer": RelayedOffer, "candidate": RelayedCandidate, "ice-restart": RelayedIceRestart}


async def scenario(h: Harness, sender: int, first_unjoined: bool, sent: list[str | bytes]) -> None:
    n = next(h.rooms)
    names = {f"fz{n}-{i}": room for i, room in enumerate(ROOMS)}
    clients: dict[str, SignalingClient] = {}
    room_of: dict[str, str] = {}
    try:
        for room, members in names.items():
            for i, pid in enumerate(members):
                token = h.signer.issue(room, pid, Role.HOST if i == 0 else Role.EXPERT, pid.title())
                clients[pid] = await SignalingClient.connect(h.base + room, token)
                room_of[pid] = room
        received: dict[str, list[ServerMessage]] = {pid: [] for pid in clients}
        me = IDS[sender]
        mates = [p for p in IDS if room_of[p] == room_of[me] and p != me]
        deliveries: Counter[tuple[str, str]] = Counter()
        frames_left = list(sent)
        if first_unjoined:  # the first frame goes to a socket that has not joined
            frame = frames_left.pop(0)
            fresh = await SignalingClient.connect(h.base + room_of[me])
            want = expected(frame, joined=False)
            try:
                await (fresh.ws.send_bytes(frame) if isinstance(frame, bytes) else fresh.send_raw(frame))
            except ConnectionError:
                pass
            assert await fresh.closed() in want.close, (frame, want)
            await fresh.close()
        for frame in frames_left:
            want = expected(frame, joined=True)
            client = clients[me]
            try:
                await (client.ws.send_bytes(frame) if isinstance(frame, bytes) else client.send_raw(frame))
            except ConnectionError:
                pass
            got, code = await _until_pong(client)
            received[me].extend(got)
            errors = [m for m in got if isinstance(m, Error)]
            event(f"answer: {sorted(want.close) or ''}{want.error.value if want.error else ''} "
                  f"got {code or [e.code.value for e in errors] or 'no error'}")
            msg = want.value if isinstance(want.value, dict) else {}
            kind = msg.get("type") if isinstance(msg.get("type"), str) else None
            if want.close:
                assert code in want.close, (frame[:200], code, got)
                break
            if want.error is not None:
                assert [e.code for e in errors] == [want.error], (frame[:200], got)
                if want.error is ErrorCode.BAD_JSON:
                    e = errors[0].message
                    assert e in BAD_JSON_TEXTS or e.startswith("message is not valid Unicode: lone surrogate \\ud"), e
            else:
                assert len(errors) <= 1 and not {e.code for e in errors} & {ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE}, (
                    frame[:200], got
                )
                if not errors and kind in RELAYED and msg.get("to") in mates:
                    deliveries[(msg["to"], kind)] += 1
                if not errors and kind == "ping":
                    ts = msg.get("ts")
                    assert Pong(None if ts is None else float(ts)) in got, (frame, got)
            if code is not None:  # only `leave` (1000) ends a joined socket without a bad frame
                assert (code, kind) == (1000, "leave"), (frame[:200], code)
                break
        for pid in IDS:  # read what reached everyone else, up to a pong of their own (or their close)
            if pid != me:
                got, _ = await _until_pong(clients[pid])
                received[pid].extend(got)
        for pid, msgs in received.items():
            room_mates = {p for p in IDS if room_of[p] == room_of[pid]}
            for m in msgs:
                assert _named(m) <= room_mates, f"{pid} in {room_of[pid]} got {m}: it crossed rooms"
                assert isinstance(m, (Error, Pong, RelayedOffer, RelayedCandidate, RelayedIceRestart, MuteRequested,
                                      Removed, PeerLeft, PeerJoined, PeerReconnecting)), m
        for (to, kind), count in deliveries.items():
            arrived = [m for m in received[to] if isinstance(m, RELAYED[kind]) and m.TYPE == kind and m.from_ == me]
            assert len(arrived) >= count, (to, kind, count, arrived)
    finally:
        for client in clients.values():
            await client.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sender=st.integers(0, 3), first_unjoined=st.booleans(), sent=st.lists(frames(), min_size=1, max_size=6))
def test_fuzzed_frames_get_documented_answers_and_stay_in_their_room(
    harness: Harness, sender: int, first_unjoined: bool, sent: list[str | bytes]
) -> None:
    harness.errors.records.clear()
    harness.loop_errors.clear()
    harness.loop.run_until_complete(scenario(harness, sender, first_unjoined, sent))
    assert harness.errors.records == [], harness.errors.records
    assert harness.loop_errors == [], harness.loop_errors
