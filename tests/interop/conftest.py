"""Fixtures for the tlock-js interoperability tests.

`tlock_js` runs the reference JavaScript implementation (tests/interop/js/tlock.mjs around the
npm package tlock-js, pinned in package-lock.json) with node, offline. `make_chain` builds a
throw-away drand chain with a fresh BLS key whose genesis lies a day in the past, so every
round below the current one can be signed here and opened at once by both implementations.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto import bls
from crypto.chain import ChainInfo
from tests.conftest import need, need_executable

JS_DIR = Path(__file__).parent / "js"
TLOCK_JS_VERSION = "0.9.0"  # must match package.json / package-lock.json
NODE_TIMEOUT = 20  # seconds for one node call; each takes well under a second
NPM_TIMEOUT = 300

QUICKNET_SCHEME = "bls-unchained-g1-rfc9380"
PEDERSEN_UNCHAINED_SCHEME = "pedersen-bls-unchained"
BEACON_ID = "pingbiao-interop"
PERIOD = 3


class TlockJSRefused(Exception):
    """tlock-js exited with an error (its message is the exception text)."""


class TlockJS:
    """Calls `node tests/interop/js/tlock.mjs` with bytes in and out through temporary files."""

    def __init__(self, node: str) -> None:
        self.node = node

    def _run(self, args: list[str], data: bytes, chain_json: dict) -> bytes:
        with tempfile.TemporaryDirectory(prefix="tlockjs-") as tmp:
            d = Path(tmp)
            (d / "chain.json").write_text(json.dumps(chain_json))
            (d / "in").write_bytes(data)
            proc = subprocess.run(
                [
                    self.node,
                    str(JS_DIR / "tlock.mjs"),
                    *args,
                    "--chain",
                    str(d / "chain.json"),
                    str(d / "in"),
                    str(d / "out"),
                ],
                cwd=JS_DIR,
                capture_output=True,
                timeout=NODE_TIMEOUT,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
            )
            if proc.returncode == 1:
                raise TlockJSRefused(proc.stderr.decode(errors="replace").strip())
            detail = proc.stderr.decode(errors="replace")
            assert proc.returncode == 0, f"tlock.mjs {args[0]} failed ({proc.returncode}): {detail}"
            return (d / "out").read_bytes()

    def seal(self, chain_json: dict, round: int, plaintext: bytes, *, binary: bool = False) -> bytes:
        """tlock-js `timelockEncrypt`: armored output, or de-armored by tlock-js when `binary`."""
        args = ["seal", "--round", str(round), *(["--binary"] if binary else [])]
        return self._run(args, plaintext, chain_json)

    def open(self, chain_json: dict, signature: bytes, ciphertext: bytes) -> bytes:
        """tlock-js `timelockDecrypt` with the given beacon signature (verified by tlock-js)."""
        return self._run(["open", "--signature", signature.hex()], ciphertext, chain_json)

    def version(self) -> str:
        proc = subprocess.run(
            [self.node, str(JS_DIR / "tlock.mjs"), "version"],
            cwd=JS_DIR,
            capture_output=True,
            timeout=NODE_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        return proc.stdout.decode().strip()


@pytest.fixture(scope="session")
def tlock_js() -> TlockJS:
    """node + tlock-js, installed from package-lock.json (`npm ci`) when node_modules is missing."""
    node = need_executable("node")
    installed = JS_DIR / "node_modules" / "tlock-js" / "package.json"
    if not installed.exists():
        npm = need_executable("npm")
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS_DIR,
                capture_output=True,
                timeout=NPM_TIMEOUT,
            )
            ok, detail = proc.returncode == 0, proc.stderr.decode(errors="replace").strip()[-500:]
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, detail = False, str(exc)
        need(ok and installed.exists(), f"`npm ci` in tests/interop/js failed: {detail}")
    version = json.loads(installed.read_text())["version"]
    need(
        version == TLOCK_JS_VERSION,
        f"tests/interop/js/node_modules has tlock-js {version}, expected {TLOCK_JS_VERSION} (run `npm ci`)",
    )
    return TlockJS(node)


@dataclass
class TestChain:
    """A drand chain whose secret key is known here, so any reached round can be signed."""

    __test__ = False  # not a test class

    info: ChainInfo
    sign: Callable[[int], bytes]

    @property
    def json(self) -> dict:
        return self.info.to_json()

    def past_round(self, back: int = 10) -> int:
        """A round that was reached `back` rounds ago."""
        return self.info.round_at(time.time()) - back


def _make_chain(scheme_id: str) -> TestChain:
    scheme = bls.scheme_for(scheme_id)
    secret = bls.generate_secret()
    public = bls.public_key(scheme, secret)
    genesis = int(time.time()) - 86_400
    group_hash = os.urandom(32)
    draft = ChainInfo(public, PERIOD, genesis, "0" * 64, group_hash, scheme_id, BEACON_ID)
    info = ChainInfo(public, PERIOD, genesis, draft.computed_hash(), group_hash, scheme_id, BEACON_ID)
    info.check_hash()

    def sign(round: int) -> bytes:
        assert 1 <= round <= info.round_at(time.time()), f"round {round} has not been reached"
        return bls.sign_round(scheme, secret, round)

    return TestChain(info, sign)


@pytest.fixture(scope="session")
def make_chain() -> Callable[[str], TestChain]:
    """Factory: a fresh chain for a scheme id, cached per scheme for the session."""
    cache: dict[str, TestChain] = {}

    def make(scheme_id: str) -> TestChain:
        if scheme_id not in cache:
            cache[scheme_id] = _make_chain(scheme_id)
        return cache[scheme_id]

    return make


@pytest.fixture(scope="session")
def chain(make_chain: Callable[[str], TestChain]) -> TestChain:
    """A fresh quicknet-scheme (`bls-unchained-g1-rfc9380`) chain, period 3, genesis a day ago."""
    return make_chain(QUICKNET_SCHEME)
