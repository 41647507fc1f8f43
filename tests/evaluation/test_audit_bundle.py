"""The offline bundle: export, verify, and every tampering caught with the first bad entry named."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crypto.checkpoint import Checkpoint
from crypto.note import Signer, generate_key, sign_note
from evaluation.audit.bundle import BundleError, export_bundle, verify_bundle
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.log import AuditLog
from evaluation.db import create_schema, make_engine
from tests.evaluation.conftest import ORIGIN
from tests.messages import CHINESE_FIRST

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def bundle(audit_log: AuditLog, signer, tmp_path: Path) -> tuple[Path, bytes]:  # noqa: ANN001
    """A bundle of 60 entries, and the signed checkpoint at size 25 (for --since)."""
    await audit_log.append_many([EntryDraft("k.a", {"n": i, "名": "值"}, f"T-{i % 4}", Actor("a", "agency")) for i in range(25)])
    old = (await audit_log.latest_checkpoint()).note
    await audit_log.append_many([EntryDraft("k.b", {"n": i}, None) for i in range(35)])
    out = tmp_path / "bundle"
    report = await export_bundle(audit_log, out, signer.verifier().to_key_text())
    assert report.size == 60
    return out, old


def lines(path: Path) -> list[bytes]:
    return (path / "entries.jsonl").read_bytes().splitlines(keepends=True)


def write(path: Path, rows: list[bytes]) -> None:
    (path / "entries.jsonl").write_bytes(b"".join(rows))


def check_fails(path: Path, message: str, since: bytes | None = None) -> None:
    with pytest.raises(BundleError) as caught:
        verify_bundle(path, since)
    assert CHINESE_FIRST.match(str(caught.value)) and message in str(caught.value), str(caught.value)


async def test_export_verifies(bundle: tuple[Path, bytes], audit_log: AuditLog) -> None:
    path, old = bundle
    report = verify_bundle(path, old, strict=True)
    assert (report.size, report.root, report.origin, report.since_size) == (60, (await audit_log.latest_checkpoint()).root, ORIGIN, 25)
    assert (path / "checkpoint").read_bytes() == (await audit_log.latest_checkpoint()).note


def _flip_leaf_byte(row: bytes) -> bytes:
    end = row.index(b'",', 9)
    leaf = bytearray(base64.b64decode(row[9:end]))
    leaf[-3] ^= 1
    return row[:9] + base64.b64encode(bytes(leaf)) + row[end:]


async def test_tampering_is_caught(bundle: tuple[Path, bytes]) -> None:
    path, old = bundle
    original = lines(path)

    write(path, original[:17] + [_flip_leaf_byte(original[17])] + original[18:])
    check_fails(path, "第 17 条记录与其签名数据不符")

    write(path, original[:17] + [original[17].replace(b'"n":17', b'"n":71')] + original[18:])
    check_fails(path, "第 17 条记录与其签名数据不符")

    write(path, original[:40] + original[41:])
    check_fails(path, "缺少第 40 条记录（在第 39 条之后见到第 41 条）")

    write(path, original[:30] + [original[31], original[30]] + original[32:])
    check_fails(path, "缺少第 30 条记录（在第 29 条之后见到第 31 条）")

    write(path, original[:50])
    check_fails(path, "审计包的记录不完整，缺少第 50 条（entries.jsonl 只有 50 条")

    write(path, original[:-1] + [original[-1][:-20]])
    check_fails(path, "第 59 条记录不完整（entries.jsonl 的末尾没有换行）")

    write(path, original)
    verify_bundle(path)
    vkey = (path / "log.vkey").read_text()
    (path / "log.vkey").write_text(generate_key(ORIGIN)[1] + "\n")
    check_fails(path, "检查点签名核验不通过：checkpoint 的签名不能用 log.vkey 核验")
    (path / "log.vkey").write_text(vkey)

    foreign = sign_note(Checkpoint(ORIGIN, 25, bytes(32)).to_bytes(), [Signer.from_key_text(generate_key(ORIGIN)[0])])
    check_fails(path, "检查点签名核验不通过：--since checkpoint 的签名不能用 log.vkey 核验", since=foreign)
    check_fails(path, "检查点文件无效：--since checkpoint（", since=_resign(b"not a checkpoint\n", old))


def _resign(text: bytes, like: bytes) -> bytes:
    """`text` signed by the key of the test log (the session signer)."""
    from tests.evaluation.conftest import SESSION_SIGNER

    assert like
    return sign_note(text, [SESSION_SIGNER])


async def test_rewritten_history_fails_since(audit_log: AuditLog, signer, tmp_path: Path) -> None:  # noqa: ANN001
    """A log that rewrote entry 3 after a checkpoint at 10 was published is caught by --since."""
    await audit_log.append_many([EntryDraft("k", {"n": i}) for i in range(10)])
    published = (await audit_log.latest_checkpoint()).note
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'forked.db'}")
    await create_schema(engine)
    forked = AuditLog(engine, ORIGIN, signer)
    await forked.start()
    await forked.append_many([EntryDraft("k", {"n": 33 if i == 3 else i}) for i in range(20)])
    await export_bundle(forked, tmp_path / "b", signer.verifier().to_key_text())
    await forked.stop()
    await engine.dispose()
    verify_bundle(tmp_path / "b")  # consistent by itself
    check_fails(tmp_path / "b", "审计包与起点检查点不一致，记录可能被改动：前 10 条记录给出的根为 ", published)


def pingbiao(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PINGBIAO_DATA_DIR": str(data_dir), "PINGBIAO_LOG_ORIGIN": ORIGIN}
    env.pop("PINGBIAO_CONFIG", None)
    env.pop("PINGBIAO_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


async def test_cli_export_and_verify(tmp_path: Path) -> None:
    from evaluation.audit.keys import load_or_create_signer

    data = tmp_path / "data"
    signer, _ = load_or_create_signer(data / "log.key", ORIGIN)
    assert (data / "log.key").stat().st_mode & 0o777 == 0o600
    engine = make_engine(f"sqlite+aiosqlite:///{(data / 'pingbiao.db').resolve()}")
    await create_schema(engine)
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    await log.append_many([EntryDraft("k", {"n": i}) for i in range(12)])
    await log.stop()
    await engine.dispose()

    out = tmp_path / "export"
    r = pingbiao(data, "audit", "export", str(out))
    assert r.returncode == 0, r.stderr
    r = pingbiao(data, "audit", "verify", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"ok: 12 entries, root ") and f"checkpoint signed by {ORIGIN}+" in r.stdout
    assert r.stdout.count("\n") == 1

    rows = lines(out)
    write(out, rows[:5] + rows[6:])
    r = pingbiao(data, "audit", "verify", str(out))
    assert r.returncode == 1
    assert r.stderr == "pingbiao: error: 缺少第 5 条记录（在第 4 条之后见到第 6 条）\n"

    r = pingbiao(data, "audit", "export", str(out))
    assert r.returncode == 1 and r.stderr.startswith("pingbiao: error: ") and "目标目录不是空的" in r.stderr
