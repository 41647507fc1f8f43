"""drand chain parameters (the `/info` document) and round <-> time arithmetic.

A chain is fixed by its public key, period, genesis time, group hash and beacon id; its hash
binds them together (drand `common/chain/info.go` `Hash`). Rounds are numbered from 1 at the
genesis time: ``time(round) = genesis + (round - 1) * period``.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

from crypto.errors import FormatError

QUICKNET_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"


@dataclass(frozen=True)
class ChainInfo:
    """One drand chain as served at ``/{chainhash}/info`` (drand HTTP API v1)."""

    public_key: bytes
    period: int
    genesis_time: int
    hash: str
    group_hash: bytes
    scheme_id: str
    beacon_id: str = "default"

    def __post_init__(self) -> None:
        if self.period <= 0:
            raise FormatError(f"chain period must be positive, got {self.period}")
        if len(self.hash) != 64 or any(c not in "0123456789abcdef" for c in self.hash):
            raise FormatError("chain hash must be 64 lowercase hex characters")

    # --- (de)serialisation -------------------------------------------------------------

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> ChainInfo:
        """Parse drand's v1 info JSON. Raises FormatError on anything malformed."""
        try:
            obj = json.loads(data) if isinstance(data, (str, bytes)) else data
            meta = obj.get("metadata") or {}
            info = cls(
                public_key=bytes.fromhex(obj["public_key"]),
                period=int(obj["period"]),
                genesis_time=int(obj["genesis_time"]),
                hash=str(obj["hash"]).lower(),
                group_hash=bytes.fromhex(obj.get("groupHash", "")),
                scheme_id=str(obj.get("schemeID") or "pedersen-bls-chained"),
                beacon_id=str(meta.get("beaconID") or "default"),
            )
        except FormatError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FormatError(f"not a drand chain info document: {exc}") from None
        return info

    def to_json(self) -> dict[str, Any]:
        """The v1 `/info` JSON shape, as drand and tlock-js expect it."""
        return {
            "public_key": self.public_key.hex(),
            "period": self.period,
            "genesis_time": self.genesis_time,
            "hash": self.hash,
            "groupHash": self.group_hash.hex(),
            "schemeID": self.scheme_id,
            "metadata": {"beaconID": self.beacon_id},
        }

    def computed_hash(self) -> str:
        """SHA-256(period u32be ‖ genesis i64be ‖ public key ‖ group hash ‖ beacon id unless default)."""
        h = hashlib.sha256()
        h.update(struct.pack(">I", self.period))
        h.update(struct.pack(">q", self.genesis_time))
        h.update(self.public_key)
        h.update(self.group_hash)
        if self.beacon_id and self.beacon_id != "default":
            h.update(self.beacon_id.encode())
        return h.hexdigest()

    def check_hash(self) -> None:
        """Raise FormatError unless `hash` really is the hash of the other fields."""
        if self.computed_hash() != self.hash:
            raise FormatError(f"chain info does not match its hash {self.hash[:16]}…")

    # --- time ----------------------------------------------------------------------------

    def time_of(self, round: int) -> int:
        """Unix time at which `round` is produced. Requires round >= 1."""
        if round < 1:
            raise ValueError("rounds start at 1")
        return self.genesis_time + (round - 1) * self.period

    def round_at(self, t: float) -> int:
        """The latest round whose time is <= t (0 before genesis)."""
        if t < self.genesis_time:
            return 0
        return int((t - self.genesis_time) // self.period) + 1

    def round_not_before(self, t: float) -> int:
        """The first round whose time is >= t: sealing to it means "not openable before t"."""
        if t <= self.genesis_time:
            return 1
        return math.ceil((t - self.genesis_time) / self.period) + 1
