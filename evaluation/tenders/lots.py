"""Bids on the lots (分包) of a tender: which lots a bid takes part in and its price for each. Pure.

A tender with two or more lots is a multi-lot tender (多包项目). Its bidders seal, inside the
record of the bid container, a ``lots`` list ``[{"lot": 1, "price": "1268000.00"}, …]``: the
lots they take part in (at least one, each once, numbered from 1 in the tender's order) and the
price (报价, yuan, at most two decimals) for each. The tender's ``total_price`` field is then not
asked for the bid as a whole; its other record fields (交货期 …) are. A lot with a budget
(``budget_fen`` > 0) refuses a price above it: 87号令 art. 63 makes a price over the budget or
the ceiling price an invalid bid, so such a bid is recorded as failed at the opening with the
reason. A tender with no lot or one lot takes one total price, as before.
"""

from __future__ import annotations

from typing import Any

from evaluation.errors import InvalidRequest
from evaluation.tenders.rules import RecordField, TenderSpec, check_record, money_fen

LOTS_KEY = "lots"
PRICE_FIELD = "total_price"
"""The record field a multi-lot bid gives per lot instead of once."""


def is_multi_lot(spec: TenderSpec) -> bool:
    return len(spec.lots) >= 2


def bid_fields(spec: TenderSpec) -> tuple[RecordField, ...]:
    """The record fields a bid fills once (for a multi-lot tender, all but the total price)."""
    if not is_multi_lot(spec):
        return spec.record_fields
    return tuple(f for f in spec.record_fields if f.key != PRICE_FIELD)


def lot_label(number: int, name: str) -> str:
    return f"第{number}包 {name}".strip()


def _yuan_text(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def check_lots(spec: TenderSpec, value: Any) -> list[dict[str, Any]]:
    """The lot rows of a multi-lot bid, in lot order: ``[{"lot": n, "name": …, "price": "1268000.00"}]``.
    Raises InvalidRequest with one line in Chinese naming the lot."""
    if not isinstance(value, list) or not value:
        raise InvalidRequest("请至少选择一个分包并填写报价")
    if len(value) > len(spec.lots):
        raise InvalidRequest("所投分包多于本项目的 {n} 个分包", n=len(spec.lots))
    rows: dict[int, dict[str, Any]] = {}
    for item in value:
        if not isinstance(item, dict) or set(item) - {"lot", "price"}:
            raise InvalidRequest("每个分包须为 {\"lot\": 包号, \"price\": 报价}")
        number = item.get("lot")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= len(spec.lots):
            raise InvalidRequest("分包 {lot} 不在本项目中（本项目共 {n} 个分包）", lot=str(number)[:20], n=len(spec.lots))
        if number in rows:
            raise InvalidRequest("第{lot}包重复报价", lot=number)
        lot = spec.lots[number - 1]
        price = item.get("price")
        fen = money_fen(price)
        if fen is None:
            raise InvalidRequest("第{lot}包报价须为以元为单位、最多两位小数的金额，收到 {got}", lot=number, got=repr(str(price)[:40]))
        if fen <= 0:
            raise InvalidRequest("第{lot}包报价须大于零", lot=number)
        if lot.budget_fen > 0 and fen > lot.budget_fen:
            raise InvalidRequest(
                "第{lot}包报价 {price} 元超过该包预算 {budget} 元（87号令第六十三条：投标无效）",
                lot=number, price=_yuan_text(fen), budget=_yuan_text(lot.budget_fen),
            )
        rows[number] = {"lot": number, "name": lot.name, "price": f"{fen // 100}.{fen % 100:02d}"}
    return [rows[n] for n in sorted(rows)]


def check_bid_record(spec: TenderSpec, values: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A sealed bid's record checked against the tender: (record fields, lot rows). A single-lot
    tender has no lot rows; a multi-lot one has at least one. Raises InvalidRequest."""
    if not is_multi_lot(spec):
        return check_record(spec.record_fields, values), []
    if not isinstance(values, dict):
        raise InvalidRequest("开标记录格式不对")
    rest = {k: v for k, v in values.items() if k != LOTS_KEY}
    if PRICE_FIELD in rest:
        raise InvalidRequest("多包项目按分包报价：总报价 total_price 请填在各分包的 price 中")
    return check_record(bid_fields(spec), rest), check_lots(spec, values.get(LOTS_KEY))


def lot_price(row: dict[str, Any], number: int) -> str | None:
    """The price a record row (BidResult.to_json) gives for lot `number`, or None if it does not bid on it."""
    for lot in row.get(LOTS_KEY) or []:
        if lot.get("lot") == number:
            return str(lot.get("price"))
    return None


def evaluated_lot(spec: TenderSpec, value: Any) -> int | None:
    """The lot an evaluation session judges: required (a lot number) for a multi-lot tender, absent
    otherwise. One session per tender, so a multi-lot tender is evaluated for one lot. Raises InvalidRequest."""
    if not is_multi_lot(spec):
        if value is not None:
            raise InvalidRequest("本项目不分包：评审无需指定分包 lot")
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= len(spec.lots):
        raise InvalidRequest("多包项目须指定评审的分包 lot（1 至 {n}），收到 {got}", n=len(spec.lots), got=repr(str(value)[:20]))
    return value


def lots_json(spec: TenderSpec) -> list[dict[str, Any]]:
    """The lots a bid chooses from, numbered (``[{lot, name, budget_fen}]``); empty for a single-lot tender."""
    if not is_multi_lot(spec):
        return []
    return [{"lot": n, "name": lot.name, "budget_fen": lot.budget_fen} for n, lot in enumerate(spec.lots, start=1)]
