"""A client that stops reading must not hold up anyone else: its backlog is bounded, then it is
closed with 4010 while the others in its room keep receiving."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket

from signaling.codes import CloseCode, Role
from signaling.messages import Offer, PeerReconnecting, RelayedOffer

from .conftest import Running, StartServer


class RawClient:
    """A WebSocket client on a bare socket with a tiny receive buffer that reads only when told."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""

    @classmethod
    async def join(cls, srv: Running, room: str, account: str) -> RawClient:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        port = int(srv.base.rsplit(":", 1)[1])
        await loop.sock_connect(sock, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, (
            f"GET /rooms/{room} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode())
        client = cls(sock)
        while b"\r\n\r\n" not in client.data:
            client.data += await asyncio.wait_for(loop.sock_recv(sock, 4096), 5.0)
        head, client.data = client.data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        payload = json.dumps({"type": "join", "token": srv.token(room, account)}).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert 125 < len(payload) < 65536
        await loop.sock_sendall(sock, b"\x81\xfe" + len(payload).to_bytes(2, "big") + mask + masked)
        return client

    async def close_code(self, timeout: float) -> int | None:
        """Read everything the server sent, frame by frame, up to its close frame: the close code."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                frame = self._frame()
                if frame is not None:
                    opcode, payload = frame
                    if opcode == 8:
                        return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    continue
                chunk = await loop.sock_recv(self.sock, 1 << 16)
                if not chunk:
                    return None
                self.data += chunk

    def _frame(self) -> tuple[int, bytes] | None:
        d = self.data
        if len(d) < 2:
            return None
        length, at = d[1] & 0x7F, 2
        if length == 126:
            if len(d) < 4:
                return None
            length, at = int.from_bytes(d[2:4], "big"), 4
        elif length == 127:
            if len(d) < 10:
                return None
            length, at = int.from_bytes(d[2:10], "big"), 10
        if len(d) < at + length:
            return None
        self.data = d[at + length:]
        return d[0] & 0x0F, d[at:at + length]


async def test_a_client_that_stops_reading_is_closed_and_others_keep_receiving(start_server: StartServer) -> None:
    srv = await start_server(rate=100_000.0, burst=100_000, send_backlog_bytes=256 * 1024)
    alice = await srv.join("r1", "alice", Role.HOST)
    bob = await srv.join("r1", "bob")
    slow = await RawClient.join(srv, "r1", "slowpoke")
    try:
        await srv.hooks.wait_for(("on_join", "r1", "slowpoke", "expert", "joined"))
        big = "v=0\r\n" + "a=filler-line-of-an-sdp-offer\r\n" * 1500  # ≈ 48 KB
        dropped = ("on_reconnect", "r1", "slowpoke", "expert", "slow")
        for i in range(600):  # up to ≈ 29 MB for slowpoke: more than any socket buffers hold
            if dropped in srv.hooks.calls:
                break
            await alice.send(Offer("slowpoke", big))
            await alice.send(Offer("bob", f"v={i}"))
            # bob is served at once however far behind slowpoke is
            assert await bob.expect(RelayedOffer, timeout=2.0) == RelayedOffer("alice", f"v={i}")
        await srv.hooks.wait_for(dropped)
        if PeerReconnecting("slowpoke") not in bob.skipped:  # maybe already read past, above
            assert await bob.expect(PeerReconnecting) == PeerReconnecting("slowpoke")
        # slowpoke reads at last: what was already on its way, then the close frame
        assert await slow.close_code(10.0) == CloseCode.TOO_SLOW
        await alice.send(Offer("bob", "v=after"))
        assert await bob.expect(RelayedOffer) == RelayedOffer("alice", "v=after")
    finally:
        slow.sock.close()
