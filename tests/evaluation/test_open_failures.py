"""Why a bid failed to open, as a stable code decided where the failure is caught (opening.FAILURES),
kept in the record and the log: each kind of failure, made for real (a changed byte, a file cut
short, another round, another chain, not a sealed file, not a container, no document), gets its
own code and label; older rows without a code read theirs from the reason."""

from __future__ import annotations

from typing import Any

from crypto.beacon import LocalBeacon
from evaluation.tenders import opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.opening import FAILURES, failure_code, failure_of, unseal_bid
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import TenderContext
from tests.evaluation import tender_fixtures
from tests.evaluation.tender_fixtures import AGENCY, BIDDERS, local_beacon, sealed, spec
from tests.evaluation.test_opening import tampered, tender_with_bids, the_beacon

beacon, tctx = tender_fixtures.beacon, tender_fixtures.tctx  # the fixtures: a local beacon, a tender context per database


async def test_each_failure_kind_is_recorded_with_its_code(tctx: TenderContext, beacon: LocalBeacon) -> None:
    # Sealed to the round the tender gets (a round may pass between two tenders' creation).
    bad: dict[int, Any] = {3: lambda r: tampered(sealed(beacon.chain, r)),
                           4: lambda r: sealed(beacon.chain, r, plaintext=b"garbage, not a container"),
                           5: lambda r: sealed(beacon.chain, r, docs=[("空白.pdf", b"")])}
    t = await tender_with_bids(tctx, beacon, 6, bad=bad)
    done = await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    assert done.state is TenderState.CONFIRMING
    rows = {r["bidder"]: r for r in (await opening_record.record(tctx, t.id))["rows"]}
    assert [rows[b.account].get("code") for b in BIDDERS[:6]] == [None, None, None, "tampered", "bad_container", "no_document"]
    logged = {e.payload["bid_id"]: e.payload.get("code") for e in await tctx.audit.entries_for_tender(t.id)
              if e.kind == "bid.open_failed"}
    assert sorted(logged.values()) == ["bad_container", "no_document", "tampered"]
    statuses = {b["bidder"]: b["code"] for b in await opening_record.bid_statuses(tctx, t.id)}
    assert statuses[BIDDERS[3].account] == "tampered" and statuses[BIDDERS[0].account] is None


async def test_crypto_failures_have_their_own_codes(tctx: TenderContext, beacon: LocalBeacon) -> None:
    """What uploads refuse (another round, another chain) can still reach an opening from an older
    store or another tool; each is told apart by the error unseal raises, never by its text."""
    t = await tenders.create(tctx, AGENCY, "x", spec(2))
    round = beacon.chain.round_not_before(t.spec.opening_time)
    good = sealed(beacon.chain, round)
    cases = {
        "tampered": tampered(good),
        "truncated": good[: good.index(b"\n", good.index(b"\n---") + 1) + 9],  # the header and half a nonce
        "wrong_round": sealed(beacon.chain, round + 5),
        "wrong_chain": sealed(local_beacon().chain, round),
        "not_sealed": b"%PDF-1.7 not sealed at all",
        "bad_container": sealed(beacon.chain, round, plaintext=b"garbage"),
        "no_document": sealed(beacon.chain, round, docs=[]),
        "bad_record": sealed(beacon.chain, round, {"total_price": "not a price"}),
    }
    signature = (await the_beacon(beacon, round)).signature
    found = {}
    for expected, data in cases.items():
        writer = tctx.blobs.writer(1 << 30)
        writer.write(data)
        stored = writer.commit_sync()
        try:
            unseal_bid(tctx.blobs, beacon.chain, signature, stored.sha256, t.spec)
        except Exception as exc:  # noqa: BLE001  (the classification under test takes any failure)
            found[expected] = failure_code(exc)
        else:
            found[expected] = "opened"
    assert found == {code: code for code in cases}
    assert set(cases) | {"not_recorded"} == set(FAILURES)


def test_rows_logged_before_codes_read_theirs_from_the_reason() -> None:
    rows = {
        "cannot be unsealed: payload chunk 0 failed to decrypt: the data was changed": "tampered",
        "cannot be unsealed: payload is truncated: it ends after chunk 0 without a final chunk": "truncated",
        "cannot be unsealed: file is sealed to drand chain 1234…, not to chain 5678…": "wrong_chain",
        "cannot be unsealed: signature does not verify for round 12 of chain ab…": "wrong_round",
        "not a valid bid: unsealed bid is not a pingbiao bid container": "bad_container",
        "not a valid bid: 投标文件不含任何非空文档：至少须附一个非空文件": "no_document",
        "not a valid bid: total_price must be an amount": "bad_record",
        "cannot be recorded: IntegrityError": "not_recorded",
    }
    assert {reason: failure_of({"status": "failed", "reason": reason}) for reason in rows} == rows
    assert failure_of({"status": "failed", "reason": "anything", "code": "wrong_round"}) == "wrong_round"
    assert failure_of({"status": "opened", "reason": None}) is None
