"""The audit log (审计日志): one writer task, durable batched appends, proofs and receipts.

Every append goes through one asyncio task, so indices are assigned in one place. The task drains
its queue into a batch and writes, in ONE transaction: each request's domain change (its
``apply``, inside a SAVEPOINT), the entries, the new tree nodes and a newly signed checkpoint.
Only after the commit are the callers' futures resolved, so an acknowledged entry is durable and
covered by a signed checkpoint.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time as _time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto import merkle
from crypto.checkpoint import Checkpoint
from crypto.note import Signer, Verifier, open_note, sign_note
from crypto.proof import verify_inclusion
from evaluation.audit import store
from evaluation.audit.check import CheckReport, Signed, check_log, open_checkpoint, prove, row_entry
from evaluation.audit.entry import Entry, EntryDraft, canonical_payload, make_entries
from evaluation.errors import ConflictError, IntegrityFailure, InvalidRequest, NotFoundError

log = logging.getLogger(__name__)

Apply = Callable[[AsyncConnection], Awaitable[None]]
"""A domain change run in the append's transaction, before its entry is written."""

MAX_BATCH = 2000


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint (检查点) as served: its size and root, and the signed note bytes."""

    size: int
    root: bytes
    note: bytes


@dataclass(frozen=True)
class Receipt:
    """Proof that an entry is in the log: the entry, its inclusion proof, the checkpoint it is under."""

    entry: Entry
    proof: list[bytes]
    checkpoint: SignedCheckpoint

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_json(),
            "tree_size": self.checkpoint.size,
            "proof": [base64.b64encode(h).decode() for h in self.proof],
            "checkpoint": self.checkpoint.note.decode(),
        }

    def verify(self, verifier: Verifier) -> None:
        """Check the note signature, the checkpoint it carries and the inclusion proof.

        Raises crypto errors (IntegrityError subclasses, FormatError) on failure.
        """
        note = open_note(self.checkpoint.note, [verifier])
        checkpoint = Checkpoint.parse(note.text)
        if (checkpoint.size, checkpoint.root) != (self.checkpoint.size, self.checkpoint.root):
            raise IntegrityFailure("回执的检查点与其签名不符")
        verify_inclusion(self.entry.leaf_hash, self.entry.index, checkpoint.size, self.proof, checkpoint.root)


@dataclass
class _Request:
    drafts: list[EntryDraft]
    apply: Apply | None
    future: asyncio.Future[list[Entry]] = field(repr=False)


APPEND_LOCK = 0x70626C67  # "pblg": PostgreSQL advisory lock held by the writer of each batch


class AuditLog:
    """The audit log of one installation. ``await start()`` before use, ``await stop()`` at the end."""

    def __init__(self, engine: AsyncEngine, origin: str, signer: Signer, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self.origin = origin
        self._signer = signer
        self._verifier = signer.verifier()
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._size = 0
        self._range: list[bytes] = []  # hashes of merkle.range_nodes(size): the right border
        self._last_us = 0
        self._checkpoint: SignedCheckpoint | None = None
        self.last_check: CheckReport | None = None
        """What the start-up check covered (None before it, or for a new log)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, readonly: bool = False) -> None:
        """Check the stored log against its latest signed checkpoint, load it, start the writer.

        The check (evaluation/audit/check.py) covers the entries appended since the last passed
        check and the checkpoint's root against the stored nodes; it is remembered, so start-up
        does not grow with the log. Requires the schema to exist (``evaluation.db.create_schema``).
        Raises IntegrityFailure, one line naming the first bad entry, when the log does not match.
        With `readonly`, no writer starts and nothing is written (not even the check's mark): the
        log is a snapshot at its latest checkpoint (for exports next to a running server); it
        raises NotFoundError if the log has never been started.
        """
        if self._task is not None:
            raise ConflictError("审计日志已启动")
        try:
            await self._check(record=not readonly)
            await self._load(check_entries=not readonly)
        except IntegrityFailure as exc:
            raise IntegrityFailure("审计日志校验失败：{problem}", problem=exc.text) from None
        if readonly:
            if self._checkpoint is None:
                raise NotFoundError("审计日志还没有检查点，请先启动一次平台")
            return
        if self._checkpoint is None:  # a new log: sign the empty tree
            async with self._engine.begin() as conn:
                self._checkpoint = await self._sign(conn, 0, merkle.EMPTY_ROOT)
        self._task = asyncio.create_task(self._run(), name="audit-log-writer")
        log.info("audit log started", extra={"origin": self.origin, "size": self._size})

    async def stop(self) -> None:
        """Let the writer finish what is queued, then end it."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None
        log.info("audit log stopped", extra={"origin": self.origin, "size": self._size})

    async def _check(self, *, record: bool) -> None:
        """The start-up check of the latest checkpoint; with `record`, remember that it passed."""
        async with self._engine.connect() as conn:  # the check only reads
            row = await store.latest_checkpoint(conn)
            if row is None:
                return
            signed = open_checkpoint(row.note.encode(), row.size, row.root, self._verifier)
            since = await store.latest_check(conn)
            report = self.last_check = await check_log(conn, signed, since)
        if record and (since is None or since[0] < report.size):
            # Its mark in a write transaction of its own, begun as a writer: two processes starting
            # together on SQLite would otherwise both hold a read and deadlock upgrading it.
            async with self._engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
                await store.record_check(conn, report.size, report.root, _time.time_ns() // 1000)
        log.info("audit log checked", extra={"size": report.size, "from": report.checked_from})

    async def check_everything(self) -> CheckReport:
        """The start-up check from entry 0, whatever was checked before (``pingbiao audit check``):
        every row against its leaf, every node recomputed, the root against the signed checkpoint.
        Reads only. Raises IntegrityFailure naming the first bad entry."""
        if self._checkpoint is None:
            raise ConflictError("审计日志尚未启动")
        async with self._engine.connect() as conn:
            return await check_log(conn, self._signed(), None)

    async def _load(self, *, check_entries: bool = True) -> None:
        async with self._engine.connect() as conn:
            await self._load_from(conn, check_entries=check_entries)

    async def _load_from(self, conn: AsyncConnection, *, check_entries: bool = True) -> None:
        # The checkpoint first: the nodes it needs are permanent, so this stays consistent even
        # when another process appends between the statements.
        row = await store.latest_checkpoint(conn)
        size = 0 if row is None else row.size
        if row is not None:
            open_checkpoint(row.note.encode(), row.size, row.root, self._verifier)
        border = await store.node_hashes(conn, merkle.range_nodes(size))
        last_us = await store.last_time_us(conn, size)
        stored = await store.log_size(conn) if check_entries else size
        root = merkle.fold_range(border)
        if stored != size or (row is not None and row.root != root):
            raise IntegrityFailure(
                "存储的审计日志与最新的检查点不符：存有 {stored} 条记录，节点给出的根为 {root}，检查点含 {size} 条",
                stored=stored, root=root.hex(), size=size,
            )
        self._size, self._range, self._last_us = size, border, last_us
        self._checkpoint = None if row is None else SignedCheckpoint(row.size, row.root, row.note.encode())

    # -- appends ---------------------------------------------------------------------------

    async def append(self, draft: EntryDraft, apply: Apply | None = None) -> Entry:
        """Append one entry; with `apply`, run it in the same transaction first (both or neither).

        Returns once the entry is committed under a signed checkpoint. An exception raised by
        `apply` is raised here and nothing of this request is stored.
        """
        return (await self._submit([draft], apply))[0]

    async def append_many(self, drafts: Sequence[EntryDraft], apply: Apply | None = None) -> list[Entry]:
        """Append several entries at consecutive indices, atomically, in order."""
        if not drafts:
            return []
        return await self._submit(list(drafts), apply)

    async def _submit(self, drafts: list[EntryDraft], apply: Apply | None) -> list[Entry]:
        if self._task is None or self._task.done():
            raise ConflictError("审计日志未在运行（未启动、已停止或只读）")
        for draft in drafts:
            if not isinstance(draft, EntryDraft):
                raise InvalidRequest("内部错误：记录草稿类型不对（收到 {type}）", type=type(draft).__name__)
        future: asyncio.Future[list[Entry]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(drafts, apply, future))
        return await future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch, count = [first], len(first.drafts)
            while count < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                count += len(item.drafts)
            try:
                await self._commit(batch)
            except Exception as exc:  # the whole transaction failed: tell every caller, reload state
                log.error("audit log batch failed", extra={"entries": count, "error": repr(exc)})
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                try:
                    await self._load()
                except Exception as reload_exc:  # keep serving; the next batch will report
                    log.error("audit log reload failed", extra={"error": repr(reload_exc)})

    async def _lock(self, conn: AsyncConnection) -> None:
        """Hold the log's write lock for this transaction and catch up with other processes.

        Several processes (app workers, a `pingbiao` command next to a running server) may share
        one database; each has its own writer. The lock (SQLite: the database write lock taken by
        BEGIN IMMEDIATE; PostgreSQL: a transaction advisory lock) serialises their batches, and a
        writer that finds entries it did not write reloads the right border (O(log n) reads)
        before assigning indices, so no index is ever assigned twice.
        """
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
        if await store.log_size(conn) != self._size:
            await self._load_from(conn)
            log.info("audit log caught up with another writer", extra={"size": self._size})

    async def _commit(self, batch: list[_Request]) -> None:
        done: list[tuple[_Request, list[Entry]]] = []
        failed: list[tuple[_Request, BaseException]] = []
        rows: list[tuple[Any, ...]] = []
        nodes: list[tuple[int, bytes]] = []  # (store node key, hash) of every subtree completed
        sha256 = hashlib.sha256
        async with self._engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            await self._lock(conn)
            size, border = self._size, list(self._range)
            now_us = max(_time.time_ns() // 1000, self._last_us)
            moment = datetime.fromtimestamp(now_us // 1_000_000, tz=timezone.utc).replace(microsecond=now_us % 1_000_000)
            for request in batch:
                if request.future.cancelled():
                    continue
                if request.apply is not None:
                    try:
                        async with conn.begin_nested():
                            await request.apply(conn)
                    except Exception as exc:
                        failed.append((request, exc))
                        continue
                made = []
                for entry, payload_text in make_entries(size, moment, request.drafts):
                    # merkle.hashes_on_append, inlined: the leaf and each subtree it completes all
                    # end at leaf `size`, so their keys are size·64 + level (store.node_key).
                    h = sha256(b"\x00" + entry.leaf).digest()
                    nodes.append((size << store.LEVEL_BITS, h))
                    level, m = 0, size + 1
                    while not m & 1:
                        level += 1
                        m >>= 1
                        h = sha256(b"\x01" + border.pop() + h).digest()
                        nodes.append((size << store.LEVEL_BITS | level, h))
                    border.append(h)
                    rows.append(_row(entry, now_us, payload_text))
                    made.append(entry)
                    size += 1
                done.append((request, made))
            checkpoint = self._checkpoint
            if rows:
                await store.insert_entries(conn, rows)
                await store.insert_nodes(conn, nodes)
                checkpoint = await self._sign(conn, size, merkle.fold_range(border))
        self._size, self._range, self._last_us, self._checkpoint = size, border, now_us, checkpoint
        log.debug("audit log batch committed", extra={"entries": len(rows), "size": size})
        for request, made in done:
            if not request.future.done():
                request.future.set_result(made)
        for request, exc in failed:
            if not request.future.done():
                request.future.set_exception(exc)

    async def _sign(self, conn: AsyncConnection, size: int, root: bytes) -> SignedCheckpoint:
        note = sign_note(Checkpoint(self.origin, size, root).to_bytes(), [self._signer])
        row = store.CheckpointRow(size, root, note.decode(), _time.time_ns() // 1000)
        await store.insert_checkpoint(conn, row)
        return SignedCheckpoint(size, root, note)

    # -- reads -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the single writer (which appends and signs checkpoints) is running."""
        return self._task is not None and not self._task.done()

    @property
    def size(self) -> int:
        """Number of committed entries under the newest checkpoint this process has seen."""
        return 0 if self._checkpoint is None else self._checkpoint.size

    async def latest_checkpoint(self) -> SignedCheckpoint:
        """The newest signed checkpoint; it covers every committed entry. Requires a started log."""
        if self._checkpoint is None:
            raise ConflictError("审计日志尚未启动")
        async with self._engine.connect() as conn:
            row = await store.latest_checkpoint(conn)
        current = self._checkpoint
        if row is not None and current is not None and row.size > current.size:
            # Another process appended: show its newer checkpoint once its note verifies (reads
            # only; the writer catches up under the lock before its next batch).
            open_checkpoint(row.note.encode(), row.size, row.root, self._verifier)
            self._checkpoint = SignedCheckpoint(row.size, row.root, row.note.encode())
        return self._checkpoint

    def _signed(self) -> Signed:
        """The checkpoint served entries are proven against (its note verified when it was set)."""
        if self._checkpoint is None:
            raise ConflictError("审计日志尚未启动")
        return Signed(self._checkpoint.size, self._checkpoint.root)

    async def _checked(self, conn: AsyncConnection, rows: Sequence[Any], signed: Signed) -> list[Entry]:
        """The entries of `rows`, each refused unless its columns are its leaf and its leaf is in
        the tree of `signed` (evaluation/audit/check.py): nothing unchecked is served."""
        entries = [row_entry(r) for r in rows]
        await prove(conn, entries, signed)
        return entries

    async def entries(self, start: int, end: int) -> list[Entry]:
        """Entries ``start <= index < end``, checked against their leaves and the latest checkpoint.
        Requires ``0 <= start <= end <= size``. Raises IntegrityFailure naming a bad entry."""
        signed = self._signed()
        if not 0 <= start <= end <= signed.size:
            raise InvalidRequest("所请求的记录范围超出审计日志（请求 [{start}, {end})，日志共 {size} 条）", start=start, end=end, size=signed.size)
        async with self._engine.connect() as conn:
            rows = await store.entry_rows(conn, start, end)
            if len(rows) != end - start:
                raise IntegrityFailure("数据库中缺少所请求的记录（[{start}, {end})）", start=start, end=end)
            return await self._checked(conn, rows, signed)

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of entries ``start <= index < end``. Requires ``0 <= start <= end <= size``."""
        if not 0 <= start <= end <= self.size:
            raise InvalidRequest("所请求的记录范围超出审计日志（请求 [{start}, {end})，日志共 {size} 条）", start=start, end=end, size=self.size)
        async with self._engine.connect() as conn:
            return await store.leaves(conn, start, end)

    async def entry(self, index: int) -> Entry:
        """Entry `index`. Raises NotFoundError when ``index >= size``."""
        self._check_index(index, self.size)
        return (await self.entries(index, index + 1))[0]

    async def entries_for_tender(
        self,
        tender_id: str,
        *,
        until_index: int | None = None,
        until_time: datetime | None = None,
        kinds: Sequence[str] | None = None,
        actor: str | None = None,
    ) -> list[Entry]:
        """A tender's entries in log order, up to `until_index` / `until_time` (inclusive), under the
        latest checkpoint (re-read, so entries another process committed are included), each
        checked as ``entries`` checks them."""
        await self.latest_checkpoint()
        signed = self._signed()
        if signed.size == 0:
            return []
        until_index = signed.size - 1 if until_index is None else min(until_index, signed.size - 1)
        until_us = None
        if until_time is not None:
            if until_time.tzinfo is None:
                raise InvalidRequest("截止时间须带时区")
            until_us = _to_us(until_time)
        async with self._engine.connect() as conn:
            rows = await store.tender_rows(
                conn, tender_id, until_index=until_index, until_time_us=until_us, kinds=kinds, actor=actor
            )
            return await self._checked(conn, rows, signed)

    async def root_at(self, size: int) -> bytes:
        """Root of the first `size` entries. Requires ``0 <= size <= self.size``."""
        if not 0 <= size <= self.size:
            raise InvalidRequest("所请求的条数超出审计日志（请求 {size} 条，日志共 {have} 条）", size=size, have=self.size)
        async with self._engine.connect() as conn:
            return merkle.fold_range(await store.node_hashes(conn, merkle.range_nodes(size)))

    async def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof of entry `index` in the tree of `size` entries (default: current size).

        Requires ``0 <= index < size <= self.size``. One query for about log2(size) node hashes.
        """
        size = self.size if size is None else size
        if not 0 < size <= self.size:
            raise InvalidRequest("所请求的条数超出审计日志（请求 {size} 条，日志共 {have} 条）", size=size, have=self.size)
        self._check_index(index, size)
        nodes = merkle.inclusion_nodes(index, size)
        async with self._engine.connect() as conn:
            return nodes.rehash(await store.node_hashes(conn, nodes.ids))

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """Consistency proof from `size1` to `size2`. Requires ``0 < size1 <= size2 <= self.size``."""
        if not 0 < size1 <= size2 <= self.size:
            raise InvalidRequest(
                "无法给出这两个条数之间的一致性证明（{size1} 到 {size2}，须 0 < size1 <= size2 <= {size}）",
                size1=size1, size2=size2, size=self.size,
            )
        nodes = merkle.consistency_nodes(size1, size2)
        async with self._engine.connect() as conn:
            return nodes.rehash(await store.node_hashes(conn, nodes.ids))

    async def receipt(self, index: int) -> Receipt:
        """Entry `index`, its inclusion proof and the latest signed checkpoint, which covers it."""
        checkpoint = await self.latest_checkpoint()
        self._check_index(index, checkpoint.size)
        entry = await self.entry(index)
        return Receipt(entry, await self.inclusion_proof(index, checkpoint.size), checkpoint)

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if index < 0:
            raise InvalidRequest("记录序号不能为负数（收到 {index}）", index=index)
        if index >= size:
            raise NotFoundError("第 {index} 条记录尚不存在（日志共 {size} 条）", index=index, size=size)


def _to_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _row(entry: Entry, time_us: int, payload_text: str | None = None) -> tuple[Any, ...]:
    """The ``audit_entry`` row of `entry` (store.ENTRY_COLUMNS order); `payload_text` is its canonical
    payload JSON when already at hand."""
    if payload_text is None:
        payload_text = canonical_payload(entry.payload)
    actor = entry.actor
    return (entry.index, time_us, entry.tender_id, actor.account, actor.role, entry.kind, payload_text, entry.leaf)

