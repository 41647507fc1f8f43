"""Tenders: validation, the state machine (one setter), amendments, postponement; all logged."""

from __future__ import annotations

import re
import time

import pytest

from evaluation.errors import ConflictError, InvalidRequest
from evaluation.tenders import tender as tenders
from evaluation.tenders.rules import (
    TRANSITIONS,
    InvalidStateError,
    TenderState,
    amend_spec,
    check_record,
    check_transition,
    parse_spec,
)
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.tender_fixtures import AGENCY, OTHER_AGENCY, beacon, spec, tctx  # noqa: F401


@pytest.mark.parametrize(
    "change, message",
    [
        ({"method": "auction"}, "「采购方式」的取值无效（可选 open, invited"),
        ({"budget_fen": 1.5}, "「预算金额」须为整数"),
        ({"opening_time": "2026-05-01T09:00:00"}, "「开标时间」缺少时区（请加上 +08:00 或 Z），收到 '2026-05-01T09:00:00'"),
        ({"record_fields": [{"key": "Price", "label_zh": "价", "label_en": "P", "type": "money"}]}, "开标记录表第 1 栏的代号须以小写字母开头"),
        ({"criteria": [{"name": "价格", "points": 60}]}, "综合评分法的分值合计须为 100，现为 60"),
        ({"method": "invited"}, "此采购方式须列出受邀投标人"),
        ({"colour": "red"}, "项目中有无法识别的内容：colour"),
    ],
)
def test_spec_validation(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        parse_spec(spec(**change))


def test_defaults_and_record_values() -> None:
    s = parse_spec({"title": "t", "budget_fen": 1, "opening_time": "2030-01-01T09:00:00+08:00"})
    assert s.min_bids == 3 and [f.key for f in s.record_fields] == ["total_price", "delivery_days"]
    assert parse_spec({**spec(), "method": "single_source", "invited": ["b"], "min_bids": None} | {"min_bids": 1}).min_bids == 1
    assert check_record(s.record_fields, {"total_price": "1,268,000.5", "delivery_days": "60"}) == {"total_price": "1268000.50", "delivery_days": 60}
    with pytest.raises(InvalidRequest, match="^「交货期」不能为负数$"):
        check_record(s.record_fields, {"total_price": "1", "delivery_days": -3})
    with pytest.raises(InvalidRequest, match="这些内容发布后不能变更：opening_time（开标时间请办理延期）"):
        amend_spec(s, {"opening_time": 5})


def test_transitions_are_the_documented_machine() -> None:
    path = ["draft", "published", "opening", "opened", "confirming", "confirmed", "evaluating", "awarded"]
    for old, new in zip(path, path[1:]):
        check_transition("T", TenderState(old), TenderState(new))
    check_transition("T", TenderState.OPENED, TenderState.FAILED)
    check_transition("T", TenderState.EVALUATING, TenderState.FAILED)  # 废标 in the evaluation
    assert sum(len(v) for v in TRANSITIONS.values()) == 9
    with pytest.raises(InvalidStateError) as refused:
        check_transition("T", TenderState.PUBLISHED, TenderState.OPENED)
    assert refused.value.message == "项目当前为「已发布」，不能变为「已开标」"


async def test_publish_amend_postpone_logged(tctx: TenderContext) -> None:
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(30))
    with pytest.raises(NotPermitted):
        await tenders.publish(tctx, OTHER_AGENCY, t.id)
    t = await tenders.publish(tctx, AGENCY, t.id)
    assert t.state is TenderState.PUBLISHED and t.opening_round == tctx.chain.round_not_before(t.spec.opening_time)
    assert tctx.chain.time_of(t.opening_round) >= t.spec.opening_time
    with pytest.raises(InvalidStateError, match="^项目当前为「已发布」，不能办理此事$"):
        await tenders.publish(tctx, AGENCY, t.id)
    t = await tenders.amend(tctx, AGENCY, t.id, {"budget_fen": 120_000_000}, "预算调整")
    assert t.spec.budget_fen == 120_000_000 and t.amendments == 1
    with pytest.raises(InvalidRequest, match="^变更内容与原项目相同$"):
        await tenders.amend(tctx, AGENCY, t.id, {"budget_fen": 120_000_000}, "again")
    with pytest.raises(InvalidRequest, match="延期后的开标时间须晚于原开标时间"):
        await tenders.postpone(tctx, AGENCY, t.id, t.spec.opening_time - 1, "earlier")
    t = await tenders.postpone(tctx, AGENCY, t.id, t.spec.opening_time + 60, "答疑延期")
    assert t.postponements == 1
    entries = await tctx.audit.entries_for_tender(t.id)
    assert [e.kind for e in entries] == ["tender.drafted", "tender.published", "tender.amended", "tender.postponed"]
    assert entries[2].payload == {"changes": {"budget_fen": 120_000_000}, "reason": "预算调整"}
    from evaluation.audit.events import replay

    state = replay(entries)
    assert state["problems"] == [] and state["phase"] == "published" and state["tender"]["opening_round"] == t.opening_round


async def test_publish_needs_a_future_opening(tctx: TenderContext) -> None:
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(-5))
    with pytest.raises(InvalidRequest, match="开标时间须在将来"):
        await tenders.publish(tctx, AGENCY, t.id)
    assert (await tenders.get(tctx, t.id)).state is TenderState.DRAFT
    assert time.time() > 0
    with pytest.raises(ConflictError):
        await tenders.amend(tctx, AGENCY, t.id, {"title": "x"}, "r")
