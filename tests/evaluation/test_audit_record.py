"""The opening record (开标记录) shown is the audit log's: an operator editing the record's tables
directly makes the record view refuse, naming the bid or objection, instead of publishing the edit."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import sqlalchemy as sa

from crypto.beacon import LocalBeacon
from evaluation.errors import IntegrityFailure
from evaluation.tenders import opening, opening_record
from evaluation.tenders.store import confirmation_table, objection_table, opening_table
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import BIDDERS, beacon, tctx  # noqa: F401  (fixtures)
from tests.evaluation.test_opening import the_beacon, tender_with_bids


async def opened(tctx: TenderContext, beacon: LocalBeacon, n: int = 3) -> str:
    t = await tender_with_bids(tctx, beacon, n)
    await opening.run(tctx, t.id, await the_beacon(beacon, t.opening_round or 0))
    return t.id


async def test_an_edited_price_in_the_opening_table_is_refused(tctx: TenderContext, beacon: LocalBeacon) -> None:
    tender_id = await opened(tctx, beacon)
    before = await opening_record.record(tctx, tender_id)
    row = before["rows"][1]
    assert row["fields"]["total_price"].startswith("100")
    async with tctx.engine.begin() as conn:
        await conn.execute(
            sa.update(opening_table).where(opening_table.c.bid_id == row["bid_id"])
            .values(fields=json.dumps({**row["fields"], "total_price": "1.00"}))
        )
    with pytest.raises(IntegrityFailure, match=f"^开标记录与审计日志不符：投标 {row['bid_id']}（审计日志第 \\d+ 条）$"):
        await opening_record.record(tctx, tender_id)
    async with tctx.engine.begin() as conn:  # put it back: the record is the logged one again
        await conn.execute(
            sa.update(opening_table).where(opening_table.c.bid_id == row["bid_id"]).values(fields=json.dumps(row["fields"]))
        )
    assert await opening_record.record(tctx, tender_id) == before


async def test_other_edits_of_the_record_tables_are_refused(tctx: TenderContext, beacon: LocalBeacon) -> None:
    tender_id = await opened(tctx, beacon)
    await opening_record.confirm(tctx, BIDDERS[0], tender_id)
    objection = await opening_record.object_to(tctx, BIDDERS[1], tender_id, "报价有误")
    good = await opening_record.record(tctx, tender_id)
    assert good["confirmations"] == [BIDDERS[0].account] and good["objections"][0]["text"] == "报价有误"
    edits = [
        (objection_table, objection_table.c.id == objection["id"], {"text": "我方同意"}, f"异议 {objection['id']}"),
        (confirmation_table, confirmation_table.c.bidder == BIDDERS[0].account, {"bidder": BIDDERS[2].account}, "的确认不在日志中"),
        (opening_table, opening_table.c.seq == 1, {"seq": 7}, "：投标 "),
        (opening_table, opening_table.c.seq == 2, {"status": "failed"}, "：投标 "),
    ]
    for table, where, values, named in edits:
        async with tctx.engine.begin() as conn:
            old = (await conn.execute(sa.select(table).where(where))).first()
            assert old is not None
            await conn.execute(sa.update(table).where(where).values(**values))
        with pytest.raises(IntegrityFailure, match=named):
            await opening_record.record(tctx, tender_id)
        async with tctx.engine.begin() as conn:
            await conn.execute(sa.delete(table).where(*[table.c[k] == v for k, v in values.items()]))
            await conn.execute(table.insert().values(**old._asdict()))
        assert await opening_record.record(tctx, tender_id) == good


async def test_a_record_read_while_the_opening_publishes_it_is_the_published_one(tctx: TenderContext, beacon: LocalBeacon) -> None:
    """The hall reads the record (partial) while the opening publishes it: the tender was read
    before the record's commit, the log after it. That is the record being published, not a
    mismatch: the reader gets the published record, as a later read does."""
    t = await tender_with_bids(tctx, beacon, 3)
    b = await the_beacon(beacon, t.opening_round or 0)
    await opening.start(tctx, t.id, b)
    await opening.open_bids(tctx, t.id, b)
    log = tctx.audit

    class PublishedMeanwhile:  # the real log, read just after the opening published its record
        def __getattr__(self, name: str) -> Any:
            return getattr(log, name)

        async def entries_for_tender(self, *args: Any, **kwargs: Any) -> Any:
            await opening.finish(tctx, t.id)
            return await log.entries_for_tender(*args, **kwargs)

    seen = await opening_record.record(dataclasses.replace(tctx, audit=PublishedMeanwhile()), t.id, partial=True)  # type: ignore[arg-type]
    assert seen["state"] == "confirming" and seen["confirm_until"] is not None
    assert seen == await opening_record.record(tctx, t.id)
