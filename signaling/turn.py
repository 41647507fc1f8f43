"""TURN REST ephemeral credentials and the ICE server list handed out in `welcome`.

coturn with `use-auth-secret` and `static-auth-secret=<secret>` accepts the username
``"<unix expiry>:<account>"`` with the password ``base64(HMAC-SHA1(secret, username))`` until the
expiry passes. The secret never leaves the servers; a leaked credential dies on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from signaling.wire import IceServer


@dataclass(frozen=True, slots=True)
class TurnCredential:
    """One TURN REST username/password pair."""

    username: str
    password: str
    expires: int


def turn_credential(secret: bytes, account: str, ttl: float, now: float | None = None) -> TurnCredential:
    """The credential for `account`, valid `ttl` seconds from `now` (default: the clock)."""
    expires = int((time.time() if now is None else now) + ttl)
    username = f"{expires}:{account}"
    digest = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)


@dataclass(frozen=True, slots=True)
class IceConfig:
    """Where peers find STUN and TURN. Empty lists: host candidates only (a LAN or a test)."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()  # e.g. ("turn:turn.example.org:3478?transport=udp",)
    turn_secret: bytes = b""  # coturn's static-auth-secret
    turn_ttl: float = 6 * 3600.0  # credentials outlive a long evaluation session

    def servers_for(self, account: str, now: float | None = None) -> tuple[IceServer, ...]:
        """The RTCIceServer list for `account`, with fresh TURN credentials."""
        out: list[IceServer] = []
        if self.stun_urls:
            out.append(IceServer(self.stun_urls))
        if self.turn_urls:
            if not self.turn_secret:
                raise ValueError("turn_urls need a turn_secret")
            cred = turn_credential(self.turn_secret, account, self.turn_ttl, now)
            out.append(IceServer(self.turn_urls, cred.username, cred.password))
        return tuple(out)
