"""The `pingbiao` command as a person uses it: real processes, real files, the local beacon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PINGBIAO = [sys.executable, "-m", "web.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(data_dir: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PINGBIAO_DATA_DIR": str(data_dir)}
    env.pop("PINGBIAO_CONFIG", None)
    return subprocess.run([*PINGBIAO, *args], input=stdin, capture_output=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    r = run(d, "beacon", "init", "--period", "3")
    assert r.returncode == 0, r.stderr
    assert b"single-operator trust" in r.stderr
    return d


def test_beacon_init_refuses_to_replace(data_dir: Path) -> None:
    key = (data_dir / "beacon" / "beacon.key").read_bytes()
    r = run(data_dir, "beacon", "init")
    assert r.returncode == 1
    assert r.stderr.decode().startswith("pingbiao: error: a local beacon already exists")
    assert (data_dir / "beacon" / "beacon.key").read_bytes() == key


def test_beacon_info_prints_chain(data_dir: Path) -> None:
    r = run(data_dir, "beacon", "info")
    assert r.returncode == 0
    info = json.loads(r.stdout)
    assert info["schemeID"] == "bls-unchained-g1-rfc9380"
    assert info["hash"] == json.loads((data_dir / "beacon" / "chain-info.json").read_text())["hash"]


def test_seal_then_unseal_files(data_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "bid.txt"
    plain.write_bytes("总报价 1,268,000 元\n".encode() * 5000)
    sealed, opened = tmp_path / "bid.age", tmp_path / "out" / "bid.txt"
    r = run(data_dir, "seal", "--round", "1", "--force", str(plain), "-o", str(sealed))
    assert r.returncode == 0, r.stderr
    assert b"sealed to round 1" in r.stderr
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1\n-> tlock 1 ")
    r = run(data_dir, "unseal", str(sealed), "-o", str(opened))
    assert r.returncode == 0, r.stderr
    assert opened.read_bytes() == plain.read_bytes()


def test_pipes_and_armor(data_dir: Path) -> None:
    r = run(data_dir, "seal", "--round", "1", "--force", "--armor", stdin=b"hello tender")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert b"\r" not in r.stderr  # no progress output when not on a terminal
    r2 = run(data_dir, "unseal", stdin=r.stdout)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == b"hello tender"


def test_future_round_says_when(data_dir: Path, tmp_path: Path) -> None:
    sealed = tmp_path / "later.age"
    r = run(data_dir, "seal", "--at", "+2h", "-o", str(sealed), stdin=b"not yet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "later.txt"
    r = run(data_dir, "unseal", str(sealed), "-o", str(out))
    assert r.returncode == 1
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "has not been reached yet: it opens at" in lines[0]
    assert not out.exists()
    assert list(tmp_path.glob("*.partial")) == []


def test_past_round_refused_without_force(data_dir: Path) -> None:
    r = run(data_dir, "seal", "--round", "1", stdin=b"x")
    assert r.returncode == 1
    assert b"already been published" in r.stderr
    assert r.stdout == b""


def test_tampered_file_fails_and_leaves_nothing(data_dir: Path, tmp_path: Path) -> None:
    sealed = tmp_path / "bid.age"
    r = run(data_dir, "seal", "--round", "1", "--force", "-o", str(sealed), stdin=os.urandom(200_000))
    assert r.returncode == 0, r.stderr
    blob = bytearray(sealed.read_bytes())
    blob[-100] ^= 1
    sealed.write_bytes(bytes(blob))
    out = tmp_path / "bid.out"
    r = run(data_dir, "unseal", str(sealed), "-o", str(out))
    assert r.returncode == 1
    assert len(r.stderr.decode().strip().splitlines()) == 1
    assert b"Traceback" not in r.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_other_chain_is_named(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert run(other, "beacon", "init").returncode == 0
    sealed = tmp_path / "x.age"
    assert run(other, "seal", "--round", "1", "--force", "-o", str(sealed), stdin=b"x").returncode == 0
    r = run(data_dir, "unseal", str(sealed))
    assert r.returncode == 1
    assert b"sealed to chain" in r.stderr and b"--beacon" in r.stderr


def test_offline_seal_with_chain_info(data_dir: Path, tmp_path: Path) -> None:
    chain_file = data_dir / "beacon" / "chain-info.json"
    r = run(tmp_path / "elsewhere", "seal", "--chain-info", str(chain_file), "--round", "1", "--force", stdin=b"offline")
    assert r.returncode == 0, r.stderr
    r2 = run(data_dir, "unseal", stdin=r.stdout)
    assert r2.stdout == b"offline"


@pytest.mark.parametrize(
    "args, message",
    [
        (["seal", "--at", "next tuesday"], b"cannot read time"),
        (["unseal", "/nonexistent/file.age"], b"no such file"),
    ],
)
def test_bad_input_is_one_line(data_dir: Path, args: list[str], message: bytes) -> None:
    r = run(data_dir, *args, stdin=b"x")
    assert r.returncode != 0
    assert message in r.stderr
    assert b"Traceback" not in r.stderr


def test_fast_demo_writes_where_asked_and_its_log_exports_and_verifies(tmp_path: Path) -> None:
    """`demo --fast` honours the data directory, and `audit export` reads the log's origin from
    the directory (the demo's own origin), with no PINGBIAO_LOG_ORIGIN set."""
    data = tmp_path / "fast"
    r = run(data, "demo", "--fast")
    assert r.returncode == 0, r.stderr
    assert (data / "log.key").exists() and (data / "pingbiao.db").exists()
    bundle = tmp_path / "bundle"
    exported = run(data, "audit", "export", str(bundle))
    assert exported.returncode == 0, exported.stderr
    verified = run(data, "audit", "verify", str(bundle))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.decode().startswith("ok: ") and "demo.pingbiao.local/audit" in verified.stdout.decode()
