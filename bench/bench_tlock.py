"""Benchmark timelock sealing: payload throughput against raw AEAD, memory, IBE rates, a bid opening.

Run from the repository root:  python bench/bench_tlock.py [--size-mb 256] [--bids 1000]

Prints plain lines, e.g. ``seal: 612.3 MB/s (raw AEAD 700.1 MB/s, 87%)``. Seal and unseal of the
large file each run in a child process so that their peak RSS (ru_maxrss) is their own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402

from crypto import bls, ibe, stream, tlock  # noqa: E402
from crypto.chain import ChainInfo  # noqa: E402

MB = 1024 * 1024
ROUND = 1000


def make_chain(secret: bytes) -> ChainInfo:
    """A made-up quicknet-scheme chain whose hash matches its fields."""
    scheme = bls.scheme_for("bls-unchained-g1-rfc9380")
    info = ChainInfo(
        public_key=bls.public_key(scheme, secret),
        period=3,
        genesis_time=1_700_000_000,
        hash="0" * 64,
        group_hash=bytes(32),
        scheme_id=scheme.id,
        beacon_id="bench",
    )
    return dataclasses.replace(info, hash=info.computed_hash())


def max_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_aead(size: int) -> tuple[float, float]:
    """MB/s of ChaCha20-Poly1305 encrypt_into / decrypt_into over 64 KiB chunks, no I/O."""
    aead = ChaCha20Poly1305(os.urandom(32))
    chunk = os.urandom(stream.CHUNK)
    out = bytearray(stream.ENCRYPTED_CHUNK)
    back = bytearray(stream.CHUNK)
    n = size // stream.CHUNK
    nonce = bytes(12)
    t = time.perf_counter()
    for _ in range(n):
        aead.encrypt_into(nonce, chunk, None, out)
    enc = size / MB / (time.perf_counter() - t)
    sealed = bytes(out)
    t = time.perf_counter()
    for _ in range(n):
        aead.decrypt_into(nonce, sealed, None, back)
    dec = size / MB / (time.perf_counter() - t)
    return enc, dec


class Discard:
    """A writer that drops everything (isolates the payload engine from disk writeback)."""

    def write(self, data: bytes) -> int:
        return len(data)


def child(op: str, secret_hex: str, src: str, dst: str) -> None:
    """Run one seal or unseal of a file and print {seconds, rss_before, rss_peak} as JSON.

    `dst` "-" discards the output instead of writing a file.
    """
    secret = bytes.fromhex(secret_hex)
    chain = make_chain(secret)
    scheme = bls.scheme_for(chain.scheme_id)
    signature = bls.sign_round(scheme, secret, ROUND)
    before = max_rss_mb()
    with contextlib.ExitStack() as stack:
        fin = stack.enter_context(open(src, "rb"))
        fout: BinaryIO = Discard() if dst == "-" else stack.enter_context(open(dst, "wb"))  # type: ignore[assignment]
        t = time.perf_counter()
        if op == "seal":
            tlock.seal(fin, fout, chain, ROUND)
        else:
            tlock.unseal(fin, fout, chain, signature)
        seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "rss_before": before, "rss_peak": max_rss_mb()}))


def run_child(op: str, secret: bytes, src: Path, dst: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", op, secret.hex(), str(src), str(dst)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def ibe_rates(secret: bytes, count: int) -> tuple[float, float]:
    """IBE encryptions/s, and openings/s including an uncached beacon signature verification."""
    chain = make_chain(secret)
    scheme = bls.scheme_for(chain.scheme_id)
    key = os.urandom(16)
    t = time.perf_counter()
    bodies = [ibe.encrypt(scheme, chain.public_key, ROUND + i, key) for i in range(count)]
    seal_rate = count / (time.perf_counter() - t)
    sigs = [bls.sign_round(scheme, secret, ROUND + i) for i in range(count)]
    bls.clear_caches()
    t = time.perf_counter()
    for i, (body, sig) in enumerate(zip(bodies, sigs)):
        bls.verify_beacon(chain, ROUND + i, sig)
        assert ibe.decrypt(scheme, sig, body) == key
    open_rate = count / (time.perf_counter() - t)
    return seal_rate, open_rate


def opening(secret: bytes, bids: int) -> tuple[float, float]:
    """Seconds to seal, and to unseal, `bids` small armored bids sealed to one round."""
    chain = make_chain(secret)
    scheme = bls.scheme_for(chain.scheme_id)
    signature = bls.sign_round(scheme, secret, ROUND)
    plain = [os.urandom(2000 + i) for i in range(bids)]
    t = time.perf_counter()
    sealed = []
    for data in plain:
        out = io.BytesIO()
        tlock.seal(io.BytesIO(data), out, chain, ROUND, armor=True)
        sealed.append(out.getvalue())
    seal_s = time.perf_counter() - t
    bls.clear_caches()
    t = time.perf_counter()
    for data, blob in zip(plain, sealed):
        out = io.BytesIO()
        tlock.unseal(io.BytesIO(blob), out, chain, signature)
        assert out.getvalue() == data
    return seal_s, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--bids", type=int, default=1000)
    parser.add_argument("--ibe", type=int, default=200, help="IBE operations to time")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    secret = bls.generate_secret()
    size = args.size_mb * MB
    enc_raw, dec_raw = raw_aead(size)
    with tempfile.TemporaryDirectory(prefix="bench-tlock-") as tmp:
        plain, sealed, opened = Path(tmp, "plain"), Path(tmp, "sealed.age"), Path(tmp, "opened")
        with open(plain, "wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(MB))
        s_disk = run_child("seal", secret, plain, sealed)
        u_disk = run_child("unseal", secret, sealed, opened)
        same = os.path.getsize(opened) == size
        s = run_child("seal", secret, plain, Path("-"))
        u = run_child("unseal", secret, sealed, Path("-"))
    seal_rate = size / MB / s["seconds"]
    unseal_rate = size / MB / u["seconds"]
    print(f"file: {args.size_mb} MB read from disk (page cache), output discarded, 64 KiB chunks")
    print(f"seal: {seal_rate:.1f} MB/s (raw AEAD {enc_raw:.1f} MB/s, {100 * seal_rate / enc_raw:.0f}%)")
    print(f"unseal: {unseal_rate:.1f} MB/s (raw AEAD {dec_raw:.1f} MB/s, {100 * unseal_rate / dec_raw:.0f}%)")
    print(
        f"file to file (output written to disk, includes writeback): seal {size / MB / s_disk['seconds']:.1f} MB/s, "
        f"unseal {size / MB / u_disk['seconds']:.1f} MB/s" + ("" if same else " OUTPUT SIZE MISMATCH")
    )
    print(f"seal peak RSS: {s['rss_peak']:.1f} MB (after imports {s['rss_before']:.1f} MB)")
    print(f"unseal peak RSS: {u['rss_peak']:.1f} MB (after imports {u['rss_before']:.1f} MB)")
    seal_ps, open_ps = ibe_rates(secret, args.ibe)
    print(f"IBE seal: {seal_ps:.0f}/s")
    print(f"IBE open (with beacon signature verification): {open_ps:.0f}/s")
    seal_s, open_s = opening(secret, args.bids)
    goal = "ok" if open_s < 5 else "over the 5 s goal"
    print(f"opening: {args.bids} armored bids of ~2 KB sealed to one round: unseal {open_s:.2f} s "
          f"({goal}; seal took {seal_s:.2f} s)")


if __name__ == "__main__":
    main()
