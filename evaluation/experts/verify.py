"""Re-running a tender's expert draw from an audit export alone (`pingbiao experts verify-draw`).

Checks, in order, each failure one line naming what is wrong: the bundle itself
(evaluation.audit.bundle.verify_bundle), and with ``since`` its consistency with an older
checkpoint the auditor kept (a rewritten log fails here); entry times never going back (a
backdated request); the tender's one ``tender.published``, its last ``experts.draw_requested``
and the one ``experts.drawn`` after it, then each earlier request the same way, each of which must
end in ``experts.exhausted`` (a new draw is only allowed then); the chain info in the
request (its hash) is the chain the tender was published with; the round is the first after the
request entry's time, and the drawn entry is not logged before that round's time; the beacon
signature of that round under the chain's key (crypto.bls.verify_beacon); the logged randomness is SHA-256 of that signature, the logged seed,
committee and sequence are the recomputed ``draw.draw(request, randomness)``; every decline is of a
member seated at that moment and carries its ground and evidence; every ``experts.replaced`` (or
``experts.exhausted``) follows its decline, names exactly the logged decliners and equals
``draw.refill``. A draw on the embedded local beacon is flagged (LOCAL_BEACON_NOTE).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crypto import bls
from crypto.chain import ChainInfo
from crypto.errors import CryptoError
from evaluation.audit.bundle import ENTRIES_FILE, verify_bundle
from evaluation.audit.entry import parse_time
from evaluation.errors import DomainError, IntegrityFailure
from evaluation.experts import draw
from evaluation.tenders.rules import LOCAL_BEACON_NOTE, is_local_beacon, opening_day
from evaluation.tenders.rules import parse_time as parse_tender_time

KINDS = ("tender.published", "tender.amended", "tender.postponed", "experts.draw_requested", "experts.drawn", "experts.declined", "experts.replaced",
         "experts.exhausted")
DECLINE_GROUNDS = ("avoidance", "unavailable")  # 回避申请, 无法到场 (draw_service.DECLINE_GROUNDS)


class DrawMismatch(IntegrityFailure):
    """The logged draw cannot be reproduced; the message names the first mismatch."""


@dataclass(frozen=True)
class DrawCheck:
    tender: str
    round: int
    committee: tuple[str, ...]
    replacements: tuple[str, ...]
    declined: tuple[str, ...] = ()
    local_beacon: bool = False
    since_size: int | None = None
    exhausted: bool = False

    def summary(self) -> str:
        extra = f"; replacements {', '.join(self.replacements)}" if self.replacements else ""
        since = f"; consistent with the checkpoint of {self.since_size} entries" if self.since_size is not None else ""
        local = f"\n{LOCAL_BEACON_NOTE}" if self.local_beacon else ""
        out = "; exhausted: the reserve cannot refill the quotas, a new draw request is needed" if self.exhausted else ""
        return f"ok: committee {', '.join(self.committee)} (tender {self.tender}, round {self.round}){extra}{out}{since}{local}"


def _entries(directory: Path, tender: str) -> list[dict[str, Any]]:
    """The tender's entries of KINDS, checking on the way that the log never goes back in time
    (the log assigns each batch a time never earlier than the previous entry's, docs/audit-log.md):
    a backdated draw request would have to sit after entries logged later than it claims."""
    out, previous = [], None
    with open(directory / ENTRIES_FILE, "rb") as f:
        for line in f:
            obj = json.loads(line)
            time = obj.get("time")  # RFC 3339, fixed width (six fractional digits, Z): compared as text
            if previous is not None and time < previous["time"]:
                raise DrawMismatch("审计日志的时间倒退（疑似补记）：第 {entry} 条记录的时间 {time} 早于第 {previous} 条记录的 {previous_time}",
                                   entry=obj.get("index"), time=time, previous=previous["index"], previous_time=previous["time"])
            previous = obj
            if obj.get("tender") == tender and obj.get("kind") in KINDS:
                out.append(obj)
    return out


tender_entries = _entries  # the tender's draw entries, in log order (also for evaluation/experts/rederive.py)


def verify_draw(directory: Path, tender: str, since: bytes | None = None) -> DrawCheck:
    """Verify the bundle in `directory` (and its consistency with the older signed checkpoint
    `since`), then the draw of `tender` in it. Raises DrawMismatch/BundleError."""
    report = verify_bundle(directory, since=since)
    entries = _entries(directory, tender)
    requests = [i for i, e in enumerate(entries) if e["kind"] == "experts.draw_requested"]
    if not requests:
        raise DrawMismatch("审计包中没有该项目的抽取申请（项目 {tender}）", tender=tender)
    published = [e for e in entries if e["kind"] == "tender.published"]
    if not published or published[0]["index"] > entries[requests[0]]["index"]:
        raise DrawMismatch("审计包中抽取申请之前没有该项目的发布记录（项目 {tender}）", tender=tender)
    if len(published) > 1:
        raise DrawMismatch("项目被发布了两次，核验不通过：第 {entry} 条记录再次发布项目 {tender}（首次在第 {first} 条记录）",
                           entry=published[1]["index"], tender=tender, first=published[0]["index"])
    # A new request is only allowed once the previous draw's reserve ran out (draw_service.request_draw):
    # every earlier request must verify on its own and end in experts.exhausted, so a draw the
    # operator disliked cannot be silently replaced by another.
    # The draw that stands (the last request) is checked first, then the earlier ones in order.
    bounds = [*requests, len(entries)]
    check = _check_request(entries, bounds[-2], bounds[-1], published[0], tender, report.since_size)
    for start, end in zip(bounds[:-2], bounds[1:-1]):
        if not _check_request(entries, start, end, published[0], tender, report.since_size).exhausted:
            raise DrawMismatch("上一次抽取尚未用尽就有新的抽取申请：第 {entry} 条记录申请抽取时，第 {previous} 条记录的抽取尚未用尽",
                               entry=entries[end]["index"], previous=entries[start]["index"])
    return check


def _check_request(entries: list[dict[str, Any]], start: int, end: int, published: dict[str, Any], tender: str,
                   since_size: int | None) -> DrawCheck:
    """Verify the draw request at entries[start] and what follows it up to entries[end] (the next
    request or the end of the tender's entries)."""
    req_entry = entries[start]
    later = entries[start + 1 : end]
    drawn = next((e for e in later if e["kind"] == "experts.drawn"), None)
    if drawn is None:
        raise DrawMismatch("审计包中抽取申请之后没有抽取结果（抽取申请为第 {entry} 条记录）", entry=req_entry["index"])
    p = req_entry["payload"]
    try:
        chain = ChainInfo.from_json(p["chain"])
        chain.check_hash()
    except (CryptoError, KeyError, TypeError) as exc:
        raise DrawMismatch("抽取申请中的信标信息无法使用：{problem}", problem=str(exc)[:200]) from None
    pinned = published["payload"].get("chain")
    if chain.hash != pinned:
        raise DrawMismatch("抽取申请所用的时间信标与项目发布时不同：第 {entry} 条记录的信标链 {chain} 不是项目发布时的 {pinned}（第 {published} 条记录）",
                           entry=req_entry["index"], chain=chain.hash, pinned=pinned, published=published["index"])
    try:
        request = draw.DrawRequest.from_json(p["request"])
    except DomainError as exc:
        raise DrawMismatch(exc.text) from None
    if request.to_json() != p["request"] or request.tender != tender:
        raise DrawMismatch("记录的抽取申请与项目应有的申请不符（项目 {tender}）", tender=tender)
    _check_avoidance_inputs(req_entry, request, entries[:start])
    expected = chain.round_at(parse_time(req_entry["time"]).timestamp()) + 1
    draws = [e for e in later if e["kind"] == "experts.drawn"]
    result, round = [_check_drawn(e, chain, request, expected, req_entry["index"]) for e in draws][0]
    if len(draws) > 1:
        raise DrawMismatch("同一抽取申请有两次抽取结果：第 {entry} 条记录是第 {request} 条记录的抽取申请的第二个抽取结果",
                               entry=draws[1]["index"], request=req_entry["index"])
    committee, declined, replacements, exhausted = _check_declines(
        request, result, [e for e in later if e["index"] > drawn["index"]])
    return DrawCheck(tender, round, result.committee, tuple(replacements), tuple(declined), is_local_beacon(chain),
                     since_size, exhausted)


def scheduled_day(tender_entries: list[dict[str, Any]]) -> str:
    """The tender's evaluation day as its log states it: the last evaluation_date published or
    amended, else the opening day (China time) of the last opening time published or postponed."""
    day, opening = None, None
    for e in tender_entries:
        p = e["payload"]
        if e["kind"] == "tender.published":
            day, opening = p.get("evaluation_date"), p.get("opening_time")
        elif e["kind"] == "tender.amended" and "evaluation_date" in p.get("changes", {}):
            day = p["changes"]["evaluation_date"]
        elif e["kind"] == "tender.postponed":
            opening = p.get("opening_time")
    if day is not None:
        return str(day)
    return opening_day(parse_tender_time(opening)).isoformat()


def _check_avoidance_inputs(entry: dict[str, Any], request: draw.DrawRequest, before: list[dict[str, Any]]) -> None:
    """The 回避 inputs of the request as the log fixes them: the evaluation day is the tender's
    scheduled one, a purchaser is named, and every exclusion count is backed by one committed
    exclusion per expert, none of them in the pool."""
    p, where = entry["payload"], entry["index"]
    plan = p.get("plan") or {}
    day = scheduled_day(before)
    if plan.get("evaluation_date") != day:
        raise DrawMismatch("回避所用日期不是项目的评标日期：第 {entry} 条记录的回避日期为 {date}，项目的评标日期为 {day}",
                           entry=where, date=plan.get("evaluation_date"), day=day)
    if not str(plan.get("purchaser") or "").strip():
        raise DrawMismatch("抽取申请没有写明采购人，无法核验回避（第 {entry} 条记录）", entry=where)
    exclusions = p.get("exclusions")
    if not isinstance(exclusions, list):
        raise DrawMismatch("抽取申请缺少逐位专家的回避记录（第 {entry} 条记录）", entry=where)
    counts: dict[str, int] = {}
    pool = {e.id for e in request.pool}
    for x in exclusions:
        if not isinstance(x, dict) or len(str(x.get("commitment", ""))) != 64:
            raise DrawMismatch("回避记录缺少规则或承诺（第 {entry} 条记录）：{exclusion}", entry=where, exclusion=str(x)[:80])
        if x.get("expert") in pool:
            raise DrawMismatch("被回避的专家仍在专家库中：第 {entry} 条记录中专家 {expert} 被回避（{rule}）",
                               entry=where, expert=x.get("expert"), rule=x.get("rule"))
        counts[str(x.get("rule"))] = counts.get(str(x.get("rule")), 0) + 1
    if counts != dict(p.get("excluded") or {}):
        raise DrawMismatch("回避人数与承诺的回避记录不符：第 {entry} 条记录的回避人数为 {counts}，回避记录为 {committed}",
                           entry=where, counts=p.get("excluded"), committed=counts)


def _check_declines(request: draw.DrawRequest, result: draw.DrawResult,
                    entries: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], bool]:
    """Walk the declines and refills after the draw: each decline of a member seated at that
    moment, with its ground and evidence; each refill right after its decline, naming exactly the
    logged decliners, equal to draw.refill; nothing after an experts.exhausted. Returns
    (committee, decliners, replacements, exhausted)."""
    committee, declined, replacements = list(result.committee), [], []
    pending: dict[str, Any] | None = None
    for e in entries:
        kind, r = e["kind"], e["payload"]
        if kind == "experts.declined":
            if pending is not None:
                raise DrawMismatch("专家退出后未补抽就有下一位退出：第 {previous} 条记录的退出在第 {entry} 条记录之前没有补抽",
                                   entry=e["index"], previous=pending["index"])
            who = r.get("expert")
            if who not in committee:
                raise DrawMismatch("退出的专家当时不是评标委员会成员：第 {entry} 条记录中的专家 {expert}", entry=e["index"], expert=who)
            if r.get("ground") not in DECLINE_GROUNDS or not str(r.get("evidence") or "").strip() or not str(r.get("reason") or "").strip():
                raise DrawMismatch("专家退出缺少理由、原因或证明材料：第 {entry} 条记录中专家 {expert} 的退出", entry=e["index"], expert=who)
            declined.append(who)
            pending = e
            continue
        if kind not in ("experts.replaced", "experts.exhausted"):
            continue
        if pending is None:
            raise DrawMismatch("补抽记录之前没有专家退出的记录：第 {entry} 条记录 {kind} 之前没有 experts.declined（缺少一条退出记录）",
                               entry=e["index"], kind=kind)
        gone = pending["payload"]["expert"]
        if sorted(r.get("declined") or []) != sorted(declined):
            raise DrawMismatch("退出的专家与记录不符：第 {entry} 条记录中的退出专家为 {listed}，记录的退出为 {logged}", entry=e["index"],
                               listed=", ".join(sorted(r.get("declined") or [])), logged=", ".join(sorted(declined)))
        members = [i for i in committee if i != gone]
        if sorted(r.get("members") or []) != sorted(members):
            raise DrawMismatch("评标委员会成员与抽取结果不符：第 {entry} 条记录中的成员为 {members}，应为评标委员会 {committee} 去掉 {gone}",
                               entry=e["index"], members=", ".join(r.get("members") or []), committee=", ".join(committee), gone=gone)
        try:
            again = list(draw.refill(request, result, members, declined))
        except draw.TooFewExperts:
            again = None
        logged = r.get("replacements") if kind == "experts.replaced" else None
        if again != logged:
            raise DrawMismatch("记录的替补专家与重算结果不符：第 {entry} 条记录为 {logged}，重算为 {again}",
                               entry=e["index"], logged=logged, again=again)
        pending = None
        if logged is None:
            rest = [x for x in entries if x["index"] > e["index"] and x["kind"].startswith("experts.")]
            if rest:
                raise DrawMismatch("备选专家用完后仍有记录：第 {entry} 条记录 {kind} 在抽取用尽（第 {exhausted} 条记录）之后",
                                   entry=rest[0]["index"], kind=rest[0]["kind"], exhausted=e["index"])
            return committee, declined, replacements, True
        committee = members + logged
        replacements.extend(logged)
    if pending is not None:
        raise DrawMismatch("专家退出后没有补抽或用尽的记录：第 {entry} 条记录中专家 {expert} 的退出之后没有 experts.replaced 或 experts.exhausted",
                           entry=pending["index"], expert=pending["payload"]["expert"])
    return committee, declined, replacements, False


def _check_drawn(entry: dict[str, Any], chain: ChainInfo, request: draw.DrawRequest, expected: int, request_index: int) -> tuple[draw.DrawResult, int]:
    """Check one logged experts.drawn entry against the recomputed draw: round, signature,
    randomness, seed, committee and sequence."""
    d = entry["payload"]
    round = d.get("round")
    if round != expected:
        raise DrawMismatch("抽取所用的信标轮次不是申请后的第一轮：第 {round} 轮，应为第 {expected} 轮（抽取申请为第 {entry} 条记录）",
                           round=round, expected=expected, entry=request_index)
    try:
        signature = bytes.fromhex(d["signature"])
        bls.verify_beacon(chain, round, signature)
    except (CryptoError, ValueError, TypeError, KeyError) as exc:
        raise DrawMismatch("信标签名核验不通过（第 {round} 轮）：{problem}", round=round, problem=str(exc)[:200]) from None
    published = chain.time_of(round)
    if parse_time(entry["time"]).timestamp() < published:
        raise DrawMismatch("抽取结果记录在信标轮次公布之前：第 {entry} 条记录 experts.drawn 记于 {time}，第 {round} 轮公布于 {published}",
                           entry=entry["index"], time=entry["time"], round=round,
                           published=datetime.fromtimestamp(published, timezone.utc).isoformat())
    randomness = hashlib.sha256(signature).digest()
    if d.get("randomness") != randomness.hex():
        raise DrawMismatch("记录的随机数与信标签名不符：第 {entry} 条记录的随机数 {logged} 不是第 {round} 轮已核验信标签名的 SHA-256（{expected}）",
                           entry=entry["index"], logged=d.get("randomness"), round=round, expected=randomness.hex())
    result = draw.draw(request, randomness)
    if d.get("seed") != result.seed.hex():
        raise DrawMismatch("记录的种子与重算结果不符：第 {entry} 条记录的种子为 {logged}，重算为 {expected}",
                           entry=entry["index"], logged=d.get("seed"), expected=result.seed.hex())
    if list(result.committee) != d.get("committee"):
        raise DrawMismatch("记录的评标委员会与重算结果不符：记录为 {logged}，重算为 {expected}",
                           logged=", ".join(d.get("committee") or []), expected=", ".join(result.committee))
    if list(result.sequence) != d.get("sequence"):
        raise DrawMismatch("记录的抽取序列与重算结果不符")
    return result, round
