"""Interoperability with the reference JavaScript tlock, tlock-js 0.9.0, in both directions.

Every test runs node for real (tests/interop/js/tlock.mjs), offline: tlock-js gets the chain
info and the beacon signature from here and verifies the beacon itself. Plaintexts are random
and compared byte for byte.

What tlock-js 0.9.0 does (read from its source, checked here): `timelockEncrypt` always returns
armor; `timelockDecrypt` reads armored and binary age files. For an empty plaintext it writes
no STREAM chunk at all (age requires one empty final chunk); pingbiao refuses such a file with
a clear error, while tlock-js opens pingbiao's (age-correct) empty file to empty output.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from crypto import tlock
from crypto.errors import BeaconError, FormatError, IntegrityError
from tests.interop.conftest import PEDERSEN_UNCHAINED_SCHEME, TestChain, TlockJS, TlockJSRefused

pytestmark = pytest.mark.node

CHUNK = 64 * 1024
TAG = 16
NONCE = 16
SIZES = [1, CHUNK, 3 * CHUNK + 17]
ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----\n"
ARMOR_END = b"-----END AGE ENCRYPTED FILE-----\n"


# --- helpers -----------------------------------------------------------------------------


def py_seal(chain: TestChain, round: int, plaintext: bytes, *, armor: bool = False) -> bytes:
    dst = io.BytesIO()
    tlock.seal(io.BytesIO(plaintext), dst, chain.info, round, armor=armor)
    return dst.getvalue()


def py_unseal(chain: TestChain, signature: bytes, sealed: bytes) -> bytes:
    dst = io.BytesIO()
    tlock.unseal(io.BytesIO(sealed), dst, chain.info, signature)
    return dst.getvalue()


def dearmor(sealed: bytes) -> bytes:
    """The binary age file inside strict age armor (independent of both implementations)."""
    assert sealed.startswith(ARMOR_BEGIN) and sealed.endswith(ARMOR_END), sealed[:60] + b"..." + sealed[-40:]
    lines = sealed[len(ARMOR_BEGIN) : -len(ARMOR_END)].split(b"\n")
    assert lines[-1] == b"", "armor body must end with a newline before the footer"
    lines = lines[:-1]
    assert all(0 < len(line) <= 64 for line in lines), "armor lines must be 1..64 columns, no empty lines"
    assert all(len(line) == 64 for line in lines[:-1]), "only the last armor line may be short"
    return base64.b64decode(b"".join(lines), validate=True)


def split_age(binary: bytes) -> tuple[list[bytes], bytes]:
    """(header lines up to and including the MAC line, payload = nonce ‖ STREAM)."""
    end = binary.index(b"\n---") + 1
    mac_end = binary.index(b"\n", end) + 1
    return binary[:mac_end].split(b"\n")[:-1], binary[mac_end:]


def expected_payload_len(size: int) -> int:
    """nonce ‖ STREAM for `size` bytes in 64 KiB chunks; an empty plaintext is one empty final chunk."""
    chunks = max(1, -(-size // CHUNK))
    return NONCE + size + chunks * TAG


def check_tlock_header(binary: bytes, chain: TestChain, round: int) -> bytes:
    """Assert an age header with one tlock stanza for (round, chain hash); return the payload."""
    lines, payload = split_age(binary)
    assert lines[0] == b"age-encryption.org/v1"
    assert lines[1] == f"-> tlock {round} {chain.info.hash}".encode()
    assert lines[-1].startswith(b"--- ") and len(lines[-1]) == 4 + 43
    return payload


# --- set-up ------------------------------------------------------------------------------


def test_pinned_tlock_js_version(tlock_js: TlockJS) -> None:
    assert tlock_js.version() == "0.9.0"


def test_chain_fixture_is_consistent(chain: TestChain) -> None:
    chain.info.check_hash()
    assert chain.info.scheme_id == "bls-unchained-g1-rfc9380"
    assert len(chain.info.public_key) == 96 and len(chain.sign(chain.past_round())) == 48


# --- tlock-js seals, pingbiao opens -------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda n: f"{n}B")
def test_tlockjs_seals_pingbiao_opens(tlock_js: TlockJS, chain: TestChain, size: int) -> None:
    round = chain.past_round()
    plaintext = os.urandom(size)
    sealed = tlock_js.seal(chain.json, round, plaintext)

    payload = check_tlock_header(dearmor(sealed), chain, round)  # tlock-js always armors
    assert len(payload) == expected_payload_len(size)
    header = tlock.inspect(io.BytesIO(sealed))
    assert header.armored is True and header.stanza_count == 1
    assert [(r.round, r.chain_hash) for r in header.recipients] == [(round, chain.info.hash)]

    assert py_unseal(chain, chain.sign(round), sealed) == plaintext


def test_tlockjs_binary_age_pingbiao_opens(tlock_js: TlockJS, chain: TestChain) -> None:
    """tlock-js's age layer without armor (de-armored by tlock-js's own decoder)."""
    round = chain.past_round(3)
    plaintext = os.urandom(2 * CHUNK + 1)
    sealed = tlock_js.seal(chain.json, round, plaintext, binary=True)
    assert sealed.startswith(b"age-encryption.org/v1\n")
    check_tlock_header(sealed, chain, round)
    assert tlock.inspect(io.BytesIO(sealed)).armored is False

    assert py_unseal(chain, chain.sign(round), sealed) == plaintext


def test_tlockjs_file_with_wrong_round_signature_is_refused(tlock_js: TlockJS, chain: TestChain) -> None:
    round = chain.past_round()
    sealed = tlock_js.seal(chain.json, round, b"bid")
    with pytest.raises(BeaconError):
        py_unseal(chain, chain.sign(round - 1), sealed)


# --- pingbiao seals, tlock-js opens -------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES, ids=lambda n: f"{n}B")
def test_pingbiao_seals_tlockjs_opens(tlock_js: TlockJS, chain: TestChain, size: int, armor: bool) -> None:
    round = chain.past_round()
    plaintext = os.urandom(size)
    sealed = py_seal(chain, round, plaintext, armor=armor)

    binary = dearmor(sealed) if armor else sealed
    assert len(check_tlock_header(binary, chain, round)) == expected_payload_len(size)

    assert tlock_js.open(chain.json, chain.sign(round), sealed) == plaintext


def test_tlockjs_refuses_pingbiao_file_with_wrong_signature(tlock_js: TlockJS, chain: TestChain) -> None:
    """Sanity check of the harness: tlock-js really verifies the beacon it is given."""
    round = chain.past_round()
    sealed = py_seal(chain, round, b"bid")
    with pytest.raises(TlockJSRefused):
        tlock_js.open(chain.json, chain.sign(round - 1), sealed)


# --- armor at the 64-column boundary ------------------------------------------------------


def _size_filling_last_armor_line(chain: TestChain, round: int) -> int:
    """A plaintext size whose binary age file is a multiple of 48 bytes: last base64 line = 64 columns."""
    overhead = len(py_seal(chain, round, b"x")) - 1  # header + nonce + one tag, same for both sides
    return 48 - overhead % 48 or 48


def test_armor_full_last_line_tlockjs_to_pingbiao(tlock_js: TlockJS, chain: TestChain) -> None:
    round = chain.past_round()
    plaintext = os.urandom(_size_filling_last_armor_line(chain, round))
    sealed = tlock_js.seal(chain.json, round, plaintext)
    assert len(sealed.split(b"\n")[-3]) == 64, "the case under test: last armor line exactly 64 columns"
    assert py_unseal(chain, chain.sign(round), sealed) == plaintext


def test_armor_full_last_line_pingbiao_to_tlockjs(tlock_js: TlockJS, chain: TestChain) -> None:
    round = chain.past_round()
    plaintext = os.urandom(_size_filling_last_armor_line(chain, round))
    sealed = py_seal(chain, round, plaintext, armor=True)
    assert len(dearmor(sealed)) % 48 == 0
    assert tlock_js.open(chain.json, chain.sign(round), sealed) == plaintext


# --- empty plaintext ----------------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_empty_pingbiao_seals_tlockjs_opens(tlock_js: TlockJS, chain: TestChain, armor: bool) -> None:
    """pingbiao writes one empty final chunk (age-correct); tlock-js opens it to nothing."""
    round = chain.past_round()
    sealed = py_seal(chain, round, b"", armor=armor)
    payload = check_tlock_header(dearmor(sealed) if armor else sealed, chain, round)
    assert len(payload) == NONCE + TAG

    assert tlock_js.open(chain.json, chain.sign(round), sealed) == b""


@pytest.mark.parametrize("binary", [False, True], ids=["armored", "binary"])
def test_empty_tlockjs_file_is_refused_by_pingbiao(tlock_js: TlockJS, chain: TestChain, binary: bool) -> None:
    """tlock-js 0.9.0 writes no STREAM chunk for an empty input; pingbiao refuses it, clearly."""
    round = chain.past_round()
    sealed = tlock_js.seal(chain.json, round, b"", binary=binary)
    payload = check_tlock_header(sealed if binary else dearmor(sealed), chain, round)
    assert len(payload) == NONCE, "tlock-js's empty-payload quirk: nonce only, no chunk"
    # tlock-js itself accepts its own file
    assert tlock_js.open(chain.json, chain.sign(round), sealed) == b""

    dst = io.BytesIO()
    with pytest.raises((FormatError, IntegrityError)) as excinfo:
        tlock.unseal(io.BytesIO(sealed), dst, chain.info, chain.sign(round))
    message = str(excinfo.value)
    assert "\n" not in message.strip()
    assert re.search(r"(?i)chunk|truncat|payload", message), f"message does not name the problem: {message!r}"
    assert dst.getvalue() == b""


# --- the pedersen-bls-unchained scheme (signatures on G2) ---------------------------------


def test_pedersen_unchained_both_ways(tlock_js: TlockJS, make_chain: Callable[[str], TestChain]) -> None:
    chain = make_chain(PEDERSEN_UNCHAINED_SCHEME)
    assert len(chain.info.public_key) == 48
    round = chain.past_round()
    signature = chain.sign(round)
    assert len(signature) == 96

    plaintext = os.urandom(CHUNK + 5)
    sealed_js = tlock_js.seal(chain.json, round, plaintext)
    assert py_unseal(chain, signature, sealed_js) == plaintext

    plaintext = os.urandom(1000)
    sealed_py = py_seal(chain, round, plaintext)
    assert tlock_js.open(chain.json, signature, sealed_py) == plaintext


# --- the browser's streamed sealing (the sealing worker's code), tlock-js opens ---------------


def test_streamed_browser_sealing_tlockjs_opens(tlock_js: TlockJS, chain: TestChain, tmp_path: Path) -> None:
    """js/src/stream.js (what the bid page's worker runs), from the committed bundle, with parts
    smaller than the documents: tlock-js 0.9.0 opens the concatenated parts into the container."""
    import json

    from evaluation.tenders.bid_container import build_container
    from tests.web.test_js_bundle import _run

    round = chain.past_round()
    docs = [("技术标.bin", os.urandom(3 * 65536 + 17)), ("报价.pdf", os.urandom(1000))]
    record = {"total_price": "1,268,000.00"}
    spec = {"record": record, "partSize": 65536,
            "files": [{"name": n, "b64": base64.b64encode(b).decode()} for n, b in docs]}
    sealed = _run(tmp_path, "stream", chain.json, json.dumps(spec).encode(), round=round)
    assert json.loads((tmp_path / "out.json").read_text())["size"] == len(sealed)
    assert tlock_js.open(chain.json, chain.sign(round), sealed) == build_container(record, docs)
