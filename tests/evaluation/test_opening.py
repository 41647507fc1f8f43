"""The opening with the real local beacon: every bid opens or is listed with its reason, the
record is published once, a crash half-way resumes without repeating anything, fewer valid bids
than the minimum fail the tender (流标), and the confirmation flow is logged."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from crypto.drand import Beacon
from evaluation.errors import ConflictError
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.tender_fixtures import (  # noqa: F401  (fixtures)
    AGENCY,
    BIDDERS,
    beacon,
    chunks,
    dump_everything,
    meta,
    sealed,
    spec,
    tctx,
)

SECRET = "技术方案 secret-marker".encode()


async def tender_with_bids(tctx: TenderContext, beacon: LocalBeacon, n: int, *,
                           bad: dict[int, bytes | Callable[[int], bytes]] | None = None, **over: object) -> tenders.Tender:
    """A published tender with `n` bids; `bad` replaces bid i by given bytes, or by what a function
    of the tender's opening round makes (sealed to the round the tender really got)."""
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(2, **over))
    t = await tenders.publish(tctx, AGENCY, t.id)
    assert t.opening_round is not None
    for i in range(n):
        given = (bad or {}).get(i)
        data = (given(t.opening_round) if callable(given) else given) or sealed(
            beacon.chain, t.opening_round, {"total_price": f"{1000 + i}.5", "delivery_days": 30 + i})
        await bids.submit(tctx, BIDDERS[i], t.id, chunks(data), meta(i, ip=f"10.0.0.{i}"))
    return t


async def the_beacon(beacon: LocalBeacon, round: int) -> Beacon:
    return await LocalBeaconSource(beacon).wait_for(round)


def tampered(data: bytes) -> bytes:
    body = bytearray(data)
    body[-20] ^= 0x01  # a payload byte: the chunk's authentication fails
    return bytes(body)


async def test_opening_lists_failures_and_opens_the_rest(tctx: TenderContext, beacon: LocalBeacon) -> None:
    bad: dict[int, bytes | Callable[[int], bytes]] = {
        1: lambda r: sealed(beacon.chain, r, plaintext=b"garbage, not a container"),
        2: lambda r: tampered(sealed(beacon.chain, r))}
    t = await tender_with_bids(tctx, beacon, 5, bad=bad)
    stored = await dump_everything(tctx.engine)
    for blob in tctx.blobs.all_hashes():  # nothing server-side holds any plaintext before the opening
        assert SECRET not in tctx.blobs.path(blob).read_bytes() and b"garbage" not in tctx.blobs.path(blob).read_bytes()
    assert SECRET.decode() not in repr(stored) and "1000.5" not in repr(stored)

    done = await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    assert done.state is TenderState.CONFIRMING
    record = await opening_record.record(tctx, t.id)
    by_bidder = {r["bidder"]: r for r in record["rows"]}
    assert by_bidder[BIDDERS[0].account]["fields"] == {"total_price": "1000.50", "delivery_days": 30}
    assert by_bidder[BIDDERS[3].account]["status"] == "opened"
    assert by_bidder[BIDDERS[1].account]["status"] == "failed"
    assert by_bidder[BIDDERS[1].account]["reason"] == "not a valid bid: 解密后的内容不是本平台的投标文件"
    assert by_bidder[BIDDERS[2].account]["reason"].startswith("cannot be unsealed:")
    assert record["valid"] == 3 and sorted(r["seq"] for r in record["rows"]) == [1, 2, 3, 4, 5]
    kinds = [e.kind for e in await tctx.audit.entries_for_tender(t.id)]
    assert kinds[-2:] == ["bids.unsealed", "opening.record"]
    assert Counter(kinds) == Counter({"tender.drafted": 1, "tender.published": 1, "bid.submitted": 5, "opening.started": 1,
                                      "bid.opened": 3, "bid.open_failed": 2, "bids.unsealed": 1, "opening.record": 1})
    again = await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))  # idempotent
    assert again.state is TenderState.CONFIRMING
    assert len(await tctx.audit.entries_for_tender(t.id)) == len(kinds)


async def test_crash_half_way_resumes_without_repeating(tctx: TenderContext, beacon: LocalBeacon) -> None:
    t = await tender_with_bids(tctx, beacon, 6)
    signature = await the_beacon(beacon, t.opening_round or 0)
    await opening.start(tctx, t.id, signature)
    async with tctx.engine.connect() as conn:
        from evaluation.tenders.store import bid_rows

        ids = [b.id for b in await bid_rows(conn, t.id)]
    first = await opening.open_bids(tctx, t.id, signature, only=set(ids[:3]))  # then the process "crashes"
    assert len(first) == 3
    assert (await tenders.get(tctx, t.id)).state is TenderState.OPENING
    done = await opening.run(tctx, t.id, signature)  # the restart reruns everything
    assert done.state is TenderState.CONFIRMING
    entries = await tctx.audit.entries_for_tender(t.id)
    opened = Counter(e.payload["bid_id"] for e in entries if e.kind == "bid.opened")
    assert sorted(opened) == sorted(ids) and set(opened.values()) == {1}
    kinds = Counter(e.kind for e in entries)
    assert kinds["opening.started"] == kinds["bids.unsealed"] == kinds["opening.record"] == 1


async def test_fewer_valid_bids_than_minimum_fail_the_tender(tctx: TenderContext, beacon: LocalBeacon) -> None:
    t = await tender_with_bids(tctx, beacon, 2, min_bids=3)
    done = await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    assert done.state is TenderState.FAILED
    assert done.failed_reason == "only 2 valid bid(s), at least 3 required"
    kinds = [e.kind for e in await tctx.audit.entries_for_tender(t.id)]
    assert kinds[-3:] == ["bids.unsealed", "opening.record", "tender.failed"]


async def test_confirm_object_answer_and_final(tctx: TenderContext, beacon: LocalBeacon) -> None:
    seen: list[dict[str, object]] = []
    tctx.notify = lambda tender, event: seen.append(event)
    t = await tender_with_bids(tctx, beacon, 3)
    await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    await opening_record.confirm(tctx, BIDDERS[0], t.id)
    with pytest.raises(ConflictError, match="你已确认过开标记录"):
        await opening_record.confirm(tctx, BIDDERS[0], t.id)
    with pytest.raises(ConflictError, match="确认后不能再提出异议"):
        await opening_record.object_to(tctx, BIDDERS[0], t.id, "改主意")
    objection = await opening_record.object_to(tctx, BIDDERS[1], t.id, "我方报价应为 1001.50")
    with pytest.raises(NotPermitted):
        await opening_record.answer(tctx, BIDDERS[2], t.id, objection["id"], "x")
    await opening_record.answer(tctx, AGENCY, t.id, objection["id"], "经核实，记录无误")
    with pytest.raises(ConflictError, match="该异议已答复"):
        await opening_record.answer(tctx, AGENCY, t.id, objection["id"], "again")
    assert (await opening_record.finalize(tctx, t.id)).state is TenderState.CONFIRMING  # window still open
    late = dataclasses.replace(tctx, clock=lambda: time.time() + 3600)
    with pytest.raises(ConflictError, match="开标记录的确认期已于 .* 结束"):
        await opening_record.confirm(late, BIDDERS[2], t.id)
    assert (await opening_record.finalize(late, t.id)).state is TenderState.CONFIRMED
    record = await opening_record.record(tctx, t.id)
    assert record["final"] and record["confirmations"] == [BIDDERS[0].account]
    assert record["objections"][0]["answer"] == "经核实，记录无误"
    kinds = [e.kind for e in await tctx.audit.entries_for_tender(t.id)]
    assert kinds[-4:] == ["opening.confirmed", "opening.objection", "opening.answer", "opening.final"]
    types = [e["type"] for e in seen]
    assert types.count("record.bid") == 3 and "record.final" in types and types[-1] == "phase"


def hostile_container(record: dict[str, object], name: str) -> bytes:
    """A container whose manifest holds escapes the audit log cannot encode (ensure_ascii keeps them
    as JSON escapes, so the line itself is valid JSON)."""
    import json

    body = b"doc"
    manifest = {"record": record, "documents": [{"name": name, "size": len(body)}]}
    return b"pingbiao-bid/1\n" + json.dumps(manifest).encode() + b"\n" + body


async def test_a_bid_with_text_the_log_refuses_fails_alone(tctx: TenderContext, beacon: LocalBeacon) -> None:
    """A lone surrogate (or NUL) in a document name or a text field: that bid is recorded as failed
    with its reason and hash, the others open, the opening finishes."""
    fields = [{"key": "total_price", "label_zh": "总报价", "label_en": "Total", "type": "money"},
              {"key": "delivery_days", "label_zh": "交货期", "label_en": "Delivery", "type": "days", "required": False},
              {"key": "note", "label_zh": "备注", "label_en": "Note", "type": "text", "required": False}]
    bad: dict[int, bytes | Callable[[int], bytes]] = {
        1: lambda r: sealed(beacon.chain, r, plaintext=hostile_container({"total_price": "1.00"}, "\ud800.pdf")),
        2: lambda r: sealed(beacon.chain, r, plaintext=hostile_container({"total_price": "1.00", "note": "x\udfffy"}, "a.pdf")),
        3: lambda r: sealed(beacon.chain, r, plaintext=hostile_container({"total_price": "1.00", "note": "nul\x00"}, "b.pdf")),
    }
    pdf = b"%PDF-1.7\n1 0 obj << /Author (Li\x00Si) >> endobj\n%%EOF"  # metadata is text from a bid too
    for n in (0, 4, 5):  # three good bids: the tender's minimum of valid bids, so it opens
        bad[n] = lambda r, n=n: sealed(beacon.chain, r, {"total_price": "2.00"}, [(f"{n}.pdf", pdf + bytes([n]))])
    t = await tender_with_bids(tctx, beacon, 6, bad=bad, record_fields=fields)
    done = await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    assert done.state is TenderState.CONFIRMING
    record = await opening_record.record(tctx, t.id)
    by_bidder = {r["bidder"]: r for r in record["rows"]}
    assert [by_bidder[b.account]["status"] for b in BIDDERS[:6]] == ["opened", "failed", "failed", "failed", "opened", "opened"]
    assert "含有无效字符" in by_bidder[BIDDERS[1].account]["reason"]
    failed = [e for e in await tctx.audit.entries_for_tender(t.id) if e.kind == "bid.open_failed"]
    async with tctx.engine.connect() as conn:
        from evaluation.tenders.store import bid_rows

        hashes = {b.id: b.sha256 for b in await bid_rows(conn, t.id)}
    assert len(failed) == 3 and all(e.payload["sha256"] == hashes[e.payload["bid_id"]] for e in failed)
    leads = await opening_record.collusion_leads(tctx, t.id)
    assert [(lead["kind"], lead["value"]) for lead in leads if lead["kind"] == "same_author"] == [("same_author", "Li\ufffdSi")]


async def test_a_bid_without_a_non_empty_document_fails_at_the_opening(tctx: TenderContext, beacon: LocalBeacon) -> None:
    """A bid must hold at least one non-empty document: with none, or only empty ones, it is
    recorded as failed with the reason; the other bids open."""
    bad: dict[int, bytes | Callable[[int], bytes]] = {
        1: lambda r: sealed(beacon.chain, r, docs=[]), 2: lambda r: sealed(beacon.chain, r, docs=[("空白.pdf", b"")])}
    t = await tender_with_bids(tctx, beacon, 5, bad=bad)
    done = await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    assert done.state is TenderState.CONFIRMING
    rows = {r["bidder"]: r for r in (await opening_record.record(tctx, t.id))["rows"]}
    assert [rows[b.account]["status"] for b in BIDDERS[:5]] == ["opened", "failed", "failed", "opened", "opened"]
    assert "非空" in rows[BIDDERS[1].account]["reason"] and "非空" in rows[BIDDERS[2].account]["reason"]
