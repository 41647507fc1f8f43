"""`pingbiao backup DEST` and `pingbiao restore SRC`: a copy of an installation — its database, its
data directory (keys, blob store of bid files, recordings, beacon) and its audit log — with a
manifest naming the log's checked size and root, so a restore can prove it brought back the same log.

The database is copied by the backend's own consistent snapshot: SQLite's online backup API (safe
next to a running server), PostgreSQL's pg_dump in its custom format (types, sequences and
constraints as the server has them; a logical export through SQLAlchemy would have to re-implement
that). The data directory is copied after the snapshot: blobs are content-addressed and only ever
added, so every blob the snapshot refers to is in the copy. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web.config import Settings
from web.errors import UsageError

MANIFEST = "manifest.json"
FORMAT = "pingbiao-backup/1"
_SQLITE_FILES = {"pingbiao.db", "pingbiao.db-wal", "pingbiao.db-shm", "pingbiao.db-journal"}


def add_backup_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("backup", help="back up the database, the data directory and the audit log (备份)")
    add_common(p)
    p.add_argument("dest", metavar="DEST", help="a new (or empty) directory for the backup")
    p = sub.add_parser("restore", help="restore a backup into an empty data directory and database (恢复)")
    add_common(p)
    p.add_argument("src", metavar="SRC", help="the backup directory")


def run_backup_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "backup":
        return backup(settings, Path(args.dest))
    return restore(settings, Path(args.src))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress(label: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def _is_sqlite(settings: Settings) -> bool:
    return settings.effective_database_url.startswith("sqlite")


def _pg_url(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (the driver suffix dropped)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        raise UsageError(f"这不是 PostgreSQL 数据库地址 not a PostgreSQL URL: {scheme}://…")
    return f"postgresql://{rest}"


def _empty_dir(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"目标目录不是空的，请指定新的或空的目录 {what} {path} is not empty; give a new or empty directory")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_tree(src: Path, dest: Path, skip: set[str]) -> dict[str, str]:
    """Copy the regular files under src (but the top-level names in skip) to dest with their modes;
    returns relative path → sha256 of what was written."""
    files = [p for p in _files(src) if p.relative_to(src).parts[0] not in skip]
    sums: dict[str, str] = {}
    for i, path in enumerate(files, 1):
        rel = path.relative_to(src)
        target = dest / rel
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(path, target)
        sums[rel.as_posix()] = _sha256(target)
        _progress("copying files", i, len(files))
    return sums


async def _log_figures(settings: Settings) -> tuple[int, str]:
    """The audit log's size and root, checked in full; UsageError (one line) when the database
    cannot be read as a pingbiao database."""
    from sqlalchemy.exc import SQLAlchemyError

    from web.cli.installation import existing_log

    try:
        async with existing_log(settings) as (_engine, log, _vkey):
            report = await log.check_everything()
    except (SQLAlchemyError, OSError) as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"数据库中没有可读取的审计日志 the database holds no readable pingbiao audit log: {first[:200]}") from None
    return report.size, report.root.hex()


def backup(settings: Settings, dest: Path) -> int:
    src = settings.data_dir
    if not (src / "log.key").exists():
        raise UsageError(f"这不是平台的数据目录（没有日志密钥） {src} is not a data directory of an installation (no log.key)")
    _empty_dir(dest, "backup directory")
    created = not dest.exists()
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return _backup(settings, src, dest)
    except BaseException:  # nothing partial left behind
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            _clear(dest)
        raise


def _clear(path: Path) -> None:
    for child in list(path.iterdir()):
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _backup(settings: Settings, src: Path, dest: Path) -> int:
    data = dest / "data"
    data.mkdir(mode=0o700)
    manifest: dict[str, Any] = {"format": FORMAT}
    if _is_sqlite(settings):
        _say("snapshotting the SQLite database")
        db_src = src / "pingbiao.db"
        target = data / "pingbiao.db"
        with sqlite3.connect(f"file:{db_src}?mode=ro", uri=True) as source, sqlite3.connect(target) as copy:
            source.backup(copy, pages=1024, progress=lambda _s, left, total: _progress("database pages", total - left, total))
        copy.close()
        os.chmod(target, 0o600)
        manifest["database"] = "sqlite"
        manifest["files"] = _copy_tree(src, data, _SQLITE_FILES)
        # The log as the snapshot holds it: checked in the copy itself.
        size, root = asyncio.run(_log_figures(_at(settings, data, sqlite=True)))
        for extra in _SQLITE_FILES - {"pingbiao.db"}:
            (data / extra).unlink(missing_ok=True)
        manifest["database_sha256"] = _sha256(target)
    else:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise UsageError("未安装 pg_dump，请安装 PostgreSQL 客户端工具 pg_dump is not installed; install the PostgreSQL client tools")
        url = _pg_url(settings.effective_database_url)
        before = asyncio.run(_log_figures(settings))
        _say(f"dumping the PostgreSQL database ({before[0]} audit entries)")
        dump = dest / "database.pgdump"
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}", url], "pg_dump")
        after = asyncio.run(_log_figures(settings))
        if after != before:
            raise UsageError("备份期间审计日志有新记录，请重新备份（或在空闲时备份） the audit log grew during the dump; run the backup again (or at a quieter time)")
        size, root = before
        manifest["database"] = "postgresql"
        manifest["database_sha256"] = _sha256(dump)
        manifest["files"] = _copy_tree(src, data, _SQLITE_FILES)
    manifest["audit_log"] = {"size": size, "root": root}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    print(f"backed up {len(manifest['files'])} files and the audit log ({size} entries, root {root}) to {dest}")
    return 0


def _at(settings: Settings, data_dir: Path, *, sqlite: bool) -> Settings:
    from dataclasses import replace

    return replace(settings, data_dir=data_dir, database_url="" if sqlite else settings.database_url)


def _run(cmd: list[str], name: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or "").strip().splitlines() if ln.strip()]
        raise UsageError(f"{name}执行失败 {name} failed: {lines[0] if lines else f'exit {done.returncode}'}")


def _read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise UsageError(f"这不是备份目录（没有备份清单） {src} is not a backup (no {MANIFEST})") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"备份清单不是有效的 JSON {src / MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UsageError(f"备份清单的格式不对 {src / MANIFEST} is not a {FORMAT} manifest")
    return manifest


async def _pg_is_empty(url: str) -> bool:
    from sqlalchemy import text

    from evaluation.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            n = await conn.scalar(text(
                "select count(*) from information_schema.tables where table_schema = current_schema()"
            ))
    finally:
        await engine.dispose()
    return not n


_DROPPABLE = {"TABLE": "table", "VIEW": "view", "MATERIALIZED VIEW": "materialized view", "SEQUENCE": "sequence",
              "TYPE": "type", "DOMAIN": "domain"}


def _pg_objects(pg_restore: str, dump: Path) -> list[tuple[str, str, str]]:
    """(kind, schema, name) of the tables, views, sequences and types the dump creates, from its
    table of contents (``pg_restore --list``: ``id; tableoid oid KIND schema name owner``)."""
    done = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True)
    found = []
    for line in done.stdout.splitlines():
        if line.startswith(";") or "; " not in line:
            continue
        words = line.split("; ", 1)[1].split()[2:]
        for kind in sorted(_DROPPABLE, key=len, reverse=True):
            parts = kind.split()
            if words[:len(parts)] == parts and len(words) >= len(parts) + 2:
                found.append((kind, words[len(parts)], words[len(parts) + 1]))
                break
    return found


async def _pg_unload(url: str, objects: list[tuple[str, str, str]]) -> None:
    """Drop what a restore created (the target held no table before it), in one transaction."""
    from sqlalchemy import text

    from evaluation.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for kind, schema, name in sorted(objects, key=lambda o: list(_DROPPABLE).index(o[0])):
                quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))
                await conn.execute(text(f"drop {_DROPPABLE[kind]} if exists {quoted} cascade"))
    finally:
        await engine.dispose()


def restore(settings: Settings, src: Path) -> int:
    manifest = _read_manifest(src)
    target = settings.data_dir
    _empty_dir(target, "data directory")
    files = manifest.get("files") or {}
    for rel, digest in files.items():  # the backup itself, before anything is written
        path = src / "data" / rel
        if ".." in Path(rel).parts or not path.is_file() or _sha256(path) != digest:
            raise UsageError(f"备份文件缺失或在备份后被改动 backup file {rel} is missing or changed since the backup")
    sqlite = manifest.get("database") == "sqlite"
    db_copy = src / ("data/pingbiao.db" if sqlite else "database.pgdump")
    if not db_copy.is_file() or _sha256(db_copy) != manifest.get("database_sha256"):
        raise UsageError("数据库副本缺失或在备份后被改动 the database copy is missing or changed since the backup")
    if sqlite and settings.database_url and not _is_sqlite(settings):
        raise UsageError("此备份是 SQLite 数据库，请恢复到不设 database_url 的数据目录 this backup holds a SQLite database; restore it into a data directory without database_url")
    if not sqlite:
        if _is_sqlite(settings):
            raise UsageError("此备份是 PostgreSQL 数据库，请将 database_url 设为一个空的 PostgreSQL 数据库 this backup holds a PostgreSQL database; set database_url to an empty PostgreSQL database")
        dump = db_copy
        if not asyncio.run(_pg_is_empty(settings.effective_database_url)):
            raise UsageError("目标 PostgreSQL 数据库不是空的，请恢复到空数据库 the target PostgreSQL database is not empty; restore into an empty one")
        pg_restore = shutil.which("pg_restore")
        if pg_restore is None:
            raise UsageError("未安装 pg_restore，请安装 PostgreSQL 客户端工具 pg_restore is not installed; install the PostgreSQL client tools")
    created = not target.exists()
    loaded = False  # the PostgreSQL dump is in the target database (to be undone on failure)
    try:
        settings.ensure_data_dir()
        for i, rel in enumerate(files, 1):
            dest = target / rel
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copy2(src / "data" / rel, dest)
            _progress("restoring files", i, len(files))
        if sqlite:
            _say("restoring the SQLite database")
            shutil.copy2(src / "data" / "pingbiao.db", target / "pingbiao.db")
            os.chmod(target / "pingbiao.db", 0o600)
        else:
            _say("restoring the PostgreSQL database (one transaction: all of it or nothing)")
            url = _pg_url(settings.effective_database_url)
            _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                  f"--dbname={url}", str(dump)], "pg_restore")
            loaded = True
        size, root = asyncio.run(_log_figures(settings))
        want = manifest.get("audit_log") or {}
        if (size, root) != (want.get("size"), want.get("root")):
            raise UsageError(f"恢复后的审计日志与备份不符，已全部撤销 restored audit log ({size} entries, root {root}) differs from the backup's "
                             f"({want.get('size')}, {want.get('root')}); nothing was kept")
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            _clear(target)
        if loaded:
            asyncio.run(_pg_unload(settings.effective_database_url, _pg_objects(pg_restore, dump)))
        raise
    print(f"restored {len(files)} files; audit log verified: {size} entries, root {root}, as recorded in the backup")
    return 0
