"""Bids on a multi-lot tender (分包): the lots a bidder takes part in and a price for each, sealed,
read at the opening into one record row per bid with a line per lot, refused with a Chinese
reason when hostile; the evaluation takes one lot's prices and never adds lots up."""

from __future__ import annotations

from typing import Any

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.errors import InvalidRequest
from evaluation.session.rules import bids_from_record
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.lots import bid_fields, check_bid_record, check_lots, evaluated_lot
from evaluation.tenders.rules import TenderState, parse_spec
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import (  # noqa: F401  (fixtures)
    AGENCY,
    BIDDERS,
    beacon,
    chunks,
    meta,
    sealed,
    spec,
    tctx,
)

LOTS = [{"name": "计算机", "budget_fen": 100_000_000}, {"name": "打印机", "budget_fen": 0}]
TWO_LOTS = parse_spec(spec(lots=LOTS))


def test_a_single_lot_tender_takes_one_total_price_as_before() -> None:
    one = parse_spec(spec(lots=LOTS[:1]))
    assert bid_fields(one) == one.record_fields
    assert check_bid_record(one, {"total_price": "1,268,000", "delivery_days": 60}) == (
        {"total_price": "1268000.00", "delivery_days": 60}, [])
    with pytest.raises(InvalidRequest, match="开标记录中有无法识别的栏目：lots"):
        check_bid_record(one, {"total_price": "1", "delivery_days": 1, "lots": [{"lot": 1, "price": "1"}]})


def test_a_multi_lot_bid_gives_a_price_per_chosen_lot() -> None:
    assert [f.key for f in bid_fields(TWO_LOTS)] == ["delivery_days"]
    fields, lots = check_bid_record(TWO_LOTS, {"delivery_days": 30, "lots": [{"lot": 2, "price": "8,000.5"}, {"lot": 1, "price": "1000000"}]})
    assert fields == {"delivery_days": 30}
    assert lots == [{"lot": 1, "name": "计算机", "price": "1000000.00"}, {"lot": 2, "name": "打印机", "price": "8000.50"}]
    assert check_bid_record(TWO_LOTS, {"delivery_days": 30, "lots": [{"lot": 2, "price": "5"}]})[1] == [
        {"lot": 2, "name": "打印机", "price": "5.00"}]


@pytest.mark.parametrize(("lots", "message"), [
    (None, "请至少选择一个分包"),
    ([], "请至少选择一个分包"),
    ("1", "请至少选择一个分包"),
    ([{"lot": 3, "price": "1"}], "分包 3 不在本项目中"),
    ([{"lot": 0, "price": "1"}], "分包 0 不在本项目中"),
    ([{"lot": "1", "price": "1"}], "分包 1 不在本项目中"),
    ([{"lot": True, "price": "1"}], "分包 True 不在本项目中"),
    ([{"lot": 1, "price": "1"}, {"lot": 1, "price": "2"}], "第1包重复报价"),
    ([{"lot": 1, "price": "NaN"}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": "1e999"}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": "-5"}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": "¥100"}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": "100.001"}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": 100}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": "9" * 40}], "第1包报价须为以元为单位"),
    ([{"lot": 1, "price": "0"}], "第1包报价须大于零"),
    ([{"lot": 1, "price": "1000000.01"}], "第1包报价 1,000,000.01 元超过该包预算 1,000,000.00 元"),
    ([{"lot": 1, "price": "1", "extra": 1}], "每个分包须为"),
    ([["lot", 1]], "每个分包须为"),
])
def test_hostile_lot_prices_are_refused_in_chinese(lots: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_lots(TWO_LOTS, lots)
    assert message in err.value.message and "\n" not in err.value.message


def test_a_multi_lot_bid_gives_no_total_price_and_reserves_the_lots_key() -> None:
    with pytest.raises(InvalidRequest, match="多包项目按分包报价"):
        check_bid_record(TWO_LOTS, {"total_price": "1", "delivery_days": 1, "lots": [{"lot": 1, "price": "1"}]})
    with pytest.raises(InvalidRequest, match="开标记录表的栏目代号「lots」留给分包报价使用"):
        parse_spec(spec(record_fields=[{"key": "lots", "label_zh": "包", "label_en": "Lots", "type": "text"}]))


def test_the_evaluated_lot_is_required_exactly_for_a_multi_lot_tender() -> None:
    assert evaluated_lot(TWO_LOTS, 2) == 2
    assert evaluated_lot(parse_spec(spec()), None) is None
    for bad in (None, 0, 3, "1", True, 1.5):
        with pytest.raises(InvalidRequest, match="多包项目须指定评审的分包"):
            evaluated_lot(TWO_LOTS, bad)
    with pytest.raises(InvalidRequest, match="本项目不分包"):
        evaluated_lot(parse_spec(spec()), 1)


async def test_the_opening_record_has_a_line_per_lot_and_the_session_takes_one_lot(tctx: TenderContext, beacon: LocalBeacon) -> None:
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(2, lots=LOTS, min_bids=3))
    t = await tenders.publish(tctx, AGENCY, t.id)
    assert t.opening_round is not None
    records: list[dict[str, Any]] = [
        {"delivery_days": 30, "lots": [{"lot": 1, "price": "900,000"}, {"lot": 2, "price": "8000"}]},
        {"delivery_days": 40, "lots": [{"lot": 1, "price": "950000.50"}]},
        {"delivery_days": 50, "lots": [{"lot": 2, "price": "7000"}, {"lot": 1, "price": "990000"}]},
        {"delivery_days": 60, "lots": [{"lot": 1, "price": "1"}, {"lot": 1, "price": "2"}]},  # duplicate lot
        {"delivery_days": 60, "lots": [{"lot": 1, "price": "1e999"}]},
        {"delivery_days": 60, "lots": [{"lot": 1, "price": "1"}]},  # no non-empty document
    ]
    for i, rec in enumerate(records):
        docs = [("空.pdf", b"")] if i == 5 else [("技术标.pdf", b"%PDF-1.4 lot bid")]
        await bids.submit(tctx, BIDDERS[i], t.id, chunks(sealed(beacon.chain, t.opening_round, rec, docs)), meta(i))
    done = await opening.run(tctx, t.id, await LocalBeaconSource(beacon).wait_for(t.opening_round))
    assert done.state is TenderState.CONFIRMING

    record = await opening_record.record(tctx, t.id)  # the tables agree with the log (checked)
    assert record["local_beacon"] is True and "运营方可预知随机数" in record["local_beacon_note"]
    assert [f["key"] for f in record["fields"]] == ["delivery_days"]
    assert [lot["name"] for lot in record["lots"]] == ["计算机", "打印机"]
    by_bidder = {r["bidder"]: r for r in record["rows"]}
    assert by_bidder[BIDDERS[0].account]["lots"] == [{"lot": 1, "name": "计算机", "price": "900000.00"},
                                                     {"lot": 2, "name": "打印机", "price": "8000.00"}]
    assert by_bidder[BIDDERS[0].account]["fields"] == {"delivery_days": 30}
    assert "第1包重复报价" in by_bidder[BIDDERS[3].account]["reason"]
    assert "第1包报价须为以元为单位" in by_bidder[BIDDERS[4].account]["reason"]
    assert "投标文件不含任何非空文档" in by_bidder[BIDDERS[5].account]["reason"]
    assert record["valid"] == 3
    final = next(e for e in await tctx.audit.entries_for_tender(t.id) if e.kind == "opening.record")
    assert final.payload["local_beacon"] is True and final.payload["rows"] == record["rows"]

    rows = record["rows"]
    with pytest.raises(InvalidRequest, match="多包项目按分包评审"):
        bids_from_record(rows)
    lot1 = bids_from_record(rows, lot=1)
    assert sorted(b["price_fen"] for b in lot1) == [90_000_000, 95_000_050, 99_000_000]
    lot2 = bids_from_record(rows, lot=2)
    assert sorted((b["bidder"], b["price_fen"]) for b in lot2) == [(BIDDERS[0].account, 800_000), (BIDDERS[2].account, 700_000)]
