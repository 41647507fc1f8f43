"""`experts rederive-pool` as an auditor given the expert database uses it: the honest pool and
its committed exclusions re-derive; a pool shrunk (an expert left out of the export, or removed
from the log and the bundle re-signed) and a changed fact are named by expert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crypto.beacon import LocalBeacon
from crypto.note import Signer
from evaluation.audit.bundle import export_bundle
from evaluation.experts import draw_service
from evaluation.experts.rederive import ExportError, rederive_pool
from evaluation.experts.verify import DrawMismatch
from evaluation.tenders.tender import TenderContext
from tests.evaluation.experts_fixtures import PURCHASER
from tests.evaluation.tender_fixtures import beacon, tctx  # noqa: F401  (fixtures)
from tests.evaluation.test_draw_service import drawn_tender
from tests.evaluation.test_verify_draw import payload_of, resign

PLAIN = {"size": 5, "purchaser": PURCHASER}


def cli(*args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "web.cli.experts", "rederive-pool", *args],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    return done.returncode, (done.stdout + done.stderr).strip()


def edited(export: dict[str, Any], expert: str, change: Any) -> str:
    obj = json.loads(json.dumps(export))
    obj["experts"] = [x for x in (change(e) if e["id"] == expert else e for e in obj["experts"]) if x is not None]
    return json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_the_pool_re_derives_and_changes_are_named(tctx: TenderContext, beacon: LocalBeacon,  # noqa: F811
                                                         signer: Signer, tmp_path: Path) -> None:
    tid, _ = await drawn_tender(tctx, beacon, PLAIN)
    good = tmp_path / "good"
    await export_bundle(tctx.audit, good, signer.verifier().to_key_text())
    export = await draw_service.expert_export(tctx.engine, tid)
    assert all("name" not in e and "id_number" not in e for e in export["experts"])  # no personal data
    text = json.dumps(export, ensure_ascii=False)

    check = rederive_pool(good, tid, text)
    assert check.pool == 6 and check.excluded == 3
    (tmp_path / "experts.json").write_text(text, encoding="utf-8")
    code, out = cli(str(good), "--tender", tid, "--experts", str(tmp_path / "experts.json"))
    assert code == 0 and out == f"ok: the pool of 6 experts and 3 committed exclusions of tender {tid} re-derive from the export"

    def mismatch(export_text: str, message: str, bundle: Path = good) -> None:
        with pytest.raises(DrawMismatch, match=message):
            rederive_pool(bundle, tid, export_text)

    drawn_pool = [e["id"] for e in export["experts"] if e["id"] not in ("E04", "E05", "E06")]
    # a pool shrunk: an expert of the logged pool missing from the export, an excluded one too
    mismatch(edited(export, drawn_pool[0], lambda e: None), rf"专家 {drawn_pool[0]} 在记录的专家库中，但不在导出文件中")
    mismatch(edited(export, "E04", lambda e: None), r"专家 E04 在记录中被回避（employment），但不在导出文件中")

    # a pool shrunk in the log: an eligible expert dropped from the request, the bundle re-signed
    def drop(p: dict[str, Any]) -> None:
        p["request"]["pool"] = [e for e in p["request"]["pool"] if e["id"] != drawn_pool[0]]
    shrunk = resign(good, tmp_path / "shrunk", signer, payload_of("experts.draw_requested", drop))
    mismatch(text, rf"专家 {drawn_pool[0]} 按导出文件在专家库中，但既不在记录的专家库中，也没有回避记录", shrunk)
    # ... or moved from the pool to a made-up exclusion
    def exclude(p: dict[str, Any]) -> None:
        drop(p)
        p["exclusions"].append({"expert": drawn_pool[0], "rule": "relative", "commitment": "00" * 32})
    moved = resign(good, tmp_path / "moved", signer, payload_of("experts.draw_requested", exclude))
    mismatch(text, rf"专家 {drawn_pool[0]} 在记录中被回避（relative），但按导出文件符合条件", moved)

    # a changed fact: E04's employment at the bidder ended a day earlier: same rule, other fact
    mismatch(edited(export, "E04", lambda e: {**e, "employers": [{**e["employers"][0], "to": "2024-12-30"}]}),
             r"专家 E04 的 employment 回避承诺与导出文件的事实不符")
    # E04 a director instead of an employee: wrong rule
    mismatch(edited(export, "E04", lambda e: {**e, "employers": [{**e["employers"][0], "role": "director"}]}),
             r"专家 E04 在记录中按规则 employment 回避，按导出文件为 directorship（规则不符）")
    # E05's relative no longer at a bidder: now eligible, yet excluded in the log
    mismatch(edited(export, "E05", lambda e: {**e, "relatives": []}),
             r"专家 E05 在记录中被回避（relative），但按导出文件符合条件")
    # an expert the export adds (imported after the draw, or hidden from the log)
    extra = json.loads(text)
    extra["experts"].append({**json.loads(text)["experts"][0], "id": "E99"})
    mismatch(json.dumps(extra), r"专家 E99 按导出文件在专家库中，但既不在记录的专家库中，也没有回避记录")


@pytest.mark.parametrize("text, message", [
    ("{", "导出文件不是有效的 JSON"),
    ('{"v": "pingbiao-experts-export-v1", "tender": "T", "agency": "a", "bidders": [], "experts": [{"id": 1e999}]}',
     "导出文件中有小数，不应出现"),
    ('[' * 100000 + ']' * 100000, "导出文件嵌套过深|导出文件不是有效的 JSON"),
    ('{"v": "pingbiao-experts-export-v1", "tender": "T", "agency": "a", "bidders": ["\\ud800"], "experts": []}',
     "导出文件中有无效字符"),
    ('{"v": "pingbiao-experts-export-v1", "tender": "T", "agency": "a", "bidders": [], "experts": [{"id": "E1"}]}',
     "导出文件第 1 位专家的格式不对"),
    ('{"v": "other"}', "导出文件的版本或格式不对（应为 pingbiao-experts-export-v1 对象）"),
])
def test_a_malformed_export_is_one_line(text: str, message: str, tmp_path: Path) -> None:
    from evaluation.experts.rederive import parse_export

    with pytest.raises(ExportError, match=message):
        parse_export(text)
