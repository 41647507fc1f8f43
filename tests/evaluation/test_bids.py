"""Sealed bid uploads: accepted only as one tlock stanza for the tender's round and chain, within
the size limit, before the deadline; every refusal leaves no blob, no row and no audit entry."""

from __future__ import annotations

import dataclasses
import io
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from crypto import tlock
from crypto.beacon import LocalBeacon
from crypto.note import Signer
from evaluation.errors import ConflictError, DomainError, InvalidRequest, NotFoundError
from evaluation.tenders import bids
from evaluation.tenders import tender as tenders
from evaluation.tenders.blobstore import TooLarge
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.tender_fixtures import (  # noqa: F401  (fixtures)
    AGENCY,
    BIDDERS,
    beacon,
    chunks,
    dump_everything,
    local_beacon,
    meta,
    register,
    sealed,
    spec,
    tctx,
)


async def published(tctx: TenderContext, **over: Any) -> tenders.Tender:
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(60, **over))
    return await tenders.publish(tctx, AGENCY, t.id)


def two_stanzas(data: bytes) -> bytes:
    head, rest = data.split(b"\n---", 1)
    first, stanza = head.split(b"\n", 1)
    return first + b"\n" + stanza + b"\n" + stanza + b"\n---" + rest


def tamper_header(data: bytes) -> bytes:
    head, rest = data.split(b"\n---", 1)
    return head[:-4] + b"\n---" + rest  # the stanza body loses bytes


CASES: list[tuple[str, Callable[[LocalBeacon, int], bytes], type[DomainError], str]] = [
    ("wrong round", lambda b, r: sealed(b.chain, r + 1), InvalidRequest, "投标文件密封的开标时间与本项目不同，请重新密封"),
    ("wrong chain", lambda b, r: sealed(local_beacon().chain, r), InvalidRequest, "投标文件密封所用的时间信标与本项目不同，请重新密封"),
    ("two stanzas", lambda b, r: two_stanzas(sealed(b.chain, r)), InvalidRequest, "应恰好有一个接收方，此文件有 2 个"),
    ("not age", lambda b, r: b"PK\x03\x04 this is a zip, not a sealed bid" * 10, InvalidRequest, "^这不是有效的密封投标文件"),
    ("empty", lambda b, r: b"", InvalidRequest, "^这不是有效的密封投标文件"),
    ("tampered header", lambda b, r: tamper_header(sealed(b.chain, r)), InvalidRequest, "投标文件的密封信息已损坏|not canonical base64"),
    ("too big", lambda b, r: sealed(b.chain, r, plaintext=b"x" * 5000), TooLarge, "投标文件超过本项目的大小上限（2048 字节）"),
]


@pytest.mark.parametrize("name, make, error, message", CASES, ids=[c[0] for c in CASES])
async def test_refused_upload_leaves_nothing(
    tctx: TenderContext, beacon: LocalBeacon, name: str, make: Callable[[LocalBeacon, int], bytes], error: type[DomainError], message: str
) -> None:
    tender = await published(tctx, max_bid_bytes=2048)
    before = await dump_everything(tctx.engine)
    data = make(beacon, tender.opening_round or 0)
    for length in (len(data), None):  # with Content-Length, and streamed without it
        with pytest.raises(error) as caught:
            await bids.submit(tctx, BIDDERS[0], tender.id, chunks(data, 1000), meta(), length)
        assert re.search(message, caught.value.message)
        assert "\n" not in caught.value.message
    assert await dump_everything(tctx.engine) == before
    assert tctx.blobs.all_hashes() == []
    assert not tctx.blobs.tmp_dir.exists() or list(tctx.blobs.tmp_dir.iterdir()) == []


async def test_after_deadline_is_409_with_the_deadline(tctx: TenderContext, beacon: LocalBeacon) -> None:
    tender = await published(tctx)
    late = dataclasses.replace(tctx, clock=lambda: time.time() + 120)
    before = await dump_everything(tctx.engine)
    with pytest.raises(ConflictError, match=r"投标截止时间 \d{4}-\d\d-\d\dT.*Z 已过"):
        await bids.submit(late, BIDDERS[0], tender.id, chunks(sealed(beacon.chain, tender.opening_round or 0)), meta())
    assert await dump_everything(tctx.engine) == before and tctx.blobs.all_hashes() == []


async def test_submit_replace_withdraw_with_receipts(tctx: TenderContext, beacon: LocalBeacon, signer: Signer) -> None:
    tender = await published(tctx)
    first = sealed(beacon.chain, tender.opening_round or 0, armor=True)
    r1 = await bids.submit(tctx, BIDDERS[0], tender.id, chunks(first), meta(), len(first))
    r1.receipt.verify(signer.verifier())
    assert r1.receipt.entry.kind == "bid.submitted" and r1.bid["status"] == "submitted"
    assert r1.receipt.entry.payload == {"bid_id": r1.bid["id"], "sha256": r1.bid["sha256"], "size": len(first), "round": tender.opening_round}
    second = sealed(beacon.chain, tender.opening_round or 0)
    r2 = await bids.submit(tctx, BIDDERS[0], tender.id, chunks(second), meta())
    r2.receipt.verify(signer.verifier())
    assert r2.receipt.entry.kind == "bid.replaced" and r2.bid["id"] == r1.bid["id"]
    assert r2.receipt.entry.payload["previous_sha256"] == r1.bid["sha256"]
    assert tctx.blobs.exists(r1.bid["sha256"]) and tctx.blobs.exists(r2.bid["sha256"])  # the old blob stays
    mine = await bids.my_bid(tctx, BIDDERS[0], tender.id)
    assert mine.receipt.entry.index == r2.receipt.entry.index
    r3 = await bids.withdraw(tctx, BIDDERS[0], tender.id)
    assert r3.receipt.entry.kind == "bid.withdrawn" and r3.bid["status"] == "withdrawn"
    with pytest.raises(NotFoundError):
        await bids.withdraw(tctx, BIDDERS[0], tender.id)
    with pytest.raises(NotFoundError):
        await bids.my_bid(tctx, BIDDERS[1], tender.id)


async def test_only_bidders_and_only_invited(tctx: TenderContext, beacon: LocalBeacon) -> None:
    await register(tctx.engine, BIDDERS[1])
    tender = await published(tctx, method="invited", invited=[BIDDERS[1].account])
    data = sealed(beacon.chain, tender.opening_round or 0)
    with pytest.raises(NotPermitted, match="为邀请采购，你未受邀"):
        await bids.submit(tctx, BIDDERS[0], tender.id, chunks(data), meta())
    with pytest.raises(NotPermitted, match="只有投标人账号可以投标"):
        await bids.submit(tctx, AGENCY, tender.id, chunks(data), meta())
    ok = await bids.submit(tctx, BIDDERS[1], tender.id, chunks(data), meta())
    assert ok.bid["bidder"] == BIDDERS[1].account


async def test_postponement_voids_and_erases_old_ciphertexts(tctx: TenderContext, beacon: LocalBeacon) -> None:
    tender = await published(tctx)
    old = await bids.submit(tctx, BIDDERS[0], tender.id, chunks(sealed(beacon.chain, tender.opening_round or 0)), meta())
    later = await tenders.postpone(tctx, AGENCY, tender.id, tender.spec.opening_time + 30, "答疑延期")
    assert later.opening_round == beacon.chain.round_not_before(tender.spec.opening_time + 30)
    mine = await bids.my_bid(tctx, BIDDERS[0], tender.id)
    assert mine.bid["status"] == "void" and mine.bid["needs_reseal"] is True
    assert not tctx.blobs.exists(old.bid["sha256"])  # openable at the old round: erased
    with pytest.raises(InvalidRequest, match="投标文件密封的开标时间与本项目不同"):
        await bids.submit(tctx, BIDDERS[0], tender.id, chunks(sealed(beacon.chain, tender.opening_round or 0)), meta())
    resealed = await bids.submit(tctx, BIDDERS[0], tender.id, chunks(sealed(beacon.chain, later.opening_round or 0)), meta())
    assert resealed.bid["status"] == "submitted" and resealed.receipt.entry.kind == "bid.submitted"
    kinds = [e.kind for e in await tctx.audit.entries_for_tender(tender.id)]
    assert kinds == ["tender.drafted", "tender.published", "bid.submitted", "tender.postponed", "bid.voided", "bid.submitted"]


def test_header_check_accepts_armored_and_binary(beacon: LocalBeacon) -> None:
    for armor in (False, True):
        data = sealed(beacon.chain, 500, armor=armor)
        bids.check_header(data[:4000], len(data) <= 4000, 500, beacon.chain.hash, beacon.chain.scheme_id)
    out = io.BytesIO()
    tlock.seal(io.BytesIO(b"x"), out, beacon.chain, 500)
    with pytest.raises(InvalidRequest, match="密封轮次 500，本项目开标轮次 501"):
        bids.check_header(out.getvalue(), True, 501, beacon.chain.hash, beacon.chain.scheme_id)
