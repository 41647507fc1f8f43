"""Closed sets of the signaling protocol: roles, close codes, error codes, leave reasons.

Every value here is on the wire and documented in docs/signaling.md; changing one breaks clients.
"""

from __future__ import annotations

import enum


class Role(enum.Enum):
    """What a participant may do in a room. Only the host may ask to mute or remove others."""

    EXPERT = "expert"
    HOST = "host"
    SUPERVISOR = "supervisor"
    OBSERVER = "observer"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses (the private range 4000–4999).

    A client reconnects after a drop only when the code says it may (see `may_reconnect`).
    """

    INVALID_TOKEN = 4001
    EXPIRED_TOKEN = 4002
    WRONG_ROOM = 4003
    ROOM_FULL = 4004
    REMOVED = 4005
    REPLACED = 4006
    HEARTBEAT_TIMEOUT = 4007
    PROTOCOL_VIOLATION = 4008
    TOO_MANY_MESSAGES = 4009
    TOO_SLOW = 4010  # the client did not read: its outgoing backlog passed `send_backlog_bytes`
    TOO_MANY_JOINS = 4011  # this account joined this room too often (`join_rate`, `join_burst`)
    TRY_AGAIN_LATER = 1013  # the shared bus (Redis) is unreachable: the join did not happen

    @property
    def may_reconnect(self) -> bool:
        """Whether a client should try again (with a fresh token) after this code."""
        return self in {
            CloseCode.EXPIRED_TOKEN, CloseCode.HEARTBEAT_TIMEOUT, CloseCode.TOO_MANY_MESSAGES, CloseCode.TOO_SLOW,
            CloseCode.TOO_MANY_JOINS, CloseCode.TRY_AGAIN_LATER,
        }


class ErrorCode(enum.Enum):
    """The `code` of an `error` message: the request was refused, the connection stays open."""

    BAD_JSON = "bad-json"
    BAD_MESSAGE = "bad-message"
    UNKNOWN_TYPE = "unknown-type"
    TOO_LARGE = "too-large"
    RATE_LIMITED = "rate-limited"
    NOT_JOINED = "not-joined"
    ALREADY_JOINED = "already-joined"
    FORBIDDEN = "forbidden"
    UNKNOWN_PEER = "unknown-peer"
    PEER_UNAVAILABLE = "peer-unavailable"


class LeaveReason(enum.Enum):
    """Why a participant left the room (`peer-left.reason`, hook `reason`)."""

    LEFT = "left"  # sent `leave`
    TIMEOUT = "timeout"  # lost its connection and did not return within the grace period
    REMOVED = "removed"  # removed by the host


class MediaKind(enum.Enum):
    """Which track a host asks a participant to mute."""

    AUDIO = "audio"
    VIDEO = "video"
