"""Short-lived signed room tokens: who may join which room, as what, until when.

Format (docs/signaling.md): ``pb1.<payload>.<mac>``, both parts base64url without padding.
The payload is compact JSON with sorted keys ``{"a": account, "e": expiry (unix seconds),
"n": display name, "o": role, "r": room}``; the MAC is HMAC-SHA256(secret, "pb1." + payload part).

Why HMAC and not Ed25519: the issuer (web/, after sign-in) and the verifier (this package, in the
same deployment) share one secret already, nobody else needs to verify tokens, and HMAC verifies in
about a microsecond with the standard library. Ed25519 would pay off only if a third party had to
verify tokens without being able to mint them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from signaling.codes import CloseCode, Role
from signaling.wire import MAX_ID_CHARS, MAX_NAME_CHARS

PREFIX = "pb1."
MIN_SECRET_BYTES = 32
ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,%d}" % MAX_ID_CHARS)  # rooms and accounts


class TokenError(Exception):
    """A token that must be refused; `close_code` says why to the client."""

    def __init__(self, close_code: CloseCode, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.message = message


@dataclass(frozen=True, slots=True)
class RoomToken:
    """The grant a token carries. `account` is also the participant's id in the room."""

    room: str
    account: str
    role: Role
    name: str
    expires: int  # unix seconds

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.room):
            raise ValueError(f"room must match {ID_PATTERN.pattern}")
        if not ID_PATTERN.fullmatch(self.account):
            raise ValueError(f"account must match {ID_PATTERN.pattern}")
        if not 1 <= len(self.name) <= MAX_NAME_CHARS:
            raise ValueError(f"name must have 1 to {MAX_NAME_CHARS} characters")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies room tokens with one server secret (≥ 32 random bytes)."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._clock = clock

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._secret, signed.encode("ascii"), hashlib.sha256).digest()

    def issue(self, room: str, account: str, role: Role, name: str, ttl: float = 120.0) -> str:
        """A token for `account` in `room`, valid `ttl` seconds from now."""
        grant = RoomToken(room, account, role, name, int(self._clock() + ttl))
        return self.encode(grant)

    def encode(self, grant: RoomToken) -> str:
        """The signed text of `grant` (any expiry, e.g. a past one for tests)."""
        payload = json.dumps(
            {"a": grant.account, "e": grant.expires, "n": grant.name, "o": grant.role.value, "r": grant.room},
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        signed = PREFIX + _b64(payload.encode("utf-8"))
        return f"{signed}.{_b64(self._mac(signed))}"

    def verify(self, token: str, room: str) -> RoomToken:
        """The grant of a genuine, unexpired token for `room`, or `TokenError`.

        Checked in this order, so a forged token never reveals whether it is expired or for
        another room: format and MAC (4001), room (4003), expiry (4002).
        """
        signed, _, mac_text = token.rpartition(".")
        if not signed.startswith(PREFIX) or signed.count(".") != 1:
            raise TokenError(CloseCode.INVALID_TOKEN, "token is malformed")
        try:
            mac = _unb64(mac_text)
            payload = json.loads(_unb64(signed[len(PREFIX):]))
        except (binascii.Error, ValueError):
            raise TokenError(CloseCode.INVALID_TOKEN, "token is malformed") from None
        if not hmac.compare_digest(mac, self._mac(signed)):
            raise TokenError(CloseCode.INVALID_TOKEN, "token signature is invalid")
        try:
            grant = RoomToken(payload["r"], payload["a"], Role(payload["o"]), payload["n"], int(payload["e"]))
        except (KeyError, TypeError, ValueError):
            raise TokenError(CloseCode.INVALID_TOKEN, "token payload is invalid") from None
        if grant.room != room:
            raise TokenError(CloseCode.WRONG_ROOM, "token is for another room")
        if grant.expires <= self._clock():
            raise TokenError(CloseCode.EXPIRED_TOKEN, "token has expired")
        return grant
