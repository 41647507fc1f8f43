"""Settings of the signaling server (web/ builds one from its own settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.turn import IceConfig


@dataclass(frozen=True, slots=True)
class SignalingConfig:
    """Everything the signaling server needs; times in seconds."""

    token_secret: bytes  # ≥ 32 random bytes, shared with whoever issues room tokens (web/)
    ice: IceConfig = field(default_factory=IceConfig)
    capacity: int = 12  # places per room: 9 experts, the host, a supervisor, one spare
    grace: float = 60.0  # a lost connection keeps its place this long
    heartbeat: float = 10.0  # clients ping at least this often
    heartbeat_misses: int = 3  # silent for heartbeat × misses → closed with 4007
    join_timeout: float = 10.0  # a socket must send `join` within this → else closed with 4008
    max_message_bytes: int = 64 * 1024  # larger text frames are refused with an error
    rate: float = 50.0  # messages per second a connection may send, sustained
    burst: int = 200  # ... and at once; beyond, messages are dropped, then the socket closed (4009)
    join_rate: float = 1 / 6  # joins per second one account may make in one room, sustained ...
    join_burst: int = 10  # ... and at once; beyond, the join is refused (4011)
    send_backlog_bytes: int = 1 << 20  # a client this far behind in reading is closed (4010)
    bus_url: str = ""  # empty: in-memory bus (one process); redis://host:port/db for several
    bus_prefix: str = "pingbiao:signaling:"  # Redis key and channel prefix
    bus_lease: float = 15.0  # Redis: places held by a process that stopped renewing its lease are released

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.grace < 0 or self.heartbeat <= 0 or self.heartbeat_misses < 1:
            raise ValueError("capacity ≥ 1, grace ≥ 0, heartbeat > 0 and heartbeat_misses ≥ 1 are required")
        if self.max_message_bytes < 1024 or self.rate <= 0 or self.burst < 1:
            raise ValueError("max_message_bytes ≥ 1024, rate > 0 and burst ≥ 1 are required")
        if self.join_rate <= 0 or self.join_burst < 1:
            raise ValueError("join_rate > 0 and join_burst ≥ 1 are required")
        if self.bus_lease <= 0 or self.send_backlog_bytes < self.max_message_bytes:
            raise ValueError("bus_lease > 0 and send_backlog_bytes ≥ max_message_bytes are required")

    @property
    def tick(self) -> float:
        """How often the sweeper checks heartbeats, join timeouts and grace periods."""
        return max(0.01, min(1.0, self.heartbeat / 4, self.join_timeout / 4, (self.grace or 1.0) / 4))
