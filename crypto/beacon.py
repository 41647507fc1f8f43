"""A local beacon: one BLS key, drand's HTTP API shape, rounds released only when their time comes.

This is the embedded default and the test beacon. It is a **single-operator** trust level: whoever
holds `beacon.key` can produce any future round's signature and so open any bid early. Production
points pingbiao at a drand network run by independent custodians (docs/beacon.md).

The key file is created with mode 0600 and never leaves the data directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from aiohttp import web

from crypto import bls
from crypto.chain import ChainInfo
from crypto.drand import Beacon
from crypto.errors import FormatError, RoundNotReachedError

SCHEME_ID = "bls-unchained-g1-rfc9380"  # the quicknet scheme: signatures on G1, key on G2
BEACON_ID = "pingbiao-local"
TRUST_WARNING = (
    "local beacon: single-operator trust — whoever holds its key file can open sealed bids early; "
    "use a drand network of independent custodians in production"
)


class LocalBeacon:
    """The key and chain of a local beacon, and the signatures it is allowed to give out."""

    def __init__(self, secret: bytes, chain: ChainInfo, clock: Callable[[], float] = time.time) -> None:
        self.chain = chain
        self._secret = secret
        self._scheme = bls.scheme_for(chain.scheme_id)
        self._clock = clock
        self._sign = lru_cache(maxsize=4096)(self._sign_uncached)

    # --- creation and storage ----------------------------------------------------------

    @classmethod
    def create(cls, period: int = 3, genesis_time: int | None = None, clock: Callable[[], float] = time.time) -> LocalBeacon:
        """A fresh key and chain whose round 1 is at `genesis_time` (default: now, whole second)."""
        scheme = bls.scheme_for(SCHEME_ID)
        secret = bls.generate_secret()
        public = bls.public_key(scheme, secret)
        genesis = int(clock()) if genesis_time is None else genesis_time
        group_hash = hashlib.sha256(b"pingbiao local beacon\n" + public + genesis.to_bytes(8, "big")).digest()
        draft = ChainInfo(public, period, genesis, "0" * 64, group_hash, SCHEME_ID, BEACON_ID)
        chain = ChainInfo(public, period, genesis, draft.computed_hash(), group_hash, SCHEME_ID, BEACON_ID)
        return cls(secret, chain, clock)

    def save(self, directory: Path) -> None:
        """Write `beacon.key` (0600, created exclusively) and `chain-info.json` into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / "beacon.key"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"scheme": SCHEME_ID, "secret": self._secret.hex(), "chain_hash": self.chain.hash}, f)
            f.write("\n")
        (directory / "chain-info.json").write_text(json.dumps(self.chain.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, clock: Callable[[], float] = time.time) -> LocalBeacon:
        """Load a beacon saved by `save`. Refuses a key file readable by others."""
        key_path = directory / "beacon.key"
        try:
            mode = key_path.stat().st_mode & 0o777
            if mode & 0o077:
                raise FormatError(f"{key_path} is readable by other users (mode {mode:o}); chmod 600 it")
            key = json.loads(key_path.read_text())
            chain = ChainInfo.from_json((directory / "chain-info.json").read_text())
            secret = bytes.fromhex(key["secret"])
        except FileNotFoundError:
            raise FormatError(f"no local beacon in {directory}: run `pingbiao beacon init`") from None
        except (ValueError, KeyError, TypeError):
            raise FormatError(f"{key_path} is not a pingbiao beacon key") from None
        chain.check_hash()
        if bls.public_key(bls.scheme_for(chain.scheme_id), secret) != chain.public_key:
            raise FormatError(f"{key_path} does not belong to the chain in chain-info.json")
        return cls(secret, chain, clock)

    @classmethod
    def open_or_create(cls, directory: Path, period: int = 3, clock: Callable[[], float] = time.time) -> LocalBeacon:
        if (directory / "beacon.key").exists():
            return cls.load(directory, clock)
        beacon = cls.create(period=period, clock=clock)
        beacon.save(directory)
        return beacon

    # --- rounds --------------------------------------------------------------------------

    def current_round(self) -> int:
        return self.chain.round_at(self._clock())

    def signature(self, round: int) -> bytes | None:
        """The signature of `round`, or None when its time has not come (never released early)."""
        if round < 1 or round > self.current_round():
            return None
        return self._sign(round)

    def _sign_uncached(self, round: int) -> bytes:
        return bls.sign_round(self._scheme, self._secret, round)


class LocalBeaconSource:
    """The local beacon used in-process, with the same interface as `DrandClient`.

    Signatures are still verified before use, like any beacon's.
    """

    def __init__(self, beacon: LocalBeacon) -> None:
        self._beacon = beacon

    async def info(self) -> ChainInfo:
        return self._beacon.chain

    async def beacon(self, round: int) -> Beacon:
        signature = self._beacon.signature(round)
        if signature is None:
            raise RoundNotReachedError(round, self._beacon.chain.time_of(max(round, 1)))
        bls.verify_beacon(self._beacon.chain, round, signature)
        return Beacon(round, signature)

    async def wait_for(self, round: int, *, max_delay: float = 10.0) -> Beacon:
        while True:
            wait = self._beacon.chain.time_of(round) - self._beacon._clock()
            if wait <= 0:
                return await self.beacon(round)
            await asyncio.sleep(min(wait, max_delay))

    async def close(self) -> None:
        return None


# --- drand HTTP API v1 ---------------------------------------------------------------------


def beacon_routes(beacon: LocalBeacon) -> list[web.RouteDef]:
    """drand v1 routes: /info, /chains, /health and /{chainhash}/{info,public/latest,public/N,health}."""
    chain_hash = beacon.chain.hash

    def beacon_json(round: int) -> web.Response:
        sig = beacon.signature(round)
        if sig is None:
            return web.json_response({"error": f"round {round} has not been reached yet"}, status=404)
        randomness = hashlib.sha256(sig).hexdigest()
        return web.json_response({"round": round, "randomness": randomness, "signature": sig.hex()})

    async def info(request: web.Request) -> web.Response:
        _check_chain(request)
        return web.json_response(beacon.chain.to_json())

    async def chains(request: web.Request) -> web.Response:
        return web.json_response([chain_hash])

    async def health(request: web.Request) -> web.Response:
        _check_chain(request)
        current = beacon.current_round()
        return web.json_response({"current": current, "expected": current})

    async def public(request: web.Request) -> web.Response:
        _check_chain(request)
        which = request.match_info["round"]
        if which == "latest":
            current = beacon.current_round()
            if current < 1:
                return web.json_response({"error": "no round has been produced yet"}, status=404)
            return beacon_json(current)
        if not (which.isascii() and which.isdigit()) or len(which) > 19:  # not "²"
            return web.json_response({"error": "round must be a positive integer or 'latest'"}, status=400)
        return beacon_json(int(which))

    def _check_chain(request: web.Request) -> None:
        asked = request.match_info.get("chain")
        if asked is not None and asked.lower() != chain_hash:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"unknown chain {asked[:16]}"}), content_type="application/json"
            )

    return [
        web.get("/info", info),
        web.get("/chains", chains),
        web.get("/health", health),
        web.get("/public/{round}", public),
        web.get("/{chain}/info", info),
        web.get("/{chain}/health", health),
        web.get("/{chain}/public/{round}", public),
    ]


def beacon_app(beacon: LocalBeacon) -> web.Application:
    """A standalone aiohttp application serving the local beacon (CORS open: it is public data)."""

    @web.middleware
    async def cors(request: web.Request, handler: Callable) -> web.StreamResponse:  # type: ignore[type-arg]
        response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    app = web.Application(middlewares=[cors])
    app.add_routes(beacon_routes(beacon))
    return app
