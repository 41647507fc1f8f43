"""Checks of the stored log against what was signed (审计日志校验): the rows against their leaves,
the leaves against the tree, the tree against the signed checkpoint (docs/audit-log.md, "What is
checked, and when").

- ``row_entry``: an entry as served is its leaf; the query columns (time, tender, actor, kind,
  payload) must re-encode to exactly the stored leaf bytes, or the row is refused.
- ``prove``: served entries are proven in the tree of a signed checkpoint (inclusion proofs
  from the stored nodes, folded here), so a leaf changed together with its columns is refused too.
- ``check_log``: the start-up check. It re-checks only what is new since the last passed check
  (rows, leaf hashes and every node completed since, recomputed from the leaves) plus the
  signed checkpoint's root against the stored nodes, the nodes of the checked part included.
  When that fails it checks everything from entry 0, to name the first bad entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from crypto import merkle
from crypto.checkpoint import Checkpoint
from crypto.errors import CryptoError
from crypto.note import Verifier, open_note
from crypto.proof import root_from_inclusion_proof
from evaluation.audit import store
from evaluation.audit.entry import Actor, Entry, LeafError, format_time, leaf_of_fields, leaf_of_text
from evaluation.errors import IntegrityFailure, Text

PAGE = 10_000
"""Entries read per query by the start-up check."""


def _moment(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc).replace(microsecond=us % 1_000_000)


def row_entry(row: Any) -> Entry:
    """The entry an ``audit_entry`` row holds, refused (IntegrityFailure naming it) unless its
    columns re-encode to exactly its leaf: what is shown is what the leaf says."""
    leaf = bytes(row.leaf)
    moment = _moment(row.time_us)
    try:
        actor = Actor(row.actor_account, row.actor_role)
        if leaf_of_fields(row.idx, moment, row.tender_id, actor, row.kind, row.payload) != leaf:
            raise LeafError("不符")
        payload = json.loads(row.payload)
    except (LeafError, ValueError, TypeError):
        raise IntegrityFailure("第 {index} 条记录的存储内容与其签名数据不符", index=row.idx) from None
    return Entry(row.idx, moment, row.tender_id, actor, row.kind, payload, leaf)


@dataclass(frozen=True)
class Signed:
    """A checkpoint whose note verified with the log's key: its size and root are the signed ones."""

    size: int
    root: bytes


def open_checkpoint(note: bytes, size: int, root: bytes, verifier: Verifier) -> Signed:
    """The signed size and root of a stored checkpoint row; IntegrityFailure unless its note
    verifies with `verifier` and says the row's `size` and `root`."""
    try:
        checkpoint = Checkpoint.parse(open_note(note, [verifier]).text)
    except CryptoError as exc:
        raise IntegrityFailure("检查点签名核验不通过（检查点含 {size} 条）：{reason}", size=size, reason=str(exc)) from None
    if (checkpoint.origin, checkpoint.size, checkpoint.root) != (verifier.name, size, root):
        raise IntegrityFailure("检查点记录与其签名不符（检查点含 {size} 条）", size=size)
    return Signed(size, root)


async def prove(conn: AsyncConnection, entries: Sequence[Entry], signed: Signed) -> None:
    """Check that every entry's leaf is at its index in the tree of `signed` (entries beyond it
    are the caller's to leave out). One lookup for all the proofs' nodes."""
    plans = [(e, merkle.inclusion_nodes(e.index, signed.size)) for e in entries]
    wanted = list({node for _, nodes in plans for node in nodes.ids})
    hashes = dict(zip(wanted, await store.node_hashes(conn, wanted)))
    for entry, nodes in plans:
        proof = nodes.rehash([hashes[n] for n in nodes.ids])
        if root_from_inclusion_proof(entry.leaf_hash, entry.index, signed.size, proof) != signed.root:
            raise IntegrityFailure("第 {index} 条记录不在已签名的检查点中（检查点含 {size} 条）", index=entry.index, size=signed.size)


@dataclass(frozen=True)
class CheckReport:
    size: int
    root: bytes
    checked_from: int
    """First entry whose rows and nodes were checked (0: all of them)."""
    border: list[bytes]
    """Hashes of ``merkle.range_nodes(size)``, as verified."""


async def check_log(conn: AsyncConnection, signed: Signed, since: tuple[int, bytes] | None) -> CheckReport:
    """The start-up check of the first ``signed.size`` entries (see the module doc). `since` is the
    ``(size, root)`` of the last passed check. Raises IntegrityFailure naming the first bad entry."""
    start = 0 if since is None or since[0] > signed.size else since[0]
    if start:
        try:
            border = await store.node_hashes(conn, merkle.range_nodes(start))
            if merkle.fold_range(border) != since[1]:  # type: ignore[index]
                raise IntegrityFailure("节点已改变")
            return await _check_from(conn, start, border, signed)
        except IntegrityFailure:
            pass  # something is wrong: check everything, to name the first bad entry
    return await _check_from(conn, 0, [], signed)


async def _check_from(conn: AsyncConnection, start: int, border: list[bytes], signed: Signed) -> CheckReport:
    """Check entries ``[start, signed.size)`` given the verified compact range `border` of the first
    `start`: each row against its leaf, each node completed since recomputed and compared, no
    entry or node missing or extra, and the grown range folding to the signed root."""
    size = signed.size
    border = list(border)
    sha256 = hashlib.sha256
    n = start
    last_us, time_text = None, ""
    while n < size:
        end = min(n + PAGE, size)
        rows = await store.raw_entry_rows(conn, n, end)
        stored = await store.node_rows(conn, n, end)
        computed: list[tuple[int, bytes]] = []
        for idx, time_us, tender_id, account, role, kind, payload_text, stored_leaf in rows:
            if idx != n:
                raise IntegrityFailure("数据库中缺少第 {n} 条记录（第 {prev} 条之后是第 {found} 条）", n=n, prev=n - 1, found=idx)
            if time_us != last_us:  # a batch shares one time: format it once
                last_us, time_text = time_us, format_time(_moment(time_us))
            leaf = bytes(stored_leaf)
            try:
                same = leaf_of_text(idx, time_text, tender_id, account, role, kind, payload_text) == leaf
            except (TypeError, ValueError):
                same = False
            if not same:
                raise IntegrityFailure("第 {index} 条记录的存储内容与其签名数据不符", index=idx)
            h = sha256(b"\x00" + leaf).digest()
            computed.append((n << store.LEVEL_BITS, h))
            level, m = 0, n + 1
            while not m & 1:
                level += 1
                m >>= 1
                h = sha256(b"\x01" + border.pop() + h).digest()
                computed.append((n << store.LEVEL_BITS | level, h))
            border.append(h)
            n += 1
        if n < end:
            raise IntegrityFailure("数据库中缺少第 {n} 条记录（检查点含 {size} 条）", n=n, size=size)
        if stored != computed:
            raise IntegrityFailure(_node_problem(stored, computed))
    if merkle.fold_range(border) != signed.root:
        raise IntegrityFailure("存储的记录与已签名的检查点不符，记录可能被改动（检查点含 {size} 条）", size=size)
    return CheckReport(size, signed.root, start, border)


def _node_problem(stored: list[tuple[int, bytes]], computed: list[tuple[int, bytes]]) -> Text:
    """Name the entry of the first node that differs between the stored and the recomputed ones."""
    for (got_key, got), (want_key, want) in zip(stored, computed):
        if got_key != want_key or got != want:
            key = min(got_key, want_key)
            break
    else:
        key = (stored if len(stored) > len(computed) else computed)[min(len(stored), len(computed))][0]
    leaf, level = key >> store.LEVEL_BITS, key & ((1 << store.LEVEL_BITS) - 1)
    if level == 0:
        return Text("第 {index} 条记录存储的叶哈希与该记录不符", index=leaf)
    first = leaf - (1 << level) + 1
    return Text("第 {first}–{last} 条记录之上存储的树节点（第 {level} 层）与这些记录不符", first=first, last=leaf, level=level)
