"""The opening (开标): unseal every current bid with the round's beacon and publish the record.

Resumable and idempotent. Each bid's result (opened with its record fields, or failed with the
reason) is one ``bid_opening`` row committed with its ``bid.opened`` / ``bid.open_failed`` entry;
a rerun skips bids that have a row. ``bids.unsealed`` and ``opening.record`` (and ``tender.failed``
for 流标) are appended once, with the state change ``opening -> opened -> confirming|failed``.
A bid that fails — cannot be unsealed, is not a valid container, or holds what the log or the
database refuses — is recorded as failed (开标失败) with its reason and its ciphertext's SHA-256,
and does not stop the others. Plaintext goes to an unlinked temporary file while it
is read; the documents it holds are stored as blobs only after the opening.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crypto import bls, tlock
from crypto.drand import Beacon
from crypto.errors import BeaconError, CryptoError, FormatError, IntegrityError, WrongChainError
from evaluation.audit.entry import SYSTEM, EntryDraft
from evaluation.errors import ConflictError, DomainError, InvalidRequest
from evaluation.inputs import printable
from evaluation.tenders.bid_container import (
    ContainerError,
    DocumentEntry,
    DocumentSink,
    Manifest,
    read_container,
)
from evaluation.tenders.blobstore import BlobStore, BlobWriter
from evaluation.tenders.collusion import document_metadata
from evaluation.tenders.lots import check_bid_record
from evaluation.tenders.rules import TenderSpec, TenderState, format_time, is_local_beacon, require_state
from evaluation.tenders.store import bid_rows, opening_rows, opening_table, signin_table
from evaluation.tenders.tender import Tender, TenderContext, get, load_for_update, set_state

log = logging.getLogger(__name__)


class _AlreadyOpened(Exception):
    """This bid already has its result row (a rerun or a concurrent run)."""


@dataclass(frozen=True)
class BidResult:
    """One line of the opening record (开标记录表)."""

    bid_id: str
    bidder: str
    bidder_name: str
    status: str  # "opened" | "failed"
    fields: dict[str, Any]
    documents: list[dict[str, Any]]
    reason: str | None
    seq: int
    lots: list[dict[str, Any]] = field(default_factory=list)  # a multi-lot bid: [{lot, name, price}]
    code: str | None = None  # why a bid failed, one of FAILURES (null for opened bids and older records)

    def to_json(self) -> dict[str, Any]:
        """The row as the record and the log hold it; ``lots`` only for a bid on a multi-lot tender
        (so the rows of older records read as they were logged)."""
        return {
            "seq": self.seq,
            "bid_id": self.bid_id,
            "bidder": self.bidder,
            "bidder_name": self.bidder_name,
            "status": self.status,
            "fields": self.fields,
            "documents": [{k: d[k] for k in ("name", "sha256", "size")} for d in self.documents],
            "reason": self.reason,
            **({"lots": self.lots} if self.lots else {}),
            **({"code": self.code} if self.code else {}),
        }


def result_from_row(row: Any, bidder: str, bidder_name: str) -> BidResult:
    return BidResult(
        row.bid_id, bidder, bidder_name, row.status, json.loads(row.fields), json.loads(row.documents), row.reason, row.seq,
        json.loads(row.lots) if row.lots else [], row.code,
    )


class _BlobSink(DocumentSink):
    def __init__(self, blobs: BlobStore, entry: DocumentEntry, out: list[dict[str, Any]]) -> None:
        self._writer: BlobWriter = blobs.writer(1 << 62)
        self._blobs, self._entry, self._out = blobs, entry, out

    def write(self, chunk: bytes) -> None:
        self._writer.write(chunk)

    def finish(self) -> None:
        stored = self._writer.commit_sync()
        with self._blobs.open(stored.sha256) as f:
            meta = {k: printable(v) for k, v in document_metadata(self._entry.name, f).items()}  # text from the bid
        self._out.append({"name": self._entry.name, "sha256": stored.sha256, "size": stored.size, "meta": meta})

    def abort(self) -> None:
        self._writer.abort()


FAILURES = {
    "tampered": "密文被篡改",
    "truncated": "文件不完整",
    "wrong_round": "时间锁轮次不符",
    "wrong_chain": "加密所用信标链不符",
    "not_sealed": "文件格式无法识别",
    "bad_container": "投标文件结构无效",
    "no_document": "投标文件不含任何非空文档",
    "bad_record": "投标文件内容不符合要求",
    "not_recorded": "开启后无法记录",
}
"""Why a bid could not be opened (开标失败): a stable code, decided where the failure is caught
and kept with the bid's result, and its label in the record (web/labels.py "open_failure")."""


class NoDocument(InvalidRequest):
    """The container holds no non-empty document."""


def failure_code(exc: Exception) -> str:
    """The FAILURES code of what `unseal_bid` raised (pure): by the error's class, and for an
    integrity failure whether the data ends early (truncated) or was changed (tampered)."""
    if isinstance(exc, WrongChainError):
        return "wrong_chain"
    if isinstance(exc, BeaconError):  # the beacon given is not the round the file is sealed to
        return "wrong_round"
    if isinstance(exc, IntegrityError):
        text = str(exc)
        return "truncated" if "truncated" in text or "payload is missing" in text else "tampered"
    if isinstance(exc, (FormatError, CryptoError)):
        return "not_sealed"
    if isinstance(exc, NoDocument):
        return "no_document"
    if isinstance(exc, ContainerError):
        return "bad_container"
    return "bad_record"


_LEGACY = (  # records logged before failures had codes: their reason text, as the hall used to read it
    (re.compile(r"truncated|incomplete|too short|unexpected end", re.I), "truncated"),
    (re.compile(r"drand chain", re.I), "wrong_chain"),
    (re.compile(r"round|beacon", re.I), "wrong_round"),
    (re.compile(r"MAC|changed|tamper|invalid proof|not a valid point|authentic|does not match", re.I), "tampered"),
    (re.compile(r"非空"), "no_document"),
    (re.compile(r"^not a valid bid: unsealed bid is not|container|manifest", re.I), "bad_container"),
    (re.compile(r"^not a valid bid", re.I), "bad_record"),
    (re.compile(r"^cannot be recorded", re.I), "not_recorded"),
)


def failure_of(row: dict[str, Any]) -> str | None:
    """A record row's failure code (pure): the stored one, or for an older row the one its reason
    reads as; None for an opened bid."""
    if row.get("status") == "opened":
        return None
    if row.get("code") in FAILURES:
        return str(row["code"])
    reason = str(row.get("reason") or "")
    return next((code for pattern, code in _LEGACY if pattern.search(reason)), "not_sealed")


def unseal_bid(
    blobs: BlobStore, chain: Any, signature: bytes, sha256: str, spec: TenderSpec
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Unseal blob `sha256` and read its container: (record values, lot rows, documents). Blocking.

    Raises CryptoError (cannot be unsealed) or InvalidRequest (not a valid bid) with the reason:
    no non-empty document, or a record (or, for a multi-lot tender, lot prices) the tender refuses.
    """
    record: dict[str, Any] = {}
    lots: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []

    def check(manifest: Manifest) -> None:
        if not any(d.size > 0 for d in manifest.documents):
            raise NoDocument("投标文件不含任何非空文档：至少须附一个非空文件")
        values, rows = check_bid_record(spec, manifest.record)
        record.update(values)
        lots.extend(rows)

    blobs.tmp_dir.mkdir(parents=True, exist_ok=True)
    with blobs.open(sha256) as src, tempfile.TemporaryFile(dir=blobs.tmp_dir) as plain:
        tlock.unseal(src, plain, chain, signature)
        plain.seek(0)
        read_container(plain, lambda e: _BlobSink(blobs, e, documents), check)
    return record, lots, documents


async def start(ctx: TenderContext, tender_id: str, beacon: Beacon) -> Tender:
    """``published -> opening`` with ``opening.started`` (round, signature). No-op if already past.

    Requires the verified beacon of the tender's round: raises InvalidRequest for another round
    and a crypto error for a signature that does not verify.
    """
    tender = await get(ctx, tender_id)
    if tender.state is not TenderState.PUBLISHED:
        return tender
    if beacon.round != tender.opening_round:
        raise InvalidRequest("时间信标的轮次与本项目的开标时间不符（信标轮次 {got}，本项目开标轮次 {round}）",
                             got=beacon.round, round=tender.opening_round)
    bls.verify_beacon(ctx.chain, beacon.round, beacon.signature)
    async with ctx.engine.connect() as conn:
        signins = [r.name for r in await conn.execute(sa.select(signin_table.c.name).where(signin_table.c.tender_id == tender_id).order_by(signin_table.c.at_us))]

    async def apply(conn: AsyncConnection) -> None:
        await set_state(conn, tender_id, TenderState.PUBLISHED, TenderState.OPENING)

    payload = {"round": beacon.round, "signature": beacon.signature.hex(), "chain": ctx.chain.hash}
    try:
        await ctx.audit.append(EntryDraft("opening.started", payload, tender_id, SYSTEM), apply=apply)
    except ConflictError:
        return await get(ctx, tender_id)
    ctx.notify(tender_id, {"type": "phase", "state": "opening", "round": beacon.round, "signins": signins})
    return await get(ctx, tender_id)


async def open_bids(
    ctx: TenderContext, tender_id: str, beacon: Beacon, *, only: set[str] | None = None, concurrency: int = 8
) -> list[BidResult]:
    """Open every current bid that has no result yet (or only those in `only`). Returns the new results."""
    tender = await get(ctx, tender_id)
    require_state(tender_id, tender.state, TenderState.OPENING, doing="open bids")
    async with ctx.engine.connect() as conn:
        done = {r.bid_id for r in await opening_rows(conn, tender_id)}
        todo = [b for b in await bid_rows(conn, tender_id, status="submitted") if b.id not in done]
    if only is not None:
        todo = [b for b in todo if b.id in only]
    gate = asyncio.Semaphore(concurrency)

    async def one(bid: Any) -> BidResult | None:
        async with gate:
            return await _open_one(ctx, tender, beacon, bid)

    results = await asyncio.gather(*(one(b) for b in todo))
    return [r for r in results if r is not None]


async def _open_one(ctx: TenderContext, tender: Tender, beacon: Beacon, bid: Any) -> BidResult | None:
    """Open one bid and record its result. A bid that cannot be opened, or whose result cannot be
    recorded (anything the audit log or the database refuses), is recorded as failed (开标失败)
    with the reason and its ciphertext's hash: one bidder never holds up the opening."""
    ctx.notify(tender.id, {"type": "bid.status", "bid_id": bid.id, "bidder": bid.bidder,
                           "bidder_name": bid.bidder_name, "status": "opening"})
    try:
        fields, lots, documents = await asyncio.to_thread(
            unseal_bid, ctx.blobs, ctx.chain, beacon.signature, bid.sha256, tender.spec
        )
    except CryptoError as exc:
        return await _record(ctx, tender, bid, "failed", f"cannot be unsealed: {printable(str(exc))}", code=failure_code(exc))
    except DomainError as exc:
        return await _record(ctx, tender, bid, "failed", f"not a valid bid: {printable(exc.message)}", code=failure_code(exc))
    try:
        return await _record(ctx, tender, bid, "opened", None, fields, documents, lots)
    except _AlreadyOpened:
        return None
    except (DomainError, sa.exc.SQLAlchemyError, ValueError) as exc:
        if isinstance(exc, ConflictError):
            raise  # the tender left 'opening' meanwhile: nothing to record
        if database_unavailable(exc):
            raise  # not this bid's fault: it stays without a result and the job retries it
        message = exc.message if isinstance(exc, DomainError) else exc.__class__.__name__
        log.warning("opened bid cannot be recorded; recording it as failed", extra={"tender": tender.id, "bid": bid.id})
        return await _record(ctx, tender, bid, "failed", f"cannot be recorded: {printable(message)}", code="not_recorded")


_UNAVAILABLE_SQLSTATES = ("08", "40", "53", "57", "58")
"""SQLSTATE classes of a database that cannot do the work now: connection exception, transaction
rollback (serialization failure, deadlock), insufficient resources, operator intervention (the
server shutting down or starting), system error."""


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database was unreachable or could not write now (a connection lost,
    the server restarting, a lock, no resources) rather than that it refused what was written:
    the same write can succeed later, so it must not be recorded as the bid's failure."""
    if isinstance(exc, (OSError, TimeoutError, sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)):
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or (isinstance(state, str) and state[:2] in _UNAVAILABLE_SQLSTATES)


async def _record(
    ctx: TenderContext, tender: Tender, bid: Any, status: str, reason: str | None,
    fields: dict[str, Any] | None = None, documents: list[dict[str, Any]] | None = None,
    lots: list[dict[str, Any]] | None = None, *, code: str | None = None,
) -> BidResult | None:
    """Commit one bid's result row with its ``bid.opened`` / ``bid.open_failed`` entry.
    Returns None when the bid already has a result (a rerun). Raises what the log refuses."""
    fields, documents, lots = fields or {}, documents or [], lots or []
    seq_box: list[int] = []

    async def apply(conn: AsyncConnection) -> None:
        current = await load_for_update(conn, tender.id)
        require_state(tender.id, current.state, TenderState.OPENING, doing="record an opened bid")
        exists = await conn.execute(sa.select(opening_table.c.bid_id).where(opening_table.c.bid_id == bid.id))
        if exists.first() is not None:
            raise _AlreadyOpened(bid.id)
        count = await conn.execute(sa.select(sa.func.count()).where(opening_table.c.tender_id == tender.id))
        seq_box.append(int(count.scalar_one()) + 1)
        await conn.execute(
            opening_table.insert().values(
                bid_id=bid.id, tender_id=tender.id, status=status, fields=json.dumps(fields, ensure_ascii=False),
                documents=json.dumps(documents, ensure_ascii=False), reason=reason, opened_us=ctx.now_us(), seq=seq_box[-1],
                lots=json.dumps(lots, ensure_ascii=False) if lots else None, code=code,
            )
        )

    if status == "opened":
        docs = [{k: d[k] for k in ("name", "sha256", "size")} for d in documents]
        payload = {"bid_id": bid.id, "bidder_name": bid.bidder_name, "fields": fields, "documents": docs,
                   **({"lots": lots} if lots else {})}
        draft = EntryDraft("bid.opened", payload, tender.id, SYSTEM)
    else:
        payload = {"bid_id": bid.id, "bidder_name": bid.bidder_name, "reason": reason, "sha256": bid.sha256,
                   **({"code": code} if code else {})}
        draft = EntryDraft("bid.open_failed", payload, tender.id, SYSTEM)
    try:
        await ctx.audit.append(draft, apply=apply)
    except _AlreadyOpened:
        if status == "opened":
            raise
        return None
    result = BidResult(bid.id, bid.bidder, bid.bidder_name, status, fields, documents, reason, seq_box[-1], lots, code)
    log.info("bid opened" if status == "opened" else "bid failed to open", extra={"tender": tender.id, "bid": bid.id, "reason": reason})
    ctx.notify(tender.id, {"type": "record.bid", "row": result.to_json()})
    return result


async def record_rows(conn: AsyncConnection, tender_id: str) -> list[BidResult]:
    """The record so far, in opening order."""
    bids = {b.id: b for b in await bid_rows(conn, tender_id)}
    return [result_from_row(r, bids[r.bid_id].bidder, bids[r.bid_id].bidder_name) for r in await opening_rows(conn, tender_id)]


async def finish(ctx: TenderContext, tender_id: str) -> Tender:
    """Publish the record once every current bid has a result: ``opening -> opened -> confirming``,
    or ``-> failed`` (流标) with fewer valid bids than the tender's minimum. No-op if already done."""
    tender = await get(ctx, tender_id)
    if tender.state is not TenderState.OPENING:
        return tender
    async with ctx.engine.connect() as conn:
        rows = await record_rows(conn, tender_id)
        current = {b.id for b in await bid_rows(conn, tender_id, status="submitted")}
    missing = current - {r.bid_id for r in rows}
    if missing:
        raise ConflictError("还有 {n} 份投标未解密", n=len(missing))
    valid = [r for r in rows if r.status == "opened"]
    now = ctx.clock()
    failed = len(valid) < tender.spec.min_bids
    reason = f"only {len(valid)} valid bid(s), at least {tender.spec.min_bids} required" if failed else None
    confirm_until = None if failed else int(now) + tender.spec.objection_window_s
    record = [r.to_json() for r in rows]
    drafts = [
        EntryDraft("bids.unsealed", {"round": tender.opening_round, "bid_ids": [r.bid_id for r in valid],
                                     "failed_ids": [r.bid_id for r in rows if r.status != "opened"]}, tender_id, SYSTEM),
        EntryDraft("opening.record", {"rows": record, "valid": len(valid), "min_bids": tender.spec.min_bids,
                                      "confirm_until": None if confirm_until is None else format_time(confirm_until),
                                      **({"local_beacon": True} if is_local_beacon(ctx.chain) else {})},
                   tender_id, SYSTEM),
    ]
    if failed:
        drafts.append(EntryDraft("tender.failed", {"reason": reason, "valid": len(valid), "min_bids": tender.spec.min_bids}, tender_id, SYSTEM))

    async def apply(conn: AsyncConnection) -> None:
        await set_state(conn, tender_id, TenderState.OPENING, TenderState.OPENED, opened_us=ctx.now_us())
        if failed:
            await set_state(conn, tender_id, TenderState.OPENED, TenderState.FAILED, failed_reason=reason)
        else:
            await set_state(conn, tender_id, TenderState.OPENED, TenderState.CONFIRMING, confirm_until=confirm_until)

    try:
        await ctx.audit.append_many(drafts, apply=apply)
    except ConflictError:
        return await get(ctx, tender_id)
    ctx.notify(tender_id, {"type": "record.final", "record": record, "state": "failed" if failed else "confirming",
                           "confirm_until": None if confirm_until is None else format_time(confirm_until)})
    if failed:
        ctx.notify(tender_id, {"type": "failed", "reason": reason})
    else:
        ctx.notify(tender_id, {"type": "phase", "state": "confirming", "confirm_until": format_time(confirm_until or 0)})
    return await get(ctx, tender_id)


async def run(ctx: TenderContext, tender_id: str, beacon: Beacon) -> Tender:
    """The whole opening for a verified `beacon` of the tender's round; safe to rerun after a crash."""
    tender = await start(ctx, tender_id, beacon)
    if tender.state is TenderState.OPENING:
        await open_bids(ctx, tender_id, beacon)
        tender = await finish(ctx, tender_id)
    return tender
