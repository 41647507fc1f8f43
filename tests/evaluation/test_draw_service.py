"""The draw workflow on each database with the real local beacon: avoidance and eligibility,
the one-line shortage, the full draw completed by the draw job (awaited on its event), declines
and replacements, and `experts verify-draw` on exported bundles (honest, tampered, forged)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from crypto.note import Signer
from evaluation.audit.bundle import export_bundle
from evaluation.audit.entry import EntryDraft
from evaluation.errors import InvalidRequest, NotFoundError
from evaluation.experts import draw_service
from evaluation.experts import pool as experts
from evaluation.experts.draw import TooFewExperts
from evaluation.experts.draw_job import DrawJob
from evaluation.experts.views import draw_status
from evaluation.tenders.rules import InvalidStateError
from evaluation.tenders.tender import NotPermitted, TenderContext
from tests.evaluation.experts_fixtures import CRITERIA, POOL, PURCHASER, People, opened_tender, people
from tests.evaluation.tender_fixtures import AGENCY, beacon, tctx  # noqa: F401  (fixtures)

SUPERVISOR = AGENCY.__class__("acc-sup", "supervisor")


async def drawn_tender(tctx: TenderContext, beacon: LocalBeacon, criteria: dict[str, Any] | None = None) -> tuple[str, People]:
    who = await people(tctx)
    await experts.import_csv(tctx.engine, tctx.audit, POOL, who.agency.actor)
    t = await opened_tender(tctx, who)
    await draw_service.request_draw(tctx, who.agency.actor, t.id, criteria or CRITERIA)
    job = DrawJob(tctx, LocalBeaconSource(beacon))
    task = asyncio.create_task(job.run())
    try:
        await asyncio.wait_for(job.drawn(t.id), timeout=20)
    finally:
        task.cancel()
        await job.stop()
    return t.id, who


async def test_avoidance_and_eligibility_exclusions_are_counted(tctx: TenderContext, beacon: LocalBeacon) -> None:
    tid, who = await drawn_tender(tctx, beacon)
    status = await draw_status(tctx, SUPERVISOR, tid)
    # E04 employee of bidder 0 until 2024 (within 3 years), E05 spouse at bidder 1, E06 agency staff;
    # E09 was a director of bidder 0 until 2015: too long ago, still eligible.
    assert status["excluded"] == {"employment": 1, "relative": 1, "agency_staff": 1}
    assert status["pool"] == 6 and status["state"] == "drawn"
    committee = {m["expert_id"] for m in status["committee"]}
    assert committee.isdisjoint({"E04", "E05", "E06"}) and len(committee) == 5
    sites = sorted(m["site"] for m in status["committee"])
    assert sites == ["cd", "cd", "hz", "hz", "hz"]
    specialties = sorted(m["specialty"] for m in status["committee"])
    assert specialties == ["A01", "A01", "A01", "B02", "B02"]
    members = await experts.committee_of(tctx.engine, tid)
    assert [m.expert_id for m in members] == [m["expert_id"] for m in status["committee"]]
    assert {m.site for m in members} == {"main", "remote"}
    entries = await tctx.audit.entries_for_tender(tid, kinds=["experts.draw_requested", "experts.drawn"])
    request, drawn = entries
    assert drawn.payload["round"] == tctx.chain.round_at(request.time.timestamp()) + 1
    assert request.payload["chain"]["hash"] == tctx.chain.hash
    assert "张" not in json.dumps(request.payload, ensure_ascii=False)  # no names in the log


async def test_too_few_names_the_rules(tctx: TenderContext) -> None:
    who = await people(tctx)
    await experts.import_csv(tctx.engine, tctx.audit, POOL, who.agency.actor)
    t = await opened_tender(tctx, who)
    criteria = {**CRITERIA, "specialties": {"A01": 1, "B02": 4}}
    with pytest.raises(TooFewExperts) as info:
        await draw_service.request_draw(tctx, who.agency.actor, t.id, criteria)
    assert info.value.message == (
        "符合条件的专家不足：6 人，席位 5 个；专业 B02 需 4 人，符合条件的 3 人；"
        "已回避：agency_staff 1, employment 1, relative 1"
    )
    with pytest.raises(NotPermitted):
        await draw_service.request_draw(tctx, AGENCY, t.id, CRITERIA)
    with pytest.raises(Exception, match="评标委员会至少 5 人，方案为 3 人"):
        await draw_service.request_draw(tctx, who.agency.actor, t.id, {**CRITERIA, "size": 3})
    assert not await tctx.audit.entries_for_tender(t.id, kinds=["experts.draw_requested"])


async def test_a_draw_needs_the_bidders_known(tctx: TenderContext) -> None:
    from evaluation.tenders import tender as tenders
    from tests.evaluation.tender_fixtures import spec

    who = await people(tctx)
    t = await tenders.create(tctx, who.agency.actor, "采购中心", spec(120))
    with pytest.raises(InvalidStateError, match="项目当前为「草稿」，开标后才能抽取专家"):
        await draw_service.request_draw(tctx, who.agency.actor, t.id, CRITERIA)


async def test_declines_are_replaced_from_the_sequence(tctx: TenderContext, beacon: LocalBeacon) -> None:
    plain = {"size": 5, "purchaser": PURCHASER}  # no quotas: 6 eligible, 5 seats, 1 in reserve
    tid, who = await drawn_tender(tctx, beacon, plain)
    status = await draw_status(tctx, SUPERVISOR, tid)
    seated = [m["expert_id"] for m in status["committee"]]
    reserve = sorted({"E01", "E02", "E03", "E07", "E08", "E09"} - set(seated))
    ill = ("unavailable", "病假条 sick note 2026-05-09")
    with pytest.raises(InvalidRequest, match="请选择退出理由：回避申请或无法到场（ground 须为 avoidance, unavailable"):
        await draw_service.decline(tctx, who.agency.actor, tid, seated[0], "生病 ill", "bored", "x")
    with pytest.raises(InvalidRequest, match="请填写证明材料"):
        await draw_service.decline(tctx, who.agency.actor, tid, seated[0], "生病 ill", "unavailable", " ")
    with pytest.raises(NotFoundError, match="没有该项目待答复的邀请"):  # only a seated member can decline
        await draw_service.decline(tctx, who.agency.actor, tid, reserve[0], "生病 ill", *ill)
    out = await draw_service.decline(tctx, who.agency.actor, tid, seated[0], "生病 ill", *ill)
    assert out == {"declined": seated[0], "replacements": reserve}
    after = await draw_status(tctx, SUPERVISOR, tid)
    assert [m["expert_id"] for m in after["committee"]] == [*seated[1:], *reserve]
    assert after["committee"][-1]["replaces"] == seated[0]
    assert after["declined"] == [{"expert_id": seated[0], "name": after["declined"][0]["name"], "reason": "生病 ill"}]
    with pytest.raises(NotFoundError, match="没有该项目待答复的邀请"):
        await draw_service.decline(tctx, who.agency.actor, tid, seated[0], "again", *ill)
    out = await draw_service.decline(tctx, who.agency.actor, tid, seated[1], "与投标人有利害关系", "avoidance", "回避申请 HB-7")
    assert out["replacements"] == [] and str(out["problem"]).startswith("抽取序列中剩余的专家不足以补足各项名额，无法替换（序列中剩余 0 人")
    kinds = [e.kind for e in await tctx.audit.entries_for_tender(tid)]
    assert kinds[-5:] == ["experts.drawn", "experts.declined", "experts.replaced", "experts.declined", "experts.exhausted"]
    assert (await draw_status(tctx, SUPERVISOR, tid))["state"] == "exhausted"
    with pytest.raises(TooFewExperts, match="符合条件的专家不足：4 人，席位 5 个；已回避：agency_staff 1, declined 2, employment 1, relative 1"):
        await draw_service.request_draw(tctx, who.agency.actor, tid, plain)


async def test_sealed_until_the_session_starts(tctx: TenderContext, beacon: LocalBeacon) -> None:
    tid, who = await drawn_tender(tctx, beacon)
    agency_view = await draw_status(tctx, who.agency.actor, tid)
    assert agency_view["committee"] is None and agency_view["sealed"] is True and agency_view["state"] == "drawn"
    assert "excluded" not in agency_view and "signature" not in agency_view
    await experts.reveal_committee(tctx.engine, tid)
    assert len((await draw_status(tctx, who.agency.actor, tid))["committee"]) == 5
    with pytest.raises(InvalidStateError, match="评标已开始，评标委员会不能再变动"):
        await draw_service.decline(tctx, who.agency.actor, tid, "E01", "出差 away", "unavailable", "说明 note-1")


def verify(bundle: Path, tender: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "web.cli.experts", "verify-draw", tender, "--bundle", str(bundle)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    return done.returncode, (done.stdout + done.stderr).strip()


async def export(tctx: TenderContext, signer: Signer, out: Path) -> Path:
    await export_bundle(tctx.audit, out, signer.verifier().to_key_text())
    return out


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_verify_draw_from_the_bundle(tctx: TenderContext, beacon: LocalBeacon, signer: Signer, tmp_path: Path) -> None:
    tid, who = await drawn_tender(tctx, beacon)
    committee = [m.expert_id for m in await experts.committee_of(tctx.engine, tid)]
    await draw_service.decline(tctx, who.agency.actor, tid, committee[0], "出差 away", "unavailable", "说明 note-1")
    good = await export(tctx, signer, tmp_path / "good")
    code, line = verify(good, tid)
    assert code == 0 and line.startswith(f"ok: committee {', '.join(committee)} (tender {tid}, round "), line

    lines = (good / "entries.jsonl").read_bytes().splitlines(keepends=True)
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in ("checkpoint", "log.vkey"):
        (tampered / name).write_bytes((good / name).read_bytes())
    index = next(i for i, ln in enumerate(lines) if b'"kind":"experts.drawn"' in ln)
    lines[index] = lines[index].replace(committee[0].encode(), committee[1].encode(), 1)
    (tampered / "entries.jsonl").write_bytes(b"".join(lines))
    code, line = verify(tampered, tid)
    assert code == 1 and line.startswith("pingbiao: error: ") and "\n" not in line and f"第 {index} 条记录" in line, line

    drawn = (await tctx.audit.entries_for_tender(tid, kinds=["experts.drawn"]))[0]
    swapped = {**drawn.payload, "committee": [*drawn.payload["committee"][1:], drawn.payload["committee"][0]]}
    await tctx.audit.append(EntryDraft("experts.drawn", swapped, tid))
    code, line = verify(await export(tctx, signer, tmp_path / "swapped"), tid)
    assert code == 1 and line == (
        f"pingbiao: error: 记录的评标委员会与重算结果不符：记录为 {', '.join(swapped['committee'])}，重算为 "
        f"{', '.join(drawn.payload['committee'])}"
    ), line

    other = beacon.signature(drawn.payload["round"] - 1)
    assert other is not None
    forged = {**drawn.payload, "signature": other.hex()}
    await tctx.audit.append(EntryDraft("experts.draw_requested", (await tctx.audit.entries_for_tender(tid, kinds=["experts.draw_requested"]))[0].payload, tid))
    await tctx.audit.append(EntryDraft("experts.drawn", forged, tid))
    code, line = verify(await export(tctx, signer, tmp_path / "forged"), tid)
    assert code == 1 and line.startswith("pingbiao: error: 抽取所用的信标轮次不是申请后的第一轮：第 "), line
