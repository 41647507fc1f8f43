"""Room tokens (HMAC-SHA256) and TURN REST credentials (coturn use-auth-secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from signaling.codes import CloseCode, Role
from signaling.tokens import RoomToken, TokenError, TokenSigner
from signaling.turn import IceConfig, turn_credential

SECRET = b"k" * 32


def signer(now: float = 1_000.0) -> TokenSigner:
    return TokenSigner(SECRET, clock=lambda: now)


def test_issue_and_verify() -> None:
    token = signer().issue("room-1", "alice@agency", Role.HOST, "张三", ttl=60)
    assert token.startswith("pb1.") and token.count(".") == 2
    assert signer(1_059.0).verify(token, "room-1") == RoomToken("room-1", "alice@agency", Role.HOST, "张三", 1_060)


@pytest.mark.parametrize(
    ("mutate", "room", "now", "code", "message"),
    [
        (lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), "r", 1_000.0, CloseCode.INVALID_TOKEN,
         "token signature is invalid"),
        (lambda t: "pb2" + t[3:], "r", 1_000.0, CloseCode.INVALID_TOKEN, "token is malformed"),
        (lambda t: t + ".x", "r", 1_000.0, CloseCode.INVALID_TOKEN, "token is malformed"),
        (lambda t: t.replace(".", ".!", 1), "r", 1_000.0, CloseCode.INVALID_TOKEN, "token is malformed"),
        (lambda t: TokenSigner(b"o" * 32).issue("r", "a", Role.EXPERT, "A"), "r", 1_000.0,
         CloseCode.INVALID_TOKEN, "token signature is invalid"),
        (lambda t: t, "other", 1_000.0, CloseCode.WRONG_ROOM, "token is for another room"),
        (lambda t: t, "r", 1_060.0, CloseCode.EXPIRED_TOKEN, "token has expired"),
    ],
    ids=["bad-mac", "bad-version", "extra-part", "bad-base64", "other-secret", "other-room", "expired"],
)
def test_refusals(mutate, room: str, now: float, code: CloseCode, message: str) -> None:  # type: ignore[no-untyped-def]
    token = mutate(signer().issue("r", "a", Role.EXPERT, "A", ttl=60))
    with pytest.raises(TokenError) as info:
        signer(now).verify(token, room)
    assert (info.value.close_code, info.value.message) == (code, message)


def test_forged_and_expired_reports_forged() -> None:
    """A forgery never learns whether its claims are expired or for another room."""
    old = TokenSigner(b"o" * 32, clock=lambda: 0.0).issue("x", "a", Role.HOST, "A", ttl=1)
    with pytest.raises(TokenError) as info:
        signer().verify(old, "r")
    assert info.value.close_code == CloseCode.INVALID_TOKEN


def test_weak_secret_and_bad_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner(b"short")
    with pytest.raises(ValueError, match="account must match"):
        signer().issue("r", "a b", Role.EXPERT, "A")


def test_turn_credential_matches_coturn_rest_scheme() -> None:
    cred = turn_credential(b"turnsecret", "alice", ttl=600, now=1_700_000_000)
    assert cred.username == "1700000600:alice" and cred.expires == 1_700_000_600
    expected = base64.b64encode(hmac.new(b"turnsecret", b"1700000600:alice", hashlib.sha1).digest()).decode()
    assert cred.password == expected
    # fixed vector from OpenSSL:
    # printf %s 1700000600:alice | openssl dgst -sha1 -hmac turnsecret -binary | base64
    assert cred.password == "luVZ1dYWtM6A7QfGn/YI+cqM3Kk="


def test_ice_servers() -> None:
    assert IceConfig().servers_for("a") == ()
    stun, turn = IceConfig(("stun:s:3478",), ("turn:t:3478?transport=udp",), b"x", 60).servers_for("bob", now=100)
    assert stun.dump() == {"urls": ["stun:s:3478"]}
    assert turn.username == "160:bob" and turn.urls == ("turn:t:3478?transport=udp",)
    with pytest.raises(ValueError, match="turn_urls need a turn_secret"):
        IceConfig(turn_urls=("turn:t",)).servers_for("a")
