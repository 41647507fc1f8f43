"""The bundle verifier's fast path (lines checked where they lie in the block) accepts exactly what
the line-by-line checks accept, and names the same first problem: every bundle here is verified
twice, once as it is and once with the fast path switched off, and both must agree."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crypto import merkle
from crypto.checkpoint import Checkpoint
from crypto.note import sign_note
from evaluation.audit import bundle
from evaluation.audit.bundle import BundleError, bundle_line, verify_bundle
from evaluation.audit.entry import Actor, encode_leaf
from tests.evaluation.conftest import ORIGIN, SESSION_SIGNER

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
ACTORS = [Actor("a", "agency"), Actor('引号"}', "bidder"), Actor('x\\"},"index":0,', "bidder"), Actor("张三\\", "expert")]


def leaves(count: int) -> list[bytes]:
    """Leaves of varied shape: several actors (one with an escaped quote and a fake index in its
    name), lengths of every remainder mod 3, non-ASCII text, and one line far longer than the
    fast path takes."""
    out = []
    for n in range(count):
        payload = {"n": n, "text": "值" * (n % 7) + "x" * (n % 3)}
        if n == 13:
            payload["big"] = "y" * 70_000
        out.append(encode_leaf(n, T0, f"T-{n % 3}" if n % 5 else None, ACTORS[n % len(ACTORS)], "k.a", payload))
    return out


def write_bundle(directory: Path, lines: list[bytes], size: int, root: bytes) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "checkpoint").write_bytes(sign_note(Checkpoint(ORIGIN, size, root).to_bytes(), [SESSION_SIGNER]))
    (directory / "log.vkey").write_text(SESSION_SIGNER.verifier().to_key_text() + "\n")
    (directory / "entries.jsonl").write_bytes(b"".join(lines))


def outcome(directory: Path) -> str:
    try:
        return "ok " + verify_bundle(directory).root.hex()
    except BundleError as exc:
        return str(exc)


def both(directory: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    fast = outcome(directory)
    with monkeypatch.context() as patched:
        patched.setattr(bundle, "_hash_fast", lambda data, pos, *rest: pos)
        slow = outcome(directory)
    return fast, slow


@pytest.mark.parametrize("block", [1 << 22, 997, 64])
def test_fast_path_agrees_with_the_line_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(bundle, "_BLOCK", block)  # small blocks: lines cut by block boundaries
    data = leaves(40)
    root = merkle.root_from_data(data)
    lines = [bundle_line(leaf) for leaf in data]
    write_bundle(tmp_path, lines, len(data), root)
    assert both(tmp_path, monkeypatch) == (f"ok {root.hex()}",) * 2
    slow_lines: list[int] = []
    check_lines = bundle._check_lines
    with monkeypatch.context() as patched:
        patched.setattr(bundle, "_check_lines", lambda lines, n, *rest: slow_lines.append(n) or check_lines(lines, n, *rest))
        verify_bundle(tmp_path)
    assert slow_lines == [13]  # only the very long line leaves the fast path

    rng = random.Random(block)
    seen = set()
    for trial in range(150 if block > 1000 else 40):
        mutated = list(lines)
        i = rng.randrange(len(mutated))
        line = bytearray(mutated[i])
        kind = trial % 4
        at = rng.randrange(len(line))
        if kind == 0:  # one byte changed
            line[at] = rng.choice(b'{}",:\\=AZaz09+/\n x')
        elif kind == 1:  # one byte removed
            del line[at]
        elif kind == 2:  # one byte added
            line.insert(at, rng.choice(b'"\\,=Aa0\n'))
        else:  # the base64 text given a different (still valid) length, the fields left alone
            end = line.index(b'",', 9)
            line[9:end] = line[9:end] + b"AAAA" if trial % 8 == 3 else line[9 : end - 4]
        if bytes(line) == lines[i]:
            continue
        mutated[i] = bytes(line)
        write_bundle(tmp_path, mutated, len(data), root)
        fast, slow = both(tmp_path, monkeypatch)
        assert fast == slow, (i, bytes(line))
        assert not fast.startswith("ok"), (i, bytes(line))
        seen.add(fast.split(":")[0])
    assert len(seen) > 5  # the mutations hit many different entries and problems
