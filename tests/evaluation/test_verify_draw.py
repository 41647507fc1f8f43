"""`experts verify-draw` as an outsider uses it: an honest bundle verifies (and says when the draw
ran on the local beacon); bundles an operator tampered with and re-signed with the installation's
own log key are each rejected with a message naming what was changed; a whole rewrite (a pool
shrunk and redrawn) verifies on its own, which is why the auditor passes an older checkpoint
(`--since`), and then it is refused."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crypto import merkle
from crypto.beacon import LocalBeacon, LocalBeaconSource
from crypto.checkpoint import Checkpoint
from crypto.note import Signer, open_note, sign_note
from evaluation.audit.bundle import BundleError, bundle_line, export_bundle, verify_bundle
from evaluation.audit.entry import Actor, encode_leaf, parse_time
from evaluation.experts import avoidance, draw, draw_service
from evaluation.experts.draw_job import DrawJob
from evaluation.experts.verify import DrawMismatch, verify_draw
from evaluation.tenders.rules import LOCAL_BEACON_NOTE
from evaluation.tenders.tender import TenderContext
from tests.evaluation.experts_fixtures import PURCHASER
from tests.evaluation.tender_fixtures import beacon, tctx  # noqa: F401  (fixtures)
from tests.evaluation.test_draw_service import drawn_tender

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
PLAIN = {"size": 5, "purchaser": PURCHASER}  # 6 eligible, 5 seats: one expert in reserve
Entries = list[dict[str, Any]]


def resign(src: Path, dst: Path, signer: Signer, edit: Callable[[Entries], Entries]) -> Path:
    """What an operator holding the log key could do: edit the entries, renumber them, recompute
    the Merkle root and sign a new checkpoint with the installation's own key."""
    entries = [{k: v for k, v in json.loads(line).items() if k != "leaf"}
               for line in (src / "entries.jsonl").read_bytes().splitlines()]
    leaves = [encode_leaf(i, parse_time(e["time"]), e["tender"], Actor(**e["actor"]), e["kind"], e["payload"])
              for i, e in enumerate(edit(entries))]
    dst.mkdir()
    (dst / "entries.jsonl").write_bytes(b"".join(bundle_line(leaf) for leaf in leaves))
    (dst / "log.vkey").write_bytes((src / "log.vkey").read_bytes())
    origin = Checkpoint.parse(open_note((src / "checkpoint").read_bytes(), [signer.verifier()]).text).origin
    (dst / "checkpoint").write_bytes(sign_note(Checkpoint(origin, len(leaves), merkle.root_from_data(leaves)).to_bytes(), [signer]))
    verify_bundle(dst)  # the forgery is a valid bundle: only the draw checks can catch it
    return dst


def payload_of(kind: str, change: Callable[[dict[str, Any]], None], nth: int = 0) -> Callable[[Entries], Entries]:
    def edit(entries: Entries) -> Entries:
        found = [e for e in entries if e["kind"] == kind]
        change(found[nth]["payload"])
        return entries
    return edit


def cli(bundle: Path, tender: str, *extra: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "web.cli.experts", "verify-draw", tender, "--bundle", str(bundle), *extra],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    return done.returncode, (done.stdout + done.stderr).strip()


async def test_tampered_and_resigned_bundles_are_rejected(tctx: TenderContext, beacon: LocalBeacon,  # noqa: F811
                                                          signer: Signer, tmp_path: Path) -> None:
    tid, who = await drawn_tender(tctx, beacon, PLAIN)
    drawn = (await tctx.audit.entries_for_tender(tid, kinds=["experts.drawn"]))[0].payload
    committee, sequence = drawn["committee"], drawn["sequence"]
    reserve = [e for e in sequence if e not in committee]
    await export_bundle(tctx.audit, tmp_path / "before", signer.verifier().to_key_text())
    await draw_service.decline(tctx, who.agency.actor, tid, committee[0], "与投标人有利害关系", "avoidance", "回避申请 HB-1")
    good = tmp_path / "good"
    await export_bundle(tctx.audit, good, signer.verifier().to_key_text())

    request = (await tctx.audit.entries_for_tender(tid, kinds=["experts.draw_requested"]))[0].payload
    assert request["plan"]["purchaser"] == PURCHASER
    # an auditor with the expert database recomputes each exclusion's commitment from the fact
    e04 = next(x for x in request["exclusions"] if x["expert"] == "E04")
    fact = "employment at bidder 91330100BIDDER0000 2020-01-01..2024-12-31"
    assert e04 == {"expert": "E04", "rule": "employment", "commitment": avoidance.commitment(tid, "E04", "employment", fact)}
    check = verify_draw(good, tid)
    assert check.committee == tuple(committee) and check.replacements == tuple(reserve) and check.declined == (committee[0],)
    assert check.local_beacon and check.summary().endswith(LOCAL_BEACON_NOTE)  # said plainly

    def rejected(name: str, edit: Callable[[Entries], Entries], message: str) -> None:
        with pytest.raises(DrawMismatch, match=message):
            verify_draw(resign(good, tmp_path / name, signer, edit), tid)

    rejected("seed", payload_of("experts.drawn", lambda p: p.update(seed="00" * 32)),
             r"记录的种子与重算结果不符：第 \d+ 条记录的种子为 0{64}，重算为 [0-9a-f]{64}")
    rejected("randomness", payload_of("experts.drawn", lambda p: p.update(randomness="00" * 32)),
             r"第 \d+ 条记录的随机数 0{64} 不是第 \d+ 轮已核验信标签名的 SHA-256")
    # the operator's own beacon, same rounds, with valid signatures it made itself: only the pin catches it
    own = LocalBeacon.create(period=tctx.chain.period, genesis_time=tctx.chain.genesis_time)

    def own_chain(entries: Entries) -> Entries:
        request = next(e for e in entries if e["kind"] == "experts.draw_requested")["payload"]
        request["chain"] = own.chain.to_json()
        signature = own.signature(drawn["round"])
        assert signature is not None
        randomness = hashlib.sha256(signature).digest()
        again = draw.draw(draw.DrawRequest.from_json(request["request"]), randomness)
        return payload_of("experts.drawn", lambda p: p.update(
            signature=signature.hex(), randomness=randomness.hex(), seed=again.seed.hex(),
            committee=list(again.committee), sequence=list(again.sequence)))(entries)

    rejected("chain", lambda es: [e for e in own_chain(es) if e["kind"] not in ("experts.declined", "experts.replaced")],
             "第 \\d+ 条记录的信标链 [0-9a-f]{64} 不是项目发布时的 [0-9a-f]{64}")
    rejected("non-member", payload_of("experts.declined", lambda p: p.update(expert=reserve[0])),
             f"退出的专家当时不是评标委员会成员：第 \\d+ 条记录中的专家 {reserve[0]}")
    rejected("no-evidence", payload_of("experts.declined", lambda p: p.update(evidence="")),
             "专家退出缺少理由、原因或证明材料：第 \\d+ 条记录中专家 .* 的退出")
    rejected("deleted-decline", lambda es: [e for e in es if e["kind"] != "experts.declined"],
             r"第 \d+ 条记录 experts.replaced 之前没有 experts.declined（缺少一条退出记录）")
    rejected("date", payload_of("experts.draw_requested", lambda p: p["plan"].update(evaluation_date="2020-01-01")),
             "第 \\d+ 条记录的回避日期为 2020-01-01，项目的评标日期为 ")
    rejected("no-purchaser", payload_of("experts.draw_requested", lambda p: p["plan"].update(purchaser="")),
             "抽取申请没有写明采购人，无法核验回避")
    rejected("dropped-exclusion", payload_of("experts.draw_requested", lambda p: p.update(exclusions=p["exclusions"][1:])),
             "回避人数与承诺的回避记录不符：第 \\d+ 条记录的回避人数为 .*，回避记录为 ")
    # times: the log never goes back, and the randomness cannot be logged before its round existed
    def entry_time(kind: str, to: Callable[[Entries, dict[str, Any]], str]) -> Callable[[Entries], Entries]:
        def edit(entries: Entries) -> Entries:
            e = next(e for e in entries if e["kind"] == kind)
            e["time"] = to(entries, e)
            return entries
        return edit

    rejected("backdated", entry_time("experts.draw_requested", lambda es, e: "2020-01-01T00:00:00.000000Z"),
             r"审计日志的时间倒退（疑似补记）：第 \d+ 条记录的时间 2020-01-01T00:00:00.000000Z 早于第 \d+ 条记录的 ")
    rejected("early-drawn", entry_time("experts.drawn", lambda es, e: next(x for x in es if x["kind"] == "experts.draw_requested")["time"]),
             rf"抽取结果记录在信标轮次公布之前：第 \d+ 条记录 experts.drawn 记于 .*，第 {drawn['round']} 轮公布于 ")
    rejected("other-refill", payload_of("experts.replaced", lambda p: p.update(replacements=[committee[0]])),
             "记录的替补专家与重算结果不符：第 \\d+ 条记录为 .*，重算为 ")

    # A rewrite from the request on: the first member struck from the pool, the draw re-run with the
    # same beacon round. Consistent in itself, so it verifies alone …
    def shrink(entries: Entries) -> Entries:
        request = next(e for e in entries if e["kind"] == "experts.draw_requested")["payload"]
        request["request"]["pool"] = [x for x in request["request"]["pool"] if x["id"] != committee[0]]
        again = draw.draw(draw.DrawRequest.from_json(request["request"]), bytes.fromhex(drawn["randomness"]))
        payload_of("experts.drawn", lambda p: p.update(seed=again.seed.hex(), committee=list(again.committee),
                                                       sequence=list(again.sequence)))(entries)
        return entries

    rewritten = resign(tmp_path / "before", tmp_path / "rewritten", signer, shrink)
    assert committee[0] not in verify_draw(rewritten, tid).committee
    # … but not against the checkpoint the auditor kept from the first export.
    kept = (tmp_path / "before" / "checkpoint").read_bytes()
    with pytest.raises(BundleError, match="审计包与起点检查点不一致"):
        verify_draw(rewritten, tid, since=kept)
    code, line = cli(rewritten, tid, "--since", str(tmp_path / "before" / "checkpoint"))
    assert code == 1 and "\n" not in line and "审计包与起点检查点不一致" in line, line
    code, out = cli(good, tid, "--since", str(tmp_path / "before" / "checkpoint"))
    assert code == 0 and "consistent with the checkpoint of" in out and LOCAL_BEACON_NOTE in out, out


async def test_the_avoidance_day_is_the_tenders_and_the_purchaser_is_required(tctx: TenderContext) -> None:  # noqa: F811
    from evaluation.errors import InvalidRequest
    from evaluation.tenders.rules import opening_day, parse_spec
    from tests.evaluation.experts_fixtures import opened_tender, people
    from tests.evaluation.tender_fixtures import spec

    who = await people(tctx)
    t = await opened_tender(tctx, who)
    day = opening_day(t.spec.opening_time).isoformat()
    with pytest.raises(InvalidRequest, match=f"抽取只能按项目的评标日期（{day}）进行回避"):
        await draw_service.request_draw(tctx, who.agency.actor, t.id, {**PLAIN, "evaluation_date": "2026-05-10"})
    with pytest.raises(InvalidRequest, match="请填写采购人的统一社会信用代码（用于回避）"):
        await draw_service.request_draw(tctx, who.agency.actor, t.id, {"size": 5})
    assert not await tctx.audit.entries_for_tender(t.id, kinds=["experts.draw_requested"])
    with pytest.raises(InvalidRequest, match="评标日期须在开标当天至开标后 30 天之内（开标日为 .*，收到 2020-01-01）"):
        parse_spec(spec(evaluation_date="2020-01-01"))
    with pytest.raises(InvalidRequest, match="「评标日期」不是有效日期"):
        parse_spec(spec(evaluation_date="tomorrow"))


async def test_a_new_draw_only_after_the_reserve_ran_out(tctx: TenderContext, beacon: LocalBeacon,  # noqa: F811
                                                         signer: Signer, tmp_path: Path) -> None:
    """Declines until the reserve cannot refill, then a new request: the bundle verifies, and says
    the last draw. The operator's shortcut — drop the decline that exhausted the first draw, so a
    disliked committee is replaced by a redraw — is refused, as is a second publication."""
    tid, who = await drawn_tender(tctx, beacon, PLAIN)
    committee = (await tctx.audit.entries_for_tender(tid, kinds=["experts.drawn"]))[0].payload["committee"]
    await draw_service.decline(tctx, who.agency.actor, tid, committee[0], "与投标人有利害关系", "avoidance", "回避申请 HB-1")
    await draw_service.decline(tctx, who.agency.actor, tid, committee[1], "因病无法到场", "unavailable", "病假证明 BJ-2")
    assert await tctx.audit.entries_for_tender(tid, kinds=["experts.exhausted"])
    await draw_service.request_draw(tctx, who.agency.actor, tid, {**PLAIN, "purchaser_reps": 1})
    job = DrawJob(tctx, LocalBeaconSource(beacon))
    task = asyncio.create_task(job.run())
    try:
        await asyncio.wait_for(job.drawn(tid), timeout=20)
    finally:
        task.cancel()
        await job.stop()
    good = tmp_path / "good"
    await export_bundle(tctx.audit, good, signer.verifier().to_key_text())
    second = (await tctx.audit.entries_for_tender(tid, kinds=["experts.drawn"]))[1].payload
    check = verify_draw(good, tid)
    assert check.committee == tuple(second["committee"]) and not check.exhausted

    def without_exhaustion(entries: Entries) -> Entries:
        last_decline = [e for e in entries if e["kind"] == "experts.declined"][-1]
        return [e for e in entries if e is not last_decline and e["kind"] != "experts.exhausted"]

    with pytest.raises(DrawMismatch, match=r"上一次抽取尚未用尽就有新的抽取申请：第 \d+ 条记录申请抽取时，第 \d+ 条记录的抽取尚未用尽"):
        verify_draw(resign(good, tmp_path / "redraw", signer, without_exhaustion), tid)

    def published_again(entries: Entries) -> Entries:
        first = next(e for e in entries if e["kind"] == "tender.published")
        at = entries.index(first)
        return [*entries[: at + 1], json.loads(json.dumps(first)), *entries[at + 1 :]]

    with pytest.raises(DrawMismatch, match="项目被发布了两次，核验不通过：第 \\d+ 条记录再次发布项目 "):
        verify_draw(resign(good, tmp_path / "republished", signer, published_again), tid)
