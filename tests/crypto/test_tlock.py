"""The public timelock API: seal/unseal, inspect, files, errors, empty plaintext, streaming memory."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crypto import age, bls, tlock
from crypto.chain import ChainInfo
from crypto.errors import BadSignatureError, CryptoError, FormatError, IntegrityError, WrongChainError

SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536 + 5]
ROUND = 4242
REPO = Path(__file__).resolve().parents[2]


def made_up_chain(secret: bytes, scheme_id: str = "bls-unchained-g1-rfc9380", beacon_id: str = "test") -> ChainInfo:
    """A quicknet-scheme (by default) chain for `secret` whose hash matches its fields."""
    info = ChainInfo(
        public_key=bls.public_key(bls.scheme_for(scheme_id), secret),
        period=3,
        genesis_time=1_700_000_000,
        hash="0" * 64,
        group_hash=bytes(range(32)),
        scheme_id=scheme_id,
        beacon_id=beacon_id,
    )
    return dataclasses.replace(info, hash=info.computed_hash())


SECRET = bls.generate_secret()
CHAIN = made_up_chain(SECRET)
SCHEME = bls.scheme_for(CHAIN.scheme_id)
SIGNATURE = bls.sign_round(SCHEME, SECRET, ROUND)


def seal_bytes(data: bytes, *, armor: bool = False, chain: ChainInfo = CHAIN, round: int = ROUND) -> bytes:
    out = io.BytesIO()
    tlock.seal(io.BytesIO(data), out, chain, round, armor=armor)
    return out.getvalue()


def unseal_bytes(sealed: bytes, *, chain: ChainInfo = CHAIN, signature: bytes = SIGNATURE) -> bytes:
    out = io.BytesIO()
    tlock.unseal(io.BytesIO(sealed), out, chain, signature)
    return out.getvalue()


def payload_start(sealed: bytes) -> int:
    """Offset of the payload (the nonce) in a binary sealed file: just after the MAC line."""
    return sealed.index(b"\n", sealed.index(b"\n--- ") + 1) + 1


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int, armor: bool) -> None:
    data = os.urandom(size)
    sealed = seal_bytes(data, armor=armor)
    assert sealed.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n" if armor else b"age-encryption.org/v1\n")
    assert unseal_bytes(sealed) == data


@pytest.mark.parametrize("scheme_id", ["bls-unchained-on-g1", "pedersen-bls-unchained"])
def test_round_trip_other_schemes(scheme_id: str) -> None:
    secret = bls.generate_secret()
    chain = made_up_chain(secret, scheme_id)
    sealed = seal_bytes(b"bid", chain=chain, round=7)
    assert unseal_bytes(sealed, chain=chain, signature=bls.sign_round(bls.scheme_for(scheme_id), secret, 7)) == b"bid"


def test_header_is_one_tlock_stanza() -> None:
    sealed = seal_bytes(b"x")
    lines = sealed.split(b"\n")
    assert lines[0] == b"age-encryption.org/v1"
    assert lines[1] == f"-> tlock {ROUND} {CHAIN.hash}".encode()
    assert [len(line) for line in lines[2:5]] == [64, 64, 43]
    assert lines[5].startswith(b"--- ") and len(lines[5]) == 47


@pytest.mark.parametrize("armor", [False, True])
def test_inspect(armor: bool) -> None:
    sealed = seal_bytes(b"offer", armor=armor)
    header = tlock.inspect(io.BytesIO(sealed))
    assert header == tlock.SealedHeader([tlock.TlockRecipient(ROUND, CHAIN.hash)], 1, armor)


def test_inspect_counts_other_stanzas() -> None:
    stanzas = [
        age.Stanza("X25519", ("abc",), b"k" * 32),
        age.Stanza("tlock", ("9", CHAIN.hash), b"b" * 128),
        age.Stanza("tlock", ("10", "ab" * 32), b"b" * 128),
    ]
    header = tlock.inspect(io.BytesIO(age.encode_header(stanzas, bytes(16))))
    assert header.stanza_count == 3 and not header.armored
    assert header.recipients == [tlock.TlockRecipient(9, CHAIN.hash), tlock.TlockRecipient(10, "ab" * 32)]


@pytest.mark.parametrize(
    "args",
    [("1",), ("01", "ab" * 32), ("-1", "ab" * 32), ("1", "AB" * 32), ("1", "ab" * 31), (str(1 << 64), "ab" * 32)],
)
def test_inspect_refuses_malformed_tlock_stanzas(args: tuple[str, ...]) -> None:
    data = age.encode_header([age.Stanza("tlock", args, b"b" * 128)], bytes(16))
    with pytest.raises(FormatError, match="tlock stanza"):
        tlock.inspect(io.BytesIO(data))


def test_inspect_refuses_non_age_input() -> None:
    with pytest.raises(FormatError, match="not an age file"):
        tlock.inspect(io.BytesIO(b"%PDF-1.7\n"))
    with pytest.raises(FormatError):
        tlock.inspect(io.BytesIO(b""))


def test_wrong_chain() -> None:
    other = made_up_chain(bls.generate_secret(), beacon_id="other")
    sealed = seal_bytes(b"x", chain=other)
    with pytest.raises(WrongChainError, match=f"sealed to drand chain {other.hash[:16]}.*not to chain {CHAIN.hash[:16]}"):
        unseal_bytes(sealed)


def test_wrong_round_signature() -> None:
    sealed = seal_bytes(b"x")
    with pytest.raises(BadSignatureError, match=f"signature is not the beacon for round {ROUND} of chain {CHAIN.hash[:16]}"):
        unseal_bytes(sealed, signature=bls.sign_round(SCHEME, SECRET, ROUND + 1))


def test_malformed_signature() -> None:
    sealed = seal_bytes(b"x")
    with pytest.raises(BadSignatureError, match="malformed"):
        unseal_bytes(sealed, signature=SIGNATURE[:20])
    with pytest.raises(BadSignatureError, match="malformed"):
        unseal_bytes(sealed, signature=bytes(48))


def test_no_tlock_stanza() -> None:
    data = age.encode_header([age.Stanza("X25519", ("abc",), b"k" * 32)], bytes(16)) + bytes(32)
    with pytest.raises(FormatError, match="no tlock stanza"):
        unseal_bytes(data)


def test_chain_info_must_match_its_hash() -> None:
    forged = dataclasses.replace(CHAIN, period=30)
    with pytest.raises(FormatError, match="does not match its hash"):
        seal_bytes(b"x", chain=forged)
    with pytest.raises(FormatError, match="does not match its hash"):
        unseal_bytes(seal_bytes(b"x"), chain=forged)


def test_chained_scheme_cannot_seal() -> None:
    chained = dataclasses.replace(CHAIN, scheme_id="pedersen-bls-chained")
    with pytest.raises(FormatError, match="cannot be used for timelock"):
        seal_bytes(b"x", chain=chained)


def test_round_must_be_positive() -> None:
    with pytest.raises(ValueError):
        seal_bytes(b"x", round=0)


def test_every_header_byte_is_protected() -> None:
    sealed = seal_bytes(b"the bid")
    header_len = payload_start(sealed)
    assert unseal_bytes(sealed) == b"the bid"
    for i in range(header_len):
        changed = bytearray(sealed)
        changed[i] ^= 0x01
        with pytest.raises(CryptoError):
            unseal_bytes(bytes(changed))


def test_changed_payload_bytes_fail_naming_the_chunk() -> None:
    data = os.urandom(3 * 65536 + 5)
    sealed = seal_bytes(data)
    start = payload_start(sealed)
    nonce_end = start + 16
    for offset, message in [
        (start, "payload chunk 0 failed"),  # the nonce changes the payload key
        (nonce_end + 3, "payload chunk 0 failed"),
        (nonce_end + 65552 + 65551, "payload chunk 1 failed"),
        (len(sealed) - 1, "payload chunk 3 failed"),
    ]:
        changed = bytearray(sealed)
        changed[offset] ^= 0x10
        with pytest.raises(IntegrityError, match=message):
            unseal_bytes(bytes(changed))


def test_changed_mac_fails() -> None:
    sealed = bytearray(seal_bytes(b"x"))
    at = sealed.index(b"\n--- ") + 6
    sealed[at] = ord("A") if sealed[at] != ord("A") else ord("B")
    with pytest.raises(IntegrityError, match="header MAC does not match"):
        unseal_bytes(bytes(sealed))


def test_truncation_is_detected() -> None:
    sealed = seal_bytes(os.urandom(2 * 65536 + 7))
    start = payload_start(sealed)
    with pytest.raises(IntegrityError, match="truncated: it ends after chunk 1"):
        unseal_bytes(sealed[: start + 16 + 2 * 65552])
    with pytest.raises(IntegrityError, match="nonce is incomplete"):
        unseal_bytes(sealed[: start + 5])
    with pytest.raises(IntegrityError, match="payload is missing"):
        unseal_bytes(sealed[:start])


def test_armored_truncation_and_trailing_data() -> None:
    sealed = seal_bytes(b"x" * 1000, armor=True)
    with pytest.raises(FormatError, match="no END line"):
        unseal_bytes(sealed[: sealed.index(b"-----END")])
    with pytest.raises(FormatError, match="after the armor END"):
        unseal_bytes(sealed + b"more\n")
    assert unseal_bytes(sealed.replace(b"\n", b"\r\n")) == b"x" * 1000


def test_empty_plaintext_is_one_empty_final_chunk() -> None:
    sealed = seal_bytes(b"")
    start = payload_start(sealed)
    assert len(sealed) - start == 16 + 16  # nonce + one empty chunk (its tag)
    assert unseal_bytes(sealed) == b""


def test_tlock_js_style_empty_file_is_refused() -> None:
    """tlock-js 0.9.0 writes no chunk for an empty plaintext; we refuse it as a missing payload.

    Accepting it would let anyone who can cut a stored bid after its nonce turn it into a valid
    empty bid instead of a visibly damaged one.
    """
    sealed = seal_bytes(b"")
    no_chunk = sealed[:-16]
    with pytest.raises(IntegrityError, match="payload is missing.*tlock-js") as info:
        unseal_bytes(no_chunk)
    assert "\n" not in str(info.value)


def test_progress() -> None:
    seen: list[int] = []
    out = io.BytesIO()
    tlock.seal(io.BytesIO(bytes(65536 + 1)), out, CHAIN, ROUND, progress=seen.append)
    assert seen == [65536, 65537]
    seen.clear()
    tlock.unseal(io.BytesIO(out.getvalue()), io.BytesIO(), CHAIN, SIGNATURE, progress=seen.append)
    assert seen == [65536, 65537]


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True])
def test_seal_file_and_unseal_file(tmp_path: Path, armor: bool) -> None:
    data = os.urandom(3 * 65536 + 5)
    (tmp_path / "bid.pdf").write_bytes(data)
    tlock.seal_file(tmp_path / "bid.pdf", tmp_path / "bid.age", CHAIN, ROUND, armor=armor)
    tlock.unseal_file(tmp_path / "bid.age", tmp_path / "opened.pdf", CHAIN, SIGNATURE)
    assert (tmp_path / "opened.pdf").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bid.age", "bid.pdf", "opened.pdf"]


@pytest.mark.parametrize("where", ["header", "last chunk"])
def test_unseal_file_leaves_nothing_on_error(tmp_path: Path, where: str) -> None:
    data = os.urandom(3 * 65536 + 5)
    sealed = bytearray(seal_bytes(data))
    sealed[40 if where == "header" else len(sealed) - 3] ^= 0x01
    (tmp_path / "bid.age").write_bytes(bytes(sealed))
    with pytest.raises(CryptoError):
        tlock.unseal_file(tmp_path / "bid.age", tmp_path / "opened.pdf", CHAIN, SIGNATURE)
    assert [p.name for p in tmp_path.iterdir()] == ["bid.age"]


def test_unseal_file_wrong_signature_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "bid.age").write_bytes(seal_bytes(b"x"))
    with pytest.raises(BadSignatureError):
        tlock.unseal_file(tmp_path / "bid.age", tmp_path / "out", CHAIN, bls.sign_round(SCHEME, SECRET, 1))
    assert [p.name for p in tmp_path.iterdir()] == ["bid.age"]


def test_seal_file_leaves_nothing_on_error(tmp_path: Path) -> None:
    (tmp_path / "bid.pdf").write_bytes(b"x")
    with pytest.raises(FormatError):
        tlock.seal_file(tmp_path / "bid.pdf", tmp_path / "bid.age", dataclasses.replace(CHAIN, period=9), ROUND)
    assert [p.name for p in tmp_path.iterdir()] == ["bid.pdf"]


# --- streaming memory ------------------------------------------------------------------------

_MEMORY_CHILD = textwrap.dedent(
    """
    import dataclasses, hashlib, io, resource, sys, tempfile
    from crypto import bls, tlock
    from crypto.chain import ChainInfo

    SIZE = 200 * 1024 * 1024

    class Source(io.RawIOBase):
        '''Deterministic bytes generated on the fly: never more than one buffer in memory.'''
        def __init__(self):
            self.left = SIZE
            self.block = hashlib.sha256(b"seed").digest() * 2048
            self.hash = hashlib.sha256()
        def readable(self):
            return True
        def readinto(self, buf):
            n = min(len(buf), self.left, len(self.block))
            buf[:n] = self.block[:n]
            self.hash.update(self.block[:n])
            self.left -= n
            self.block = self.block[7:] + self.block[:7]
            return n

    class Sink:
        def __init__(self):
            self.hash = hashlib.sha256()
            self.size = 0
        def write(self, data):
            self.hash.update(data)
            self.size += len(data)
            return len(data)

    secret = bls.generate_secret()
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    info = ChainInfo(bls.public_key(scheme, secret), 3, 1700000000, "0" * 64, bytes(32), scheme.id, "mem")
    chain = dataclasses.replace(info, hash=info.computed_hash())
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    before = rss()
    src = Source()
    with tempfile.TemporaryFile(dir=sys.argv[1]) as sealed:
        tlock.seal(src, sealed, chain, 5, armor=sys.argv[2] == "armor")
        sealed.seek(0)
        sink = Sink()
        tlock.unseal(sealed, sink, chain, bls.sign_round(scheme, secret, 5))
    assert sink.size == SIZE and sink.hash.digest() == src.hash.digest()
    print(rss() - before)
    """
)


@pytest.mark.parametrize("mode", ["binary", "armor"])
def test_large_file_streams_in_constant_memory(tmp_path: Path, mode: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(tmp_path), mode],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    growth_mb = float(result.stdout.strip())
    assert growth_mb < 20, f"peak RSS grew by {growth_mb:.1f} MB while sealing and opening 200 MB"
