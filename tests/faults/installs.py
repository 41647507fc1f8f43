"""Installations for the fault tests: one built once (a template), then copied for every run so
that each run starts from the same rows, keys, blobs and beacon — the same ids too, so a run's
record can be compared with an uninterrupted run's by kind and payload.

SQLite: the data directory (which holds the database file) is copied. PostgreSQL: the data
directory is copied and the database is made with ``CREATE DATABASE … TEMPLATE``."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.beacon import LocalBeacon
from evaluation.audit.store import entry_table
from evaluation.db import make_engine
from tests.faults.procs import Launcher, Serve
from web.config import Settings

ORIGIN = "test.example/audit"


@dataclass
class Install:
    data_dir: Path
    database_url: str  # "" for SQLite in the data directory

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url, beacon_period=1, log_origin=ORIGIN,
                        allow_local_beacon=True, janus="off", allow_unrecorded="true")  # faults of the data, not the media

    def env(self) -> dict[str, str]:
        env = {"PINGBIAO_DATA_DIR": str(self.data_dir), "PINGBIAO_LOG_ORIGIN": ORIGIN, "PINGBIAO_BEACON_PERIOD": "1",
               "PINGBIAO_ALLOW_LOCAL_BEACON": "true", "PINGBIAO_LOG_FORMAT": "json",
               "PINGBIAO_ALLOW_UNRECORDED": "true"}
        if self.database_url:
            env["PINGBIAO_DATABASE_URL"] = self.database_url
        return env

    def engine(self) -> AsyncEngine:
        return make_engine(self.settings().effective_database_url)

    def serve(self, log_name: str = "serve.log", launcher: Launcher | None = None) -> Serve:
        return Serve(self.env(), self.data_dir.parent / log_name, launcher)

    def new_beacon(self) -> LocalBeacon:
        """A local beacon of period 1 s whose genesis is in the past, saved where the app looks."""
        beacon = LocalBeacon.create(period=1, genesis_time=int(time.time()) - 100)
        self.settings().ensure_data_dir()
        beacon.save(self.settings().beacon_dir)
        return beacon


class Copier:
    """Copies of a template installation under `root`; on PostgreSQL through `admin` (AUTOCOMMIT)."""

    def __init__(self, root: Path, admin: AsyncEngine | None, db_url: Any = None) -> None:
        self.root, self.admin, self._db_url, self.made = root, admin, db_url, []  # type: list[str]
        self.template: Install | None = None
        self._template_db = ""

    async def new(self, name: str) -> Install:
        """An empty installation (the template when first built)."""
        directory = self.root / name
        directory.mkdir(parents=True)
        url = ""
        if self.admin is not None:
            db = f"faults_{uuid.uuid4().hex[:12]}"
            async with self.admin.connect() as conn:
                await conn.execute(sa.text(f"create database {db}"))
            self.made.append(db)
            url = self._db_url(db)
            self._template_db = db
        return Install(directory / "data", url)

    async def copy(self, template: Install, name: str) -> Install:
        directory = self.root / name
        directory.mkdir(parents=True)
        shutil.copytree(template.data_dir, directory / "data")
        url = ""
        if self.admin is not None:
            source = template.database_url.rsplit("/", 1)[1]
            db = f"faults_{uuid.uuid4().hex[:12]}"
            async with self.admin.connect() as conn:
                await conn.execute(sa.text(f"create database {db} template {source}"))
            self.made.append(db)
            url = self._db_url(db)
        return Install(directory / "data", url)

    async def forget(self, install: Install) -> None:
        """Drop a copy no longer needed (its database; its directory stays for the test's report)."""
        if self.admin is None or not install.database_url:
            return
        name = install.database_url.rsplit("/", 1)[1]
        async with self.admin.connect() as conn:
            await conn.execute(sa.text(f"drop database if exists {name} with (force)"))
        self.made.remove(name)

    async def drop_all(self) -> None:
        if self.admin is None:
            return
        async with self.admin.connect() as conn:
            for name in self.made:
                await conn.execute(sa.text(f"drop database if exists {name} with (force)"))


async def entries_after(engine: AsyncEngine, base: int, tender_ids: set[str] | None = None) -> list[tuple[str, str | None, Any]]:
    """(kind, tender, payload) of every entry from index `base` on, in log order."""
    c = entry_table.c
    query = sa.select(c.kind, c.tender_id, c.payload).where(c.idx >= base).order_by(c.idx)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(r.kind, r.tender_id, json.loads(r.payload)) for r in rows if tender_ids is None or r.tender_id in tender_ids]


async def log_size(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(entry_table))).scalar_one())
