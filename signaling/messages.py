"""The signaling protocol's wire messages: frozen dataclasses, parsed and validated in one place.

Every message is one JSON object in one WebSocket text frame, with a `type`. `parse_client` and
`parse_server` turn text into a message or raise `ProtocolError` with an error code and an exact
one-line message; `to_json()` is the inverse. Unknown fields are ignored (newer clients may send
more); unknown types are refused. docs/signaling.md documents every type with an example.
"""

from __future__ import annotations

from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, ClassVar, Union

from signaling.codes import ErrorCode, LeaveReason, MediaKind, Role
from signaling.wire import (
    MAX_ID_CHARS,
    MAX_REASON_CHARS,
    MAX_TOKEN_CHARS,
    Fields,
    IceCandidate,
    IceServer,
    Message,
    PeerInfo,
    ProtocolError,
    loads,
    raw_string_literal,
)

# --- client -> server -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join(Message):
    """First message on a socket: the room token web/ issued."""

    TYPE: ClassVar[str] = "join"
    token: str

    @classmethod
    def load(cls, f: Fields) -> Join:
        return cls(f.str("token", MAX_TOKEN_CHARS))

    def dump(self) -> dict[str, Any]:
        return {"token": self.token}


@dataclass(frozen=True, slots=True)
class Offer(Message):
    """An SDP offer for the participant `to` (renegotiation and ICE restarts too)."""

    TYPE: ClassVar[str] = "offer"
    to: str
    sdp: str

    @classmethod
    def load(cls, f: Fields) -> Offer:
        return cls(f.str("to", MAX_ID_CHARS), f.str("sdp", 1 << 20))

    def dump(self) -> dict[str, Any]:
        return {"to": self.to, "sdp": self.sdp}


@dataclass(frozen=True, slots=True)
class Answer(Offer):
    """An SDP answer for the participant `to`."""

    TYPE: ClassVar[str] = "answer"


@dataclass(frozen=True, slots=True)
class Candidate(Message):
    """A trickled ICE candidate for `to` (optional: clients may put all candidates in the SDP)."""

    TYPE: ClassVar[str] = "candidate"
    to: str
    candidate: IceCandidate

    @classmethod
    def load(cls, f: Fields) -> Candidate:
        return cls(f.str("to", MAX_ID_CHARS), IceCandidate.load(f.obj_field("candidate")))

    def dump(self) -> dict[str, Any]:
        return {"to": self.to, "candidate": self.candidate.dump()}


@dataclass(frozen=True, slots=True)
class IceRestart(Message):
    """Ask `to` to send a new offer with an ICE restart (e.g. after one's own network changed)."""

    TYPE: ClassVar[str] = "ice-restart"
    to: str

    @classmethod
    def load(cls, f: Fields) -> IceRestart:
        return cls(f.str("to", MAX_ID_CHARS))

    def dump(self) -> dict[str, Any]:
        return {"to": self.to}


@dataclass(frozen=True, slots=True)
class Leave(Message):
    """Leave the room for good (no grace period); the server then closes with 1000."""

    TYPE: ClassVar[str] = "leave"


@dataclass(frozen=True, slots=True)
class Ping(Message):
    """Heartbeat. `ts` (any number, optional) comes back in the `pong`."""

    TYPE: ClassVar[str] = "ping"
    ts: float | None = None

    @classmethod
    def load(cls, f: Fields) -> Ping:
        return cls(f.number("ts", optional=True))

    def dump(self) -> dict[str, Any]:
        return {} if self.ts is None else {"ts": self.ts}


@dataclass(frozen=True, slots=True)
class Mute(Message):
    """Host only: ask `to` to mute its audio or video (the client obeys; media is peer-to-peer)."""

    TYPE: ClassVar[str] = "mute"
    to: str
    kind: MediaKind

    @classmethod
    def load(cls, f: Fields) -> Mute:
        return cls(f.str("to", MAX_ID_CHARS), f.enum("kind", MediaKind))

    def dump(self) -> dict[str, Any]:
        return {"to": self.to, "kind": self.kind.value}


@dataclass(frozen=True, slots=True)
class Remove(Message):
    """Host only: remove `to` from the room; it may not rejoin this room on this server's registry."""

    TYPE: ClassVar[str] = "remove"
    to: str
    reason: str = ""

    @classmethod
    def load(cls, f: Fields) -> Remove:
        reason = f.opt_str("reason", MAX_REASON_CHARS) or ""
        return cls(f.str("to", MAX_ID_CHARS), reason)

    def dump(self) -> dict[str, Any]:
        return {"to": self.to, "reason": self.reason}


def _flag(f: Fields, name: str) -> bool:
    value = f.obj.get(name, False)
    if not isinstance(value, bool):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'field "{name}" must be true or false')
    return value


@dataclass(frozen=True, slots=True)
class MediaState(Message):
    """What you send now: microphone on, camera on, screen shared. Everyone else gets `peer-media`."""

    TYPE: ClassVar[str] = "media-state"
    audio: bool
    video: bool
    screen: bool = False

    @classmethod
    def load(cls, f: Fields) -> MediaState:
        return cls(_flag(f, "audio"), _flag(f, "video"), _flag(f, "screen"))

    def dump(self) -> dict[str, Any]:
        return {"audio": self.audio, "video": self.video, "screen": self.screen}


ClientMessage = Union[Join, Offer, Answer, Candidate, IceRestart, Leave, Ping, Mute, Remove, MediaState]
CLIENT_TYPES: dict[str, type[Message]] = {
    c.TYPE: c for c in (Join, Offer, Answer, Candidate, IceRestart, Leave, Ping, Mute, Remove, MediaState)
}
RELAYED_TYPES = frozenset({"offer", "answer", "candidate", "ice-restart"})


# --- server -> client -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome(Message):
    """Reply to a successful `join`: who you are, who is here, how to reach them, the timers."""

    TYPE: ClassVar[str] = "welcome"
    id: str
    room: str
    role: Role
    name: str
    participants: tuple[PeerInfo, ...]
    ice_servers: tuple[IceServer, ...]
    grace: float  # seconds a lost connection keeps its place
    heartbeat: float  # seconds between the client's pings; silent for heartbeat × misses = dropped
    max_message_bytes: int
    resumed: bool = False  # true when this join took back a place held for this participant

    @classmethod
    def load(cls, f: Fields) -> Welcome:
        return cls(
            f.str("id", MAX_ID_CHARS),
            f.str("room", MAX_ID_CHARS),
            f.enum("role", Role),
            f.str("name", 128),
            tuple(PeerInfo.load(p) for p in f.list_field("participants")),
            tuple(IceServer.load(s) for s in f.list_field("iceServers")),
            f.number("grace") or 0.0,
            f.number("heartbeat") or 0.0,
            int(f.number("maxMessageBytes") or 0),
            f.obj.get("resumed") is True,
        )

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room": self.room,
            "role": self.role.value,
            "name": self.name,
            "participants": [p.dump() for p in self.participants],
            "iceServers": [s.dump() for s in self.ice_servers],
            "grace": self.grace,
            "heartbeat": self.heartbeat,
            "maxMessageBytes": self.max_message_bytes,
            "resumed": self.resumed,
        }


@dataclass(frozen=True, slots=True)
class PeerJoined(Message):
    """A participant joined the room (not sent for a participant coming back: see `peer-back`)."""

    TYPE: ClassVar[str] = "peer-joined"
    peer: PeerInfo

    @classmethod
    def load(cls, f: Fields) -> PeerJoined:
        return cls(PeerInfo.load(f.obj_field("peer")))

    def dump(self) -> dict[str, Any]:
        return {"peer": self.peer.dump()}


@dataclass(frozen=True, slots=True)
class PeerLeft(Message):
    """A participant left for good: close your RTCPeerConnection to it."""

    TYPE: ClassVar[str] = "peer-left"
    id: str
    reason: LeaveReason

    @classmethod
    def load(cls, f: Fields) -> PeerLeft:
        return cls(f.str("id", MAX_ID_CHARS), f.enum("reason", LeaveReason))

    def dump(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason.value}


@dataclass(frozen=True, slots=True)
class PeerReconnecting(Message):
    """A participant lost its signaling connection; its place is kept for the grace period."""

    TYPE: ClassVar[str] = "peer-reconnecting"
    id: str

    @classmethod
    def load(cls, f: Fields) -> PeerReconnecting:
        return cls(f.str("id", MAX_ID_CHARS))

    def dump(self) -> dict[str, Any]:
        return {"id": self.id}


@dataclass(frozen=True, slots=True)
class PeerBack(PeerReconnecting):
    """A participant is back on a new connection: restart ICE toward it (keep the connection)."""

    TYPE: ClassVar[str] = "peer-back"


@dataclass(frozen=True, slots=True)
class RelayedOffer(Message):
    """An offer from the participant `from`."""

    TYPE: ClassVar[str] = "offer"
    from_: str
    sdp: str

    @classmethod
    def load(cls, f: Fields) -> RelayedOffer:
        return cls(f.str("from", MAX_ID_CHARS), f.str("sdp", 1 << 20))

    def dump(self) -> dict[str, Any]:
        return {"from": self.from_, "sdp": self.sdp}


@dataclass(frozen=True, slots=True)
class RelayedAnswer(RelayedOffer):
    """An answer from the participant `from`."""

    TYPE: ClassVar[str] = "answer"


@dataclass(frozen=True, slots=True)
class RelayedCandidate(Message):
    """A trickled ICE candidate from the participant `from`."""

    TYPE: ClassVar[str] = "candidate"
    from_: str
    candidate: IceCandidate

    @classmethod
    def load(cls, f: Fields) -> RelayedCandidate:
        return cls(f.str("from", MAX_ID_CHARS), IceCandidate.load(f.obj_field("candidate")))

    def dump(self) -> dict[str, Any]:
        return {"from": self.from_, "candidate": self.candidate.dump()}


@dataclass(frozen=True, slots=True)
class RelayedIceRestart(Message):
    """`from` asks you to send it a new offer with an ICE restart."""

    TYPE: ClassVar[str] = "ice-restart"
    from_: str

    @classmethod
    def load(cls, f: Fields) -> RelayedIceRestart:
        return cls(f.str("from", MAX_ID_CHARS))

    def dump(self) -> dict[str, Any]:
        return {"from": self.from_}


@dataclass(frozen=True, slots=True)
class MuteRequested(Message):
    """The host `from` asks you to mute your `kind` track."""

    TYPE: ClassVar[str] = "mute-requested"
    from_: str
    kind: MediaKind

    @classmethod
    def load(cls, f: Fields) -> MuteRequested:
        return cls(f.str("from", MAX_ID_CHARS), f.enum("kind", MediaKind))

    def dump(self) -> dict[str, Any]:
        return {"from": self.from_, "kind": self.kind.value}


@dataclass(frozen=True, slots=True)
class PeerMedia(Message):
    """Participant `id` now sends: microphone `audio`, camera `video`, `screen` shared (mute indicators)."""

    TYPE: ClassVar[str] = "peer-media"
    id: str
    audio: bool
    video: bool
    screen: bool = False

    @classmethod
    def load(cls, f: Fields) -> PeerMedia:
        return cls(f.str("id", MAX_ID_CHARS), _flag(f, "audio"), _flag(f, "video"), _flag(f, "screen"))

    def dump(self) -> dict[str, Any]:
        return {"id": self.id, "audio": self.audio, "video": self.video, "screen": self.screen}


@dataclass(frozen=True, slots=True)
class Removed(Message):
    """The host `by` removed you; the server closes the socket with 4005 right after."""

    TYPE: ClassVar[str] = "removed"
    by: str
    reason: str = ""

    @classmethod
    def load(cls, f: Fields) -> Removed:
        return cls(f.str("by", MAX_ID_CHARS), f.opt_str("reason", MAX_REASON_CHARS) or "")

    def dump(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Error(Message):
    """A refused request; the connection stays open. `ref` is the refused message's type if known."""

    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    ref: str | None = None

    @classmethod
    def load(cls, f: Fields) -> Error:
        return cls(f.enum("code", ErrorCode), f.str("message", 500), f.opt_str("ref", 32))

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.ref is not None:
            out["ref"] = self.ref
        return out


@dataclass(frozen=True, slots=True)
class Pong(Ping):
    """Reply to `ping`, echoing its `ts`."""

    TYPE: ClassVar[str] = "pong"


ServerMessage = Union[
    Welcome, PeerJoined, PeerLeft, PeerReconnecting, PeerBack, RelayedOffer, RelayedAnswer,
    RelayedCandidate, RelayedIceRestart, MuteRequested, PeerMedia, Removed, Error, Pong,
]
SERVER_TYPES: dict[str, type[Message]] = {
    c.TYPE: c
    for c in (
        Welcome, PeerJoined, PeerLeft, PeerReconnecting, PeerBack, RelayedOffer, RelayedAnswer,
        RelayedCandidate, RelayedIceRestart, MuteRequested, PeerMedia, Removed, Error, Pong,
    )
}


# --- relaying ---------------------------------------------------------------------------------------


def relay_text(msg: Offer | Candidate | IceRestart, sender: str, received: str = "") -> str:
    """The frame the addressee of `msg` receives: the same message with `from: sender`, no `to`.

    `received` is the text `msg` was parsed from. For offers and answers the SDP's JSON string
    literal is copied from it when it provably encodes `msg.sdp` (`raw_string_literal`), which
    spares decoding and encoding ~6 KB per relayed message; otherwise the SDP is encoded again.
    Either way the frame is exactly what `RelayedOffer(sender, msg.sdp).to_json()` would parse to.
    Candidates and ICE-restart requests are small and are rebuilt from their validated fields.
    """
    if isinstance(msg, Offer):  # Answer is an Offer
        literal = raw_string_literal(received, "sdp", msg.sdp) if received else None
        if literal is None:
            return (RelayedAnswer if isinstance(msg, Answer) else RelayedOffer)(sender, msg.sdp).to_json()
        return f'{{"type":"{msg.TYPE}","from":{encode_basestring(sender)},"sdp":{literal}}}'
    if isinstance(msg, Candidate):
        return RelayedCandidate(sender, msg.candidate).to_json()
    return RelayedIceRestart(sender).to_json()


# --- parsing ----------------------------------------------------------------------------------------


def _parse(text: str | bytes, types: dict[str, type[Message]]) -> Message:
    obj = loads(text)  # the one boundary: valid text, finite bounded numbers, bounded depth
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "message must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, 'missing field "type"')
    cls = types.get(kind)
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f'unknown message type "{kind[:32]}"')
    return cls.load(Fields(obj))


def parse_client(text: str | bytes) -> ClientMessage:
    """A client's message, or `ProtocolError` saying exactly what is wrong with it."""
    return _parse(text, CLIENT_TYPES)  # type: ignore[return-value]


def parse_server(text: str | bytes) -> ServerMessage:
    """A server's message (for clients), or `ProtocolError`."""
    return _parse(text, SERVER_TYPES)  # type: ignore[return-value]
