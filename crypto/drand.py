"""Client for drand's HTTP API v1: chain info, a round's beacon, the latest beacon.

Works against any drand network (the League of Entropy's quicknet relays, a private network run by
independent custodians) and against pingbiao's local beacon, which speaks the same API.
Every beacon is verified against the pinned chain's public key before it is returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from crypto import bls
from crypto.chain import ChainInfo
from crypto.errors import (
    BeaconUnavailableError,
    FormatError,
    RoundNotReachedError,
    WrongChainError,
)


@dataclass(frozen=True)
class Beacon:
    """One round's verified beacon. `randomness` = SHA-256(signature)."""

    round: int
    signature: bytes

    @property
    def randomness(self) -> bytes:
        return hashlib.sha256(self.signature).digest()

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "randomness": self.randomness.hex(), "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, obj: Any) -> Beacon:
        try:
            beacon = cls(round=int(obj["round"]), signature=bytes.fromhex(obj["signature"]))
            claimed = obj.get("randomness")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise FormatError("beacon answer is not drand's {round, randomness, signature} JSON") from None
        if claimed is not None and claimed != beacon.randomness.hex():
            raise FormatError(f"beacon for round {beacon.round} has randomness that is not SHA-256(signature)")
        if obj.get("previous_signature"):
            raise FormatError("beacon carries previous_signature: a chained beacon cannot open timelocks")
        return beacon


class BeaconSource(Protocol):
    """Where verified beacons come from: a drand HTTP endpoint or the in-process local beacon."""

    async def info(self) -> ChainInfo: ...

    async def beacon(self, round: int) -> Beacon: ...

    async def wait_for(self, round: int, *, max_delay: float = 10.0) -> Beacon: ...

    async def close(self) -> None: ...


class DrandClient:
    """Reads one chain from a drand HTTP endpoint.

    `base_url` is the endpoint root (e.g. ``http://127.0.0.1:8081``); `chain_hash` pins the chain
    (strongly advised: trust in the lock is trust in the chain's key). Use as an async context
    manager or pass your own `aiohttp.ClientSession`.
    """

    def __init__(
        self,
        base_url: str,
        chain_hash: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.chain_hash = chain_hash.lower() if chain_hash else None
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._info: ChainInfo | None = None

    async def __aenter__(self) -> DrandClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _prefix(self) -> str:
        return f"{self.base_url}/{self.chain_hash}" if self.chain_hash else self.base_url

    async def _get_json(self, path: str) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{self._prefix()}{path}"
        try:
            async with self._session.get(url, timeout=self._timeout) as resp:
                if resp.status != 200:
                    return resp.status, None
                return 200, await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise BeaconUnavailableError(f"beacon at {self.base_url} cannot be reached: {exc or type(exc).__name__}") from None

    async def info(self) -> ChainInfo:
        """The chain's parameters, checked against their own hash and the pinned chain hash."""
        if self._info is not None:
            return self._info
        status, obj = await self._get_json("/info")
        if status != 200:
            raise BeaconUnavailableError(f"beacon at {self.base_url} answered HTTP {status} for chain info")
        info = ChainInfo.from_json(obj)
        info.check_hash()
        if self.chain_hash and info.hash != self.chain_hash:
            raise WrongChainError(f"beacon at {self.base_url} serves chain {info.hash[:16]}…, not {self.chain_hash[:16]}…")
        bls.scheme_for(info.scheme_id)  # refuse schemes that cannot open timelocks, early
        self._info = info
        return info

    async def beacon(self, round: int) -> Beacon:
        """The verified beacon of `round`. Raises RoundNotReachedError before its time."""
        info = await self.info()
        if round < 1:
            raise FormatError("rounds start at 1")
        if info.time_of(round) > self._clock():
            raise RoundNotReachedError(round, info.time_of(round))
        status, obj = await self._get_json(f"/public/{round}")
        if status == 404:
            # Scheduled time has passed but the network has not published it yet.
            raise BeaconUnavailableError(f"round {round} is due but the beacon has not published it yet")
        if status != 200:
            raise BeaconUnavailableError(f"beacon at {self.base_url} answered HTTP {status} for round {round}")
        return self._checked(info, Beacon.from_json(obj), round)

    async def latest(self) -> Beacon:
        """The latest published beacon, verified."""
        info = await self.info()
        status, obj = await self._get_json("/public/latest")
        if status != 200:
            raise BeaconUnavailableError(f"beacon at {self.base_url} answered HTTP {status} for the latest round")
        beacon = Beacon.from_json(obj)
        return self._checked(info, beacon, beacon.round)

    async def wait_for(self, round: int, *, max_delay: float = 10.0) -> Beacon:
        """Wait until `round` is published and return it verified; retries with capped backoff.

        Transient failures (network, not yet published) are retried forever; a beacon that fails
        verification is not (that is an attack or a misconfiguration, not a delay).
        """
        info = await self.info()
        delay = 0.2
        while True:
            wait = info.time_of(round) - self._clock()
            if wait > 0:
                await asyncio.sleep(min(wait, max_delay))
                continue
            try:
                return await self.beacon(round)
            except (BeaconUnavailableError, RoundNotReachedError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    @staticmethod
    def _checked(info: ChainInfo, beacon: Beacon, round: int) -> Beacon:
        if beacon.round != round:
            raise FormatError(f"asked for round {round}, the beacon answered round {beacon.round}")
        bls.verify_beacon(info, beacon.round, beacon.signature)
        return beacon
