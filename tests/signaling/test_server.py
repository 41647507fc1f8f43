"""The signaling server on a real loopback socket: joining, relay, presence, host actions, bad input."""

from __future__ import annotations

import json

import pytest

from signaling.client import Closed, SignalingClient
from signaling.codes import CloseCode, ErrorCode, LeaveReason, MediaKind, Role
from signaling.messages import (
    Answer,
    Candidate,
    Error,
    IceRestart,
    Leave,
    Mute,
    MuteRequested,
    Offer,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    RelayedAnswer,
    RelayedCandidate,
    RelayedIceRestart,
    RelayedOffer,
    Remove,
    Removed,
)
from signaling.tokens import RoomToken
from signaling.turn import IceConfig
from signaling.wire import IceCandidate, PeerInfo

from .conftest import Running, StartServer
from .sdp import CHROMIUM_OFFER


async def test_join_welcome_lists_participants_and_ice(start_server: StartServer) -> None:
    srv = await start_server(ice=IceConfig(("stun:127.0.0.1:3478",), ("turn:127.0.0.1:3478",), b"s" * 32, 600))
    alice = await srv.join("r1", "alice", Role.HOST)
    assert alice.welcome is not None
    assert (alice.welcome.id, alice.welcome.room, alice.welcome.role, alice.welcome.participants) == (
        "alice", "r1", Role.HOST, ()
    )
    assert (alice.welcome.grace, alice.welcome.heartbeat, alice.welcome.max_message_bytes) == (0.5, 5.0, 65536)
    stun, turn = alice.welcome.ice_servers
    assert stun.urls == ("stun:127.0.0.1:3478",) and stun.username is None
    assert turn.urls == ("turn:127.0.0.1:3478",) and turn.username is not None
    assert turn.username.endswith(":alice") and turn.credential

    bob = await srv.join("r1", "bob")
    assert bob.welcome is not None
    assert bob.welcome.participants == (PeerInfo("alice", "Alice", Role.HOST),)
    assert await alice.expect(PeerJoined) == PeerJoined(PeerInfo("bob", "Bob", Role.EXPERT))
    await srv.hooks.wait_for(("on_join", "r1", "bob", "expert", "joined"))
    assert [c[:3] for c in srv.hooks.calls] == [("on_join", "r1", "alice"), ("on_join", "r1", "bob")]


async def test_relay_by_name_carries_from(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    cand = IceCandidate("candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host", "0", 0)
    await bob.send(Offer("alice", CHROMIUM_OFFER))
    assert await alice.expect(RelayedOffer) == RelayedOffer("bob", CHROMIUM_OFFER)
    await alice.send(Answer("bob", "v=0\r\n"))
    await alice.send(Candidate("bob", cand))
    await alice.send(IceRestart("bob"))
    assert await bob.expect(RelayedAnswer) == RelayedAnswer("alice", "v=0\r\n")
    assert await bob.recv() == RelayedCandidate("alice", cand)
    assert await bob.recv() == RelayedIceRestart("alice")


async def test_relay_refusals(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    await alice.send(Offer("nobody", "v=0"))
    assert await alice.recv() == Error(ErrorCode.UNKNOWN_PEER, 'no participant "nobody" in this room', "offer")
    await alice.send(Offer("alice", "v=0"))
    assert await alice.recv() == Error(ErrorCode.BAD_MESSAGE, "cannot address yourself", "offer")


async def test_nothing_crosses_rooms(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    mallory = await srv.join("r2", "mallory")
    assert mallory.welcome is not None and mallory.welcome.participants == ()
    await mallory.send(Offer("alice", "v=0"))
    assert await mallory.recv() == Error(ErrorCode.UNKNOWN_PEER, 'no participant "alice" in this room', "offer")
    await mallory.send(Leave())  # presence of r2 must not reach r1 either
    assert await mallory.closed() == 1000
    await alice.send(Offer("bob", "v=1"))
    # bob sees alice's offer as the very next message: nothing from r2 came in between
    assert await bob.recv() == RelayedOffer("alice", "v=1")


async def test_ping_pong_and_leave(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    await bob.send(Ping(42.5))
    assert await bob.recv() == Pong(42.5)
    await bob.send(Leave())
    assert await bob.closed() == 1000
    assert await alice.expect(PeerLeft) == PeerLeft("bob", LeaveReason.LEFT)
    await srv.hooks.wait_for(("on_leave", "r1", "bob", "expert", "left"))


async def test_only_the_host_mutes_and_removes(srv: Running) -> None:
    host = await srv.join("r1", "hana", Role.HOST)
    expert = await srv.join("r1", "eric")
    watcher = await srv.join("r1", "sue", Role.SUPERVISOR)
    await expert.send(Mute("sue", MediaKind.AUDIO))
    assert await expert.expect(Error) == Error(ErrorCode.FORBIDDEN, "only the host may ask to mute", "mute")
    await watcher.send(Remove("eric"))
    assert await watcher.expect(Error) == Error(ErrorCode.FORBIDDEN, "only the host may remove participants", "remove")

    await host.send(Mute("eric", MediaKind.VIDEO))
    assert await expert.expect(MuteRequested) == MuteRequested("hana", MediaKind.VIDEO)
    await host.send(Remove("eric", "phone in the booth"))
    assert await expert.expect(Removed) == Removed("hana", "phone in the booth")
    assert await expert.closed() == CloseCode.REMOVED
    assert await watcher.expect(PeerLeft) == PeerLeft("eric", LeaveReason.REMOVED)
    await srv.hooks.wait_for(("on_remove", "r1", "eric", "expert", "by hana: phone in the booth"))
    # removal sticks: the same account cannot come back into this room
    with pytest.raises(Closed) as info:
        await srv.join("r1", "eric")
    assert info.value.code == CloseCode.REMOVED


async def test_capacity(start_server: StartServer) -> None:
    srv = await start_server(capacity=2)
    await srv.join("r1", "a")
    await srv.join("r1", "b")
    with pytest.raises(Closed) as info:
        await srv.join("r1", "c")
    assert info.value.code == CloseCode.ROOM_FULL
    await srv.join("r2", "c")  # other rooms are unaffected


@pytest.mark.parametrize(
    ("make_token", "room", "code"),
    [
        (lambda s: s.token("r1", "eve")[:-4] + "AAAA", "r1", CloseCode.INVALID_TOKEN),
        (lambda s: "not-a-token", "r1", CloseCode.INVALID_TOKEN),
        (lambda s: s.signer.encode(RoomToken("r1", "eve", Role.HOST, "Eve", 1_000_000)), "r1", CloseCode.EXPIRED_TOKEN),
        (lambda s: s.token("r2", "eve"), "r1", CloseCode.WRONG_ROOM),
    ],
    ids=["forged", "garbage", "expired", "other-room"],
)
async def test_bad_tokens_get_distinct_close_codes(srv: Running, make_token, room: str, code: CloseCode) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Closed) as info:
        await SignalingClient.connect(srv.url(room), make_token(srv))
    assert info.value.code == code


async def test_before_join_anything_else_is_a_protocol_violation(srv: Running) -> None:
    for text in ['{"type":"ping"}', "{oops", '{"type":"what"}']:
        client = await srv.open("r1")
        await client.send_raw(text)
        assert await client.closed() == CloseCode.PROTOCOL_VIOLATION


async def test_no_join_in_time_is_closed(start_server: StartServer) -> None:
    srv = await start_server(join_timeout=0.2)
    client = await srv.open("r1")
    assert await client.closed(3.0) == CloseCode.PROTOCOL_VIOLATION


async def test_bad_input_gets_errors_and_the_room_carries_on(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    cases = [
        ("{not json", Error(ErrorCode.BAD_JSON, "message is not valid JSON")),
        ('{"type":"shout"}', Error(ErrorCode.UNKNOWN_TYPE, 'unknown message type "shout"')),
        ('{"type":"offer","to":"alice"}', Error(ErrorCode.BAD_MESSAGE, 'missing field "sdp"')),
        ('{"type":"join","token":"x"}', Error(ErrorCode.ALREADY_JOINED, "already joined", "join")),
        (json.dumps({"type": "offer", "to": "alice", "sdp": "x" * 70_000}),
         Error(ErrorCode.TOO_LARGE, "message is 70043 bytes, the limit is 65536")),
    ]
    for text, error in cases:
        await bob.send_raw(text)
        assert await bob.recv() == error
    await bob.ws.send_bytes(b"\x00")
    assert await bob.recv() == Error(ErrorCode.BAD_MESSAGE, "binary frames are not accepted")
    await bob.send(Offer("alice", CHROMIUM_OFFER))
    assert await alice.expect(RelayedOffer) == RelayedOffer("bob", CHROMIUM_OFFER)


async def test_flood_is_limited_then_closed_and_others_carry_on(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    flooder = await srv.join("r1", "fred")
    for _ in range(400):  # burst 50, rate 100/s: most of these are over the limit
        if flooder.ws.closed:
            break
        await flooder.send_raw('{"type":"ping"}')
    code = await flooder.closed()
    assert code == CloseCode.TOO_MANY_MESSAGES
    errors = [m for m in flooder.skipped if isinstance(m, Error)]
    assert errors == [Error(ErrorCode.RATE_LIMITED, "too many messages: at most 100/s, bursts of 50")]
    await alice.send(Offer("bob", "v=0"))
    assert await bob.expect(RelayedOffer) == RelayedOffer("alice", "v=0")
