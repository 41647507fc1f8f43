"""The committed browser bundles web/static/vendor/pingbiao-seal.js and pingbiao-seal-worker.js:
fresh, and opening in Python.

* A rebuild from js/ (scripts/build-js into a temporary directory) must give the committed bytes,
  so nobody ships a bundle that is stale against js/src/ or js/package-lock.json.
* The committed bundle, run in node, seals files that crypto.tlock opens, and builds the bid
  container that evaluation/tenders/bid_container.py reads (docs/tenders.md); the streamed sealing
  (hashDocuments + planSeal, what the worker runs) gives that container sealed, in parts.
  (tests/e2e runs it in Chromium, in the worker.)

Needs node; the rebuild also needs js/node_modules, installed by `scripts/build-js` (npm ci) when
missing. Without them the tests skip, or fail under CI=true.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from crypto import tlock
from crypto.beacon import LocalBeacon
from evaluation.tenders.bid_container import build_container, read_container
from tests.conftest import need, need_executable

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "web" / "static" / "vendor" / "pingbiao-seal.js"
WORKER_BUNDLE = ROOT / "web" / "static" / "vendor" / "pingbiao-seal-worker.js"
BUILD = ROOT / "scripts" / "build-js"
NODE_TIMEOUT = 60
BUILD_TIMEOUT = 300

# Loads the IIFE bundle as a browser would (it defines the global `pingbiao`), then runs one command.
DRIVER = r"""
const fs = require("node:fs");
const vm = require("node:vm");
const [bundle, command, chainPath, inPath, outPath, round] = process.argv.slice(1);
vm.runInThisContext(fs.readFileSync(bundle, "utf8"), { filename: "pingbiao-seal.js" });
(async () => {
  const chain = JSON.parse(fs.readFileSync(chainPath, "utf8"));
  if (command === "seal") {
    const checked = await pingbiao.checkChainInfo(chain);
    const sealed = await pingbiao.sealBytes(checked, Number(round), new Uint8Array(fs.readFileSync(inPath)));
    fs.writeFileSync(outPath, sealed);
  } else if (command === "container") {
    const spec = JSON.parse(fs.readFileSync(inPath, "utf8"));
    const files = spec.files.map((f) => new File([Buffer.from(f.b64, "base64")], f.name, { type: f.type }));
    fs.writeFileSync(outPath, await pingbiao.buildBidPayload(spec.record, files));
  } else if (command === "stream") {
    const spec = JSON.parse(fs.readFileSync(inPath, "utf8"));
    const files = spec.files.map((f) => new File([Buffer.from(f.b64, "base64")], f.name));
    const hashes = await pingbiao.hashDocuments(files, { partSize: spec.partSize, wholeHashLimit: 65536 });
    const plan = await pingbiao.planSeal(await pingbiao.checkChainInfo(chain), Number(round), spec.record, files, hashes,
      { partSize: spec.partSize });
    const parts = [];
    for await (const part of plan.parts()) parts.push({ offset: part.offset, size: part.bytes.length, last: part.last, bytes: Buffer.from(part.bytes) });
    fs.writeFileSync(outPath, Buffer.concat(parts.map((p) => p.bytes)));
    fs.writeFileSync(outPath + ".json", JSON.stringify({ size: plan.size, parts: parts.map(({ bytes, ...p }) => p) }));
  } else if (command === "round") {
    fs.writeFileSync(outPath, JSON.stringify([0, 1, 1.5, 2, 59, 60, 61].map(
      (dt) => pingbiao.roundForTime(chain, chain.genesis_time + dt))));
  }
})().catch((e) => { console.error(`${e.name}: ${e.message}`); process.exit(1); });
"""


def _node() -> str:
    return need_executable("node")


def test_committed_bundle_matches_a_fresh_build(tmp_path: Path) -> None:
    _node()
    need_executable("npm")
    installed = all(
        (ROOT / "js" / "node_modules" / name / "package.json").exists() for name in ("tlock-js", "esbuild")
    )
    args = [str(BUILD), "--out", str(tmp_path), *(["--no-install"] if installed else [])]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    if not installed and proc.returncode != 0:
        need(False, f"npm ci in js/ failed: {proc.stderr.strip()[-500:]}")
    assert proc.returncode == 0, proc.stderr
    for committed in (BUNDLE, WORKER_BUNDLE):
        fresh = tmp_path / committed.name
        assert fresh.read_bytes() == committed.read_bytes(), f"stale {committed.name}: run scripts/build-js and commit it"
        header = committed.read_text(encoding="utf-8").splitlines()[0]
        assert "tlock-js 0.9.0" in header and "scripts/build-js" in header


@pytest.fixture
def beacon() -> LocalBeacon:
    """A chain whose genesis is in the past, so rounds up to now can be signed at once."""
    return LocalBeacon.create(period=3, genesis_time=int(time.time()) - 300)


def _node_driver(
    tmp_path: Path, command: str, chain: dict, data: bytes, round: int = 0
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "chain.json").write_text(json.dumps(chain))
    (tmp_path / "in").write_bytes(data)
    files = [str(tmp_path / name) for name in ("chain.json", "in", "out")]
    args = [_node(), "-e", DRIVER, str(BUNDLE), command, *files, str(round)]
    return subprocess.run(args, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False)


def _run(tmp_path: Path, command: str, chain: dict, data: bytes, round: int = 0) -> bytes:
    proc = _node_driver(tmp_path, command, chain, data, round)
    assert proc.returncode == 0, proc.stderr
    return (tmp_path / "out").read_bytes()


@pytest.mark.parametrize("size", [0, 1, 65536, 3 * 65536 + 17])
def test_bundle_seals_what_python_opens(tmp_path: Path, beacon: LocalBeacon, size: int) -> None:
    plaintext = os.urandom(size)
    sealed = _run(tmp_path, "seal", beacon.chain.to_json(), plaintext, round=7)
    header = tlock.inspect(io.BytesIO(sealed))
    assert not header.armored and header.stanza_count == 1
    assert [(r.round, r.chain_hash) for r in header.recipients] == [(7, beacon.chain.hash)]
    chunks = max(1, -(-size // 65536))  # an empty plaintext still gets one (empty) final chunk
    header_len = sealed.index(b"\n", sealed.index(b"\n---") + 1) + 1
    assert len(sealed) == header_len + 16 + size + 16 * chunks
    opened = io.BytesIO()
    tlock.unseal(io.BytesIO(sealed), opened, beacon.chain, beacon.signature(7))  # type: ignore[arg-type]
    assert opened.getvalue() == plaintext


def test_bundle_refuses_chain_info_that_does_not_match_its_hash(tmp_path: Path, beacon: LocalBeacon) -> None:
    forged = {**beacon.chain.to_json(), "period": 30}
    proc = _node_driver(tmp_path, "seal", forged, b"x", 7)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ChainError: chain info does not match its hash {beacon.chain.hash[:16]}…"


def test_bundle_round_for_time_matches_python(tmp_path: Path, beacon: LocalBeacon) -> None:
    chain = beacon.chain
    rounds = json.loads(_run(tmp_path, "round", chain.to_json(), b""))
    assert rounds == [chain.round_not_before(chain.genesis_time + dt) for dt in [0, 1, 1.5, 2, 59, 60, 61]]


def test_bundle_builds_the_bid_container(tmp_path: Path, beacon: LocalBeacon) -> None:
    docs = [
        ("报价表.xlsx", "application/vnd.ms-excel", os.urandom(100_001)),
        ("空.txt", "", b""),
        ("a.bin", "", b"\0\1"),
    ]
    record = {"bidder": "甲公司", "total_price": "99.50", "lots": [1, 2], "note": 'line\n"quoted"\u2028'}
    spec = {
        "record": record,
        "files": [{"name": n, "type": t, "b64": base64.b64encode(b).decode()} for n, t, b in docs],
    }
    payload = _run(tmp_path, "container", beacon.chain.to_json(), json.dumps(spec).encode())
    # Byte for byte what the server's own builder makes, and what the opening reads.
    assert payload == build_container(record, [(n, b) for n, _, b in docs])
    manifest, digests = read_container(io.BytesIO(payload))
    assert manifest.record == record
    assert [(d.name, d.size, d.sha256) for d in manifest.documents] == [
        (n, len(b), hashlib.sha256(b).hexdigest()) for n, _, b in docs
    ]
    assert digests == [hashlib.sha256(b).hexdigest() for _, _, b in docs]


@pytest.mark.parametrize(
    ("name", "error"),
    [("a/b.pdf", "without slashes"), ("a\\b.pdf", "without slashes"), ("x" * 256, "1 to 255 characters")],
)
def test_bundle_refuses_document_names_the_opening_would_refuse(
    tmp_path: Path, beacon: LocalBeacon, name: str, error: str
) -> None:
    spec = {"record": {}, "files": [{"name": name, "type": "", "b64": ""}]}
    proc = _node_driver(tmp_path, "container", beacon.chain.to_json(), json.dumps(spec).encode())
    assert (
        proc.returncode == 1 and proc.stderr.startswith("TypeError: document name") and error in proc.stderr
    )



@pytest.mark.parametrize(
    "sizes",
    [[1], [2 * 65536 - 40], [300_001, 0, 65536 * 3], [65536 * 4 + 5, 17]],
    ids=["tiny", "across-a-chunk", "three-documents", "across-parts"],
)
def test_streamed_sealing_gives_the_container_sealed(tmp_path: Path, beacon: LocalBeacon, sizes: list[int]) -> None:
    docs = [(f"文件{i}.bin", os.urandom(n)) for i, n in enumerate(sizes)]
    record = {"bidder": "乙公司", "total_price": "1,268,000.00"}
    part_size = 2 * 65536  # small parts, so that documents and chunks straddle part boundaries
    # (and documents over 64 KiB are hashed part by part, the path of large documents)
    spec = {
        "record": record,
        "partSize": part_size,
        "files": [{"name": n, "b64": base64.b64encode(b).decode()} for n, b in docs],
    }
    sealed = _run(tmp_path, "stream", beacon.chain.to_json(), json.dumps(spec).encode(), round=9)
    plan = json.loads((tmp_path / "out.json").read_text())
    container = build_container(record, docs)
    assert plan["size"] == len(sealed)
    parts = plan["parts"]
    assert [p["offset"] for p in parts] == [sum(q["size"] for q in parts[:i]) for i in range(len(parts))]
    assert [p["last"] for p in parts] == [False] * (len(parts) - 1) + [True]
    assert len(parts) == -(-len(container) // part_size)
    opened = io.BytesIO()
    tlock.unseal(io.BytesIO(sealed), opened, beacon.chain, beacon.signature(9))  # type: ignore[arg-type]
    assert opened.getvalue() == container
