"""The local beacon and the drand HTTP client, over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crypto import bls
from crypto.beacon import LocalBeacon, LocalBeaconSource, beacon_app
from crypto.chain import ChainInfo
from crypto.drand import DrandClient
from crypto.errors import (
    BadSignatureError,
    BeaconUnavailableError,
    FormatError,
    RoundNotReachedError,
    WrongChainError,
)


class Clock:
    """A settable clock: time is whatever the test says."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock(1_700_000_000.0)


@pytest.fixture
def beacon(clock: Clock) -> LocalBeacon:
    return LocalBeacon.create(period=3, genesis_time=int(clock.t) - 300, clock=clock)


def test_key_file_is_private_and_reloads(tmp_path: Path, beacon: LocalBeacon, clock: Clock) -> None:
    beacon.save(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "beacon.key").st_mode)
    assert mode == 0o600
    again = LocalBeacon.load(tmp_path, clock)
    assert again.chain == beacon.chain
    assert again.signature(5) == beacon.signature(5)
    with pytest.raises(FileExistsError):
        beacon.save(tmp_path)  # never overwrites a key


def test_key_readable_by_others_is_refused(tmp_path: Path, beacon: LocalBeacon) -> None:
    beacon.save(tmp_path)
    os.chmod(tmp_path / "beacon.key", 0o644)
    with pytest.raises(FormatError, match="readable by other users"):
        LocalBeacon.load(tmp_path)


def test_key_of_another_chain_is_refused(tmp_path: Path, beacon: LocalBeacon, clock: Clock) -> None:
    beacon.save(tmp_path)
    other = LocalBeacon.create(clock=clock)
    (tmp_path / "chain-info.json").write_text(__import__("json").dumps(other.chain.to_json()))
    with pytest.raises(FormatError, match="does not belong"):
        LocalBeacon.load(tmp_path)


def test_chain_hash_and_signatures_verify(beacon: LocalBeacon) -> None:
    beacon.chain.check_hash()
    current = beacon.current_round()
    assert current == 101
    for r in (1, 50, current):
        sig = beacon.signature(r)
        assert sig is not None
        bls.verify_beacon(beacon.chain, r, sig)
    assert beacon.signature(current + 1) is None
    assert beacon.signature(0) is None


async def test_http_api_serves_only_past_rounds(beacon: LocalBeacon, clock: Clock) -> None:
    async with TestServer(beacon_app(beacon)) as server:
        async with DrandClient(str(server.make_url("")), beacon.chain.hash, clock=clock) as client:
            info = await client.info()
            assert info == beacon.chain
            latest = await client.latest()
            assert latest.round == beacon.current_round()
            b = await client.beacon(7)
            assert b.round == 7 and hashlib.sha256(b.signature).digest() == b.randomness
            # The client refuses future rounds locally, naming when they open.
            with pytest.raises(RoundNotReachedError, match=f"round {latest.round + 1} has not been reached yet"):
                await client.beacon(latest.round + 1)
        # The server itself never answers for a future round, whatever the client does.
        async with _session() as s:
            resp = await s.get(server.make_url(f"/{beacon.chain.hash}/public/{beacon.current_round() + 1}"))
            assert resp.status == 404
            resp = await s.get(server.make_url(f"/{'ab' * 32}/info"))
            assert resp.status == 404
            resp = await s.get(server.make_url(f"/{beacon.chain.hash}/public/-1"))
            assert resp.status == 400
        # Time passes: the round becomes available.
        clock.t += 3
        async with DrandClient(str(server.make_url("")), beacon.chain.hash, clock=clock) as client:
            assert (await client.beacon(latest.round + 1)).round == latest.round + 1


def _session():  # type: ignore[no-untyped-def]
    import aiohttp

    return aiohttp.ClientSession()


async def test_client_pins_the_chain(beacon: LocalBeacon, clock: Clock) -> None:
    async with TestServer(beacon_app(beacon)) as server:
        async with DrandClient(str(server.make_url("")), None, clock=clock) as client:
            assert (await client.info()).hash == beacon.chain.hash  # default-chain routes
        other = "cd" * 32
        async with DrandClient(str(server.make_url("")), other, clock=clock) as client:
            with pytest.raises(BeaconUnavailableError, match="HTTP 404"):
                await client.info()


async def _hostile_server(chain: ChainInfo, body: dict) -> TestServer:  # type: ignore[type-arg]
    async def info(request: web.Request) -> web.Response:
        return web.json_response(chain.to_json())

    async def public(request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.add_routes([web.get("/{chain}/info", info), web.get("/{chain}/public/{round}", public)])
    server = TestServer(app)
    await server.start_server()
    return server


async def test_forged_beacon_is_refused(beacon: LocalBeacon, clock: Clock) -> None:
    good = beacon.signature(5)
    assert good is not None
    other_round = beacon.signature(6)
    assert other_round is not None
    cases = [
        ({"round": 5, "signature": other_round.hex()}, BadSignatureError),  # signature of another round
        ({"round": 5, "signature": (bytes([good[0]]) + bytes(47)).hex()}, BadSignatureError),  # garbage point
        ({"round": 5, "signature": good.hex(), "randomness": "00" * 32}, FormatError),  # wrong randomness
        ({"round": 4, "signature": good.hex()}, FormatError),  # answers another round
        ({"nonsense": True}, FormatError),
    ]
    for body, error in cases:
        server = await _hostile_server(beacon.chain, body)
        try:
            async with DrandClient(str(server.make_url("")), beacon.chain.hash, clock=clock) as client:
                with pytest.raises(error):
                    await client.beacon(5)
        finally:
            await server.close()


async def test_forged_chain_info_is_refused(beacon: LocalBeacon, clock: Clock) -> None:
    forged = ChainInfo.from_json({**beacon.chain.to_json(), "period": 30})
    server = await _hostile_server(forged, {})
    try:
        async with DrandClient(str(server.make_url("")), beacon.chain.hash, clock=clock) as client:
            with pytest.raises(FormatError, match="does not match its hash"):
                await client.info()
    finally:
        await server.close()
    other = LocalBeacon.create(clock=clock)
    server = await _hostile_server(other.chain, {})
    try:
        async with DrandClient(str(server.make_url("")), beacon.chain.hash, clock=clock) as client:
            with pytest.raises(WrongChainError):
                await client.info()
    finally:
        await server.close()


async def test_unreachable_beacon_is_one_clear_error(clock: Clock) -> None:
    async with DrandClient("http://127.0.0.1:9", "ab" * 32, clock=clock, timeout=2) as client:
        with pytest.raises(BeaconUnavailableError, match="cannot be reached"):
            await client.info()


async def test_local_source_matches_http(beacon: LocalBeacon, clock: Clock) -> None:
    source = LocalBeaconSource(beacon)
    b = await source.beacon(9)
    assert b.signature == beacon.signature(9)
    with pytest.raises(RoundNotReachedError):
        await source.beacon(beacon.current_round() + 1)
