"""`pingbiao backup` / `restore` through the real command line: a data directory holding a tender
with opened bids (the fast demo) is backed up, restored into a fresh directory, the app started
against the copy serves the same record, its audit log checks against the manifest's size and root,
and every bid file reads back byte for byte. Restoring over a non-empty target is refused."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from evaluation.accounts.account import Role
from evaluation.db import make_engine
from evaluation.tenders.blobstore import BlobStore
from tests import pg
from tests.web.signin import make_account, sign_in
from web.app import create_app
from web.config import Settings
from web.demo.data import DEMO_PASSWORD


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PINGBIAO_DATA_DIR": "", **(env or {})})


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("source") / "data"
    done = _cli("demo", "--fast", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    return data


def _bids(data: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data / "pingbiao.db") as db:
        return db.execute("select tender_id, sha256 from bid order by id").fetchall()


async def test_backup_restore_sqlite(played: Path, tmp_path: Path, aiohttp_client: Any) -> None:
    backup, restored = tmp_path / "backup", tmp_path / "restored"
    done = _cli("backup", "--data-dir", str(played), str(backup))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"] == "sqlite" and manifest["audit_log"]["size"] > 0

    done = _cli("restore", "--data-dir", str(restored), str(backup))
    assert done.returncode == 0, done.stderr
    log = manifest["audit_log"]
    assert f"{log['size']} entries, root {log['root']}" in done.stdout

    check = _cli("audit", "check", "--data-dir", str(restored))
    assert check.returncode == 0, check.stderr
    assert f"ok: {log['size']} entries" in check.stdout and log["root"] in check.stdout

    bids = _bids(restored)
    assert bids and bids == _bids(played)
    source, copy = BlobStore(played / "blobs"), BlobStore(restored / "blobs")
    kept = [sha for _, sha in bids if source.exists(sha)]
    for sha in kept:  # sealed files may be erased after the opening; those kept come back identical
        with source.open(sha) as a, copy.open(sha) as b:
            data = b.read()
            assert data == a.read() and hashlib.sha256(data).hexdigest() == sha
    assert sorted(p.name for p in (played / "blobs").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (restored / "blobs").rglob("*") if p.is_file())

    tender = bids[0][0]
    records = []
    for data_dir in (played, restored):  # the app started against each serves the same record
        client = await aiohttp_client(create_app(Settings(data_dir=data_dir, beacon_period=1, log_origin="demo.pingbiao.local/audit")))
        ready = await client.get("/readyz")
        assert ready.status == 200, await ready.text()
        await sign_in(client, "agency", DEMO_PASSWORD)
        answer = await client.get(f"/api/tenders/{tender}/record")
        assert answer.status == 200, await answer.text()
        records.append(await answer.json())
        await client.close()
    assert records[0] == records[1]

    again = _cli("restore", "--data-dir", str(restored), str(backup))
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "not empty" in again.stderr


def test_tampered_backup_refused_and_nothing_left(played: Path, tmp_path: Path) -> None:
    backup, target = tmp_path / "backup", tmp_path / "target"
    assert _cli("backup", "--data-dir", str(played), str(backup)).returncode == 0
    blob = next(p for p in (backup / "data" / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(blob.read_bytes() + b"x")
    done = _cli("restore", "--data-dir", str(target), str(backup))
    assert done.returncode == 1 and "changed since the backup" in done.stderr and "Traceback" not in done.stderr
    assert not target.exists()
    busy = _cli("backup", "--data-dir", str(played), str(backup))
    assert busy.returncode == 1 and "not empty" in busy.stderr


# -- PostgreSQL ------------------------------------------------------------------------------------



@pytest.fixture
async def scratch_databases() -> Any:
    """A factory of fresh PostgreSQL databases (their URLs), all dropped afterwards."""
    async with pg.scratch_databases("t_backup") as scratch:
        yield lambda: _url_of(scratch)


async def _url_of(scratch: pg.ScratchDatabases) -> str:
    return scratch.url(await scratch.make())


async def _tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text(
                "select table_name from information_schema.tables where table_schema = current_schema() order by 1"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


def _pg_env(url: str) -> dict[str, str]:
    return {"PINGBIAO_DATABASE_URL": url, "PINGBIAO_ALLOW_LOCAL_BEACON": "true"}


async def _served(aiohttp_client: Any, data_dir: Path, url: str, tender: str) -> tuple[Any, Any]:
    """What the app started on (data_dir, url) serves of the tender and of the audit log."""
    app = create_app(Settings(data_dir=data_dir, database_url=url, allow_local_beacon=True, beacon_period=1))
    client = await aiohttp_client(app)
    assert (await client.get("/readyz")).status == 200
    await sign_in(client, "agency-pg")
    detail = await (await client.get(f"/api/tenders/{tender}")).json()
    await client.close()
    return detail, app


@pytest.mark.postgres
async def test_backup_restore_postgresql(aiohttp_client: Any, tmp_path: Path, scratch_databases: Any) -> None:
    source_url, target_url = await scratch_databases(), await scratch_databases()
    data = tmp_path / "data"
    app = create_app(Settings(data_dir=data, database_url=source_url, allow_local_beacon=True, beacon_period=1))
    client = await aiohttp_client(app)
    await make_account(app, Role.agency, username="agency-pg")
    csrf = await sign_in(client, "agency-pg")
    made = await client.post("/api/tenders", headers={"X-CSRF-Token": csrf}, json={
        "title": "备份测试项目", "budget_fen": 5_000_000, "opening_time": int(time.time()) + 3600, "min_bids": 3})
    assert made.status == 201, await made.text()
    tender = (await made.json())["id"]
    assert (await client.post(f"/api/tenders/{tender}/publish", headers={"X-CSRF-Token": csrf})).status == 200
    await client.close()

    backup, restored = tmp_path / "backup", tmp_path / "restored"
    done = _cli("backup", "--data-dir", str(data), str(backup), env=_pg_env(source_url))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"] == "postgresql" and manifest["audit_log"]["size"] >= 3

    done = _cli("restore", "--data-dir", str(restored), str(backup), env=_pg_env(target_url))
    assert done.returncode == 0, done.stderr
    log = manifest["audit_log"]
    assert f"{log['size']} entries, root {log['root']}" in done.stdout
    check = _cli("audit", "check", "--data-dir", str(restored), env=_pg_env(target_url))
    assert check.returncode == 0 and log["root"] in check.stdout, check.stderr
    assert await _tables(target_url) == await _tables(source_url)
    before, _ = await _served(aiohttp_client, data, source_url, tender)
    after, _ = await _served(aiohttp_client, restored, target_url, tender)
    assert after == before and after["title"] == "备份测试项目"

    again = _cli("restore", "--data-dir", str(tmp_path / "other"), str(backup), env=_pg_env(target_url))
    assert again.returncode == 1 and "not empty" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.postgres
async def test_failed_postgresql_restore_leaves_nothing(aiohttp_client: Any, tmp_path: Path, scratch_databases: Any) -> None:
    source_url = await scratch_databases()
    data = tmp_path / "data"
    app = create_app(Settings(data_dir=data, database_url=source_url, allow_local_beacon=True, beacon_period=1))
    client = await aiohttp_client(app)
    await make_account(app, Role.agency, username="agency-pg")
    await client.close()
    backup = tmp_path / "backup"
    assert _cli("backup", "--data-dir", str(data), str(backup), env=_pg_env(source_url)).returncode == 0
    tables = await _tables(source_url)

    # pg_restore fails part-way: a type already holds the name of the last table it creates.
    target_url = await scratch_databases()
    engine = make_engine(target_url)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'create type "{tables[-1]}" as enum (\'x\')'))
    await engine.dispose()
    done = _cli("restore", "--data-dir", str(tmp_path / "t1"), str(backup), env=_pg_env(target_url))
    assert done.returncode == 1 and "pg_restore failed" in done.stderr, done.stderr
    assert done.stderr.count("pingbiao: error:") == 1 and "Traceback" not in done.stderr
    assert await _tables(target_url) == []  # one transaction: none of the tables before the failure stay
    assert not (tmp_path / "t1").exists()

    # pg_restore succeeds but the restored log is not the one the manifest names: undone too.
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["audit_log"]["root"] = "00" * 32
    (backup / "manifest.json").write_text(json.dumps(manifest))
    target_url = await scratch_databases()
    done = _cli("restore", "--data-dir", str(tmp_path / "t2"), str(backup), env=_pg_env(target_url))
    assert done.returncode == 1 and "differs from the backup" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert await _tables(target_url) == [] and not (tmp_path / "t2").exists()
    retry = _cli("restore", "--data-dir", str(tmp_path / "t3"), str(backup), env=_pg_env(target_url))
    assert "not empty" not in retry.stderr  # the database is empty again: a corrected restore can go on
