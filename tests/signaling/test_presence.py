"""Presence over time: reconnect within the grace period, after it, replacement, heartbeat timeout.

Timers are shortened in the fixtures (grace 0.5 s; heartbeat 0.1 s where tested); every wait is on
an event (a message, a close, a hook call) bounded by a timeout, never a sleep in its place.
"""

from __future__ import annotations

import gc

from signaling.client import SignalingClient
from signaling.codes import CloseCode, LeaveReason, Role
from signaling.connection import Connection
from signaling.messages import Leave, Offer, PeerBack, PeerJoined, PeerLeft, PeerReconnecting, RelayedOffer
from signaling.room import ENDED_KEPT
from signaling.room import ParticipantState as S

from .conftest import Running, StartServer


def states(srv: Running, room: str, account: str) -> list[list[str]]:
    """State histories of every participant object `account` had on this server, oldest first."""
    rooms = srv.server.rooms
    found = [p for p in rooms.gone if (p.room, p.id) == (room, account)]
    live = rooms.local.get(room, {}).get(account)
    return [[s.value for s in p.states] for p in found + ([live] if live else [])]


async def test_reconnect_within_grace_keeps_the_place(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    await alice.expect(PeerJoined)
    await bob.close()  # the network drops: no leave
    assert await alice.expect(PeerReconnecting) == PeerReconnecting("bob")
    await srv.hooks.wait_for(("on_reconnect", "r1", "bob", "expert", "lost"))

    bob2 = await srv.join("r1", "bob")
    assert bob2.welcome is not None and bob2.welcome.resumed
    assert [p.id for p in bob2.welcome.participants] == ["alice"]
    assert await alice.expect(PeerBack) == PeerBack("bob")
    await srv.hooks.wait_for(("on_reconnect", "r1", "bob", "expert", "back"))
    assert not [m for m in alice.skipped if isinstance(m, (PeerJoined, PeerLeft))]
    # the place is really back: relay works both ways
    await alice.send(Offer("bob", "v=0"))
    assert await bob2.expect(RelayedOffer) == RelayedOffer("alice", "v=0")
    assert states(srv, "r1", "bob") == [["connected", "reconnecting", "connected"]]


async def test_after_grace_the_place_is_released(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob", Role.OBSERVER)
    await bob.close()
    assert await alice.expect(PeerReconnecting) == PeerReconnecting("bob")
    assert await alice.expect(PeerLeft, timeout=3.0) == PeerLeft("bob", LeaveReason.TIMEOUT)
    await srv.hooks.wait_for(("on_leave", "r1", "bob", "observer", "timeout"))
    assert states(srv, "r1", "bob") == [["connected", "reconnecting", "left"]]
    bob2 = await srv.join("r1", "bob")  # a fresh join, not a resume
    assert bob2.welcome is not None and not bob2.welcome.resumed
    assert await alice.expect(PeerJoined) == PeerJoined(
        __import__("signaling.wire", fromlist=["PeerInfo"]).PeerInfo("bob", "Bob", Role.EXPERT)
    )


async def test_same_participant_replaces_its_old_socket(srv: Running) -> None:
    alice = await srv.join("r1", "alice")
    bob = await srv.join("r1", "bob")
    await alice.expect(PeerJoined)
    bob2 = await srv.join("r1", "bob")  # e.g. the booth page reloaded before the old socket died
    assert bob2.welcome is not None and bob2.welcome.resumed
    assert await bob.closed() == CloseCode.REPLACED
    assert await alice.expect(PeerBack) == PeerBack("bob")
    await srv.hooks.wait_for(("on_reconnect", "r1", "bob", "expert", "replaced"))
    assert not [m for m in alice.skipped if isinstance(m, (PeerReconnecting, PeerLeft))]
    await alice.send(Offer("bob", "v=0"))
    assert await bob2.expect(RelayedOffer) == RelayedOffer("alice", "v=0")
    assert states(srv, "r1", "bob") == [["connected"]]


async def test_silent_client_is_dropped_by_heartbeat(start_server: StartServer) -> None:
    srv = await start_server(heartbeat=0.1, heartbeat_misses=3, grace=30.0)
    alice = await srv.join("r1", "alice")
    alice.start_heartbeat(0.05)
    bob = await SignalingClient.connect(srv.url("r1"), srv.token("r1", "bob"))  # never pings
    srv.clients.append(bob)
    assert await bob.closed(3.0) == CloseCode.HEARTBEAT_TIMEOUT
    assert await alice.expect(PeerReconnecting, timeout=3.0) == PeerReconnecting("bob")
    await srv.hooks.wait_for(("on_reconnect", "r1", "bob", "expert", "heartbeat"))
    assert not alice.ws.closed  # the pinging client stays
    assert states(srv, "r1", "bob") == [["connected", "reconnecting"]]


async def test_places_that_ended_hold_no_socket(srv: Running) -> None:
    """A participant who left is forgotten with its socket and buffers: the server keeps only a
    bounded history of ended places. It used to keep every participant that ever ended, with its
    socket: the soak's memory grew with each join. Nor does the sweeper's idle frame keep the last
    socket it looked at."""
    room = "r-ended"
    for i in range(ENDED_KEPT + 40):
        client = await srv.join(room, f"p{i}")
        await client.send(Leave())
        assert await client.closed() == 1000
        await client.close()
    await srv.join(room, "last")  # (the room is served still: a join after all the leaves)
    gc.collect()
    kept = [o for o in gc.get_objects() if isinstance(o, Connection) and o.room == room and o.ws.closed]
    assert kept == []
    ended = srv.server.rooms.gone
    assert len(ended) == ENDED_KEPT and ended[-1].id == f"p{ENDED_KEPT + 39}"
    assert [s.value for s in ended[-1].states] == ["connected", "left"]
