"""Hostile frames on a real socket: each gets the documented answer and the room carries on.

Found by probing the server as an attacker would: lone surrogates in text, numbers JSON cannot
carry, frames far beyond the limit, deep nesting, join churn.
"""

from __future__ import annotations

import json

import pytest

from signaling.client import Closed
from signaling.codes import CloseCode, ErrorCode, LeaveReason, Role
from signaling.messages import Error, Offer, PeerJoined, PeerLeft, Ping, Pong, RelayedOffer, Remove, Removed

from .conftest import Running, StartServer

SURROGATE = "message is not valid Unicode: lone surrogate \\ud800"
NUMBER = "numbers must be finite and at most 2^53 in magnitude"


async def test_remove_with_a_lone_surrogate_is_refused_and_changes_nothing(srv: Running) -> None:
    host = await srv.join("r1", "hana", Role.HOST)
    expert = await srv.join("r1", "eric")
    await host.expect(PeerJoined)
    await host.send_raw('{"type":"remove","to":"eric","reason":"\\ud800"}')
    assert await host.recv() == Error(ErrorCode.BAD_JSON, SURROGATE)
    # nothing happened: eric still holds its place and may relay; no hook ran
    await expert.send(Offer("hana", "v=0"))
    assert await host.recv() == RelayedOffer("eric", "v=0")
    assert not [c for c in srv.hooks.calls if c[0] == "on_remove"]
    # a proper removal still works and reaches eric before its socket closes
    await host.send(Remove("eric", "手机 phone"))
    assert await expert.expect(Removed) == Removed("hana", "手机 phone")
    assert await expert.closed() == CloseCode.REMOVED
    await srv.hooks.wait_for(("on_remove", "r1", "eric", "expert", "by hana: 手机 phone"))


@pytest.mark.parametrize(
    ("frame", "found"),
    [
        ('{"type":"offer","to":"alice","sdp":"v=0\\r\\n\\ud800"}', "\\ud800"),
        ('{"type":"answer","to":"alice","sdp":"\\udfff"}', "\\udfff"),
        ('{"type":"candidate","to":"alice","candidate":{"candidate":"\\ud800x"}}', "\\ud800"),
        ('{"type":"candidate","to":"alice","candidate":{"candidate":"","usernameFragment":"\\udc00"}}', "\\udc00"),
        ('{"type":"ice-restart","to":"\\ud800"}', "\\ud800"),
        ('{"type":"offer","to":"alice","sdp":"v=0","extra":["\\ud800"]}', "\\ud800"),  # ignored fields too
        ('{"type":"offer","to":"alice","\\udbff":1,"sdp":"v=0"}', "\\udbff"),  # and keys
        ('{"type":"offer","to":"alice","sdp":"\\ude00\\ud83d"}', "\\ude00"),  # a pair the wrong way round
    ],
)
async def test_relayed_fields_with_lone_surrogates_are_refused(srv: Running, frame: str, found: str) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    await bob.send_raw(frame)
    assert await bob.recv() == Error(ErrorCode.BAD_JSON, SURROGATE.replace("\\ud800", found))
    await bob.send(Offer("alice", "v=1"))
    assert await alice.expect(RelayedOffer) == RelayedOffer("bob", "v=1")  # nothing reached alice before


async def test_a_surrogate_pair_is_one_character_and_passes(srv: Running) -> None:
    alice = await srv.join("r1", "alice", Role.HOST)
    bob = await srv.join("r1", "bob")
    await alice.send_raw('{"type":"offer","to":"bob","sdp":"v=0 \\ud83d\\ude00"}')
    assert await bob.expect(RelayedOffer) == RelayedOffer("alice", "v=0 \U0001f600")


@pytest.mark.parametrize("ts", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e300", "9007199254740993",
                                "1" * 5000])
async def test_ping_with_a_number_json_cannot_carry_is_refused(srv: Running, ts: str) -> None:
    bob = await srv.join("r1", "bob")
    await bob.send_raw('{"type":"ping","ts":%s}' % ts)
    reply = await bob.ws.receive_str(timeout=5)
    json.loads(reply, parse_constant=lambda c: pytest.fail(f"server sent {c}: not JSON"))
    assert json.loads(reply) == {"type": "error", "code": "bad-json", "message": NUMBER}
    await bob.send(Ping(1723456789.5))
    assert await bob.recv() == Pong(1723456789.5)


async def test_numbers_in_range_pass(srv: Running) -> None:
    bob = await srv.join("r1", "bob")
    for ts in (0, -1.5, 2**53, -(2**53), 1e-300):
        await bob.send_raw('{"type":"ping","ts":%r}' % ts)
        assert await bob.recv() == Pong(float(ts))


@pytest.mark.parametrize("depth", [33, 1000, 30_000])
async def test_deep_nesting_gets_bad_json(srv: Running, depth: int) -> None:
    bob = await srv.join("r1", "bob")
    await bob.send_raw('{"type":"ping","x":' + "[" * (depth - 1) + "]" * (depth - 1) + "}")
    assert await bob.recv() == Error(ErrorCode.BAD_JSON, "message is nested deeper than 32 levels")
    await bob.send_raw('{"type":"ping","x":' + "[" * 31 + "]" * 31 + "}")  # 32 levels: fine
    assert await bob.recv() == Pong()


async def test_deep_nesting_before_join_is_a_protocol_violation(srv: Running) -> None:
    client = await srv.open("r1")
    await client.send_raw("[" * 30_000 + "]" * 30_000)
    assert await client.closed() == CloseCode.PROTOCOL_VIOLATION


@pytest.mark.parametrize("size", [300_000, 4 << 20, 10 << 20])
async def test_frames_beyond_four_times_the_limit_close_with_1009(srv: Running, size: int) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    try:
        await bob.send_raw('{"type":"ping","x":"' + "y" * size + '"}')
    except ConnectionError:  # the server may close while the client is still writing
        pass
    assert await bob.closed() == 1009
    # bob's place goes into its grace period like any lost socket; alice carries on
    await alice.send(Ping(1.0))
    assert await alice.expect(Pong) == Pong(1.0)


async def test_join_churn_is_throttled_per_account(start_server: StartServer) -> None:
    srv = await start_server(join_burst=3, join_rate=0.01)
    host = await srv.join("r1", "hana", Role.HOST)
    for _ in range(3):
        eve = await srv.join("r1", "eve")
        await eve.send_raw('{"type":"leave"}')
        assert await eve.closed() == 1000
        assert await host.expect(PeerLeft) == PeerLeft("eve", LeaveReason.LEFT)
    with pytest.raises(Closed) as refused:
        await srv.join("r1", "eve")
    assert refused.value.code == CloseCode.TOO_MANY_JOINS
    assert "too many joins" in refused.value.reason
    joins = [c for c in srv.hooks.calls if c[0] == "on_join" and c[2] == "eve"]
    assert len(joins) == 3  # a refused join writes nothing
    other = await srv.join("r1", "otto")  # other accounts are not affected
    assert other.welcome is not None
    await srv.join("r2", "eve")  # nor the same account in another room
