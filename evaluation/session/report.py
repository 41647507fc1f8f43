"""The evaluation report (评标报告): its content as canonical JSON (what members sign: the SHA-256 of
those bytes), and its PDF rendering (reportlab, the built-in CID font STSong-Light for Chinese).

``build`` is pure. The HTML page (web/pages/templates/evaluation_report.html) and ``render_pdf`` show the
same content and print its hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from evaluation.audit.entry import canonical_json
from evaluation.errors import Lookup, Text, unchanged
from evaluation.pdf import Pdf
from evaluation.session.scoring import Sheet, display
from evaluation.tenders.rules import LOCAL_BEACON_NOTE

if TYPE_CHECKING:
    from evaluation.session.session import Session

REPORT_VERSION = "pingbiao-report/1"
ROUNDING = ("总分四舍五入保留两位小数后比较，显示相同者按评审价格由低到高，仍相同按并列规则 "
            "Totals are compared as shown (2 decimals, half up); equal shown totals go to the lower evaluated price, then the tie rule.")


def yuan(fen: int | Fraction | str) -> str:
    return display(Fraction(fen) / 100)


def bid_prices(b: Mapping[str, Any]) -> dict[str, Any]:
    """How a bid's price reads: the bid price (报价), the SME deduction (小微企业价格扣除) in percent
    and the evaluated price (评审价格) beside it, and why it is invalid (null when valid)."""
    deduction = Fraction(b.get("deduction", "0"))
    evaluated = b.get("evaluated_fen", b["price_fen"])
    return {"price": yuan(b["price_fen"]), "deduction_percent": display(deduction * 100).rstrip("0").rstrip("."),
            "evaluated_price": yuan(evaluated), "deducted": deduction != 0, "invalid": b.get("invalid")}


def build(
    tender: Mapping[str, Any],
    session: Session,
    original: Mapping[str, Sequence[Mapping[str, Any]]],
    changes: Sequence[Mapping[str, Any]],
    sheets: Sequence[Sheet],
    review: Mapping[str, Any],
    tally_payload: Mapping[str, Any],
    objections: Sequence[Mapping[str, Any]],
    *,
    local_beacon: bool = False,
) -> dict[str, Any]:
    """The report's content: members and attendance, every member's final scores by criterion (with
    the originally signed ones), changes and their reasons, deviations, ranking, recommendation,
    abnormally low bids, and the objections to the opening record with their answers."""
    names = {b["bid"]: b["bidder_name"] for b in session.bids}
    lot = session.config.lot
    lots = tender.get("lots") or []
    return {
        "version": REPORT_VERSION,
        "tender": {"id": tender["id"], "title": tender["title"], "agency_name": tender["agency_name"],
                   "method": tender["method"], "evaluation_method": session.config.method.value,
                   **({} if lot is None or lot > len(lots) else {"lot": {"lot": lot, "name": lots[lot - 1]["name"]}})},
        "config": session.config.to_json(),
        "criteria": [{"code": c.code, "kind": c.kind.value, "title": c.title, "max_points": str(c.max_points)}
                     for c in session.criteria.items],
        "members": [member_row(m, session) for m in session.members],
        "bids": [{"bid": b["bid"], "bidder_name": b["bidder_name"], **bid_prices(b)} for b in session.bids],
        "scores": [
            {"expert": s.expert, "bid": s.bid, "bidder_name": names.get(s.bid, s.bid),
             "scores": {k: str(v) for k, v in sorted(s.scores.items())},
             "original": next((dict(o["scores"]) for o in original.get(s.expert, []) if o["bid"] == s.bid), {})}
            for s in sorted(sheets, key=lambda s: (s.bid, s.expert))
        ],
        "changes": [dict(c) for c in changes],
        "deviations": list(review["deviations"]),
        "abnormally_low": dict(review["abnormally_low"]),
        "ranking": [
            {"rank": b["rank"], "bid": b["bid"], "bidder_name": names.get(b["bid"], b["bid"]), "total": b["total"],
             "total_display": display(Fraction(b["total"])), "price_score": b["price_score"],
             "price_score_display": display(Fraction(b["price_score"])), **bid_prices(b)}
            for b in tally_payload["tally"]["bids"]
        ],
        "recommendation": dict(tally_payload["recommendation"]),
        "tie_rule": tally_payload["tie_rule"],
        "rounding": ROUNDING,
        "local_beacon": LOCAL_BEACON_NOTE if local_beacon else None,
        "objections": [{"bidder": o["bidder"], "text": o["text"], "answer": o["answer"]} for o in objections],
        "decisions": decisions(session.bids),
    }


def decisions(bids: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The committee's decisions on bids, for each bid that has one: its arithmetic correction (87号令
    art. 59) and the bidder's answer, its price query (art. 60) with the justification, its document
    (name and SHA-256) and the decision, and why it is invalid (ground and reason)."""
    out = []
    for b in bids:
        c, q = b.get("correction"), b.get("low_price")
        if not (c or q or b.get("invalid")):
            continue
        said = (q or {}).get("justification") or {}
        out.append({
            "bid": b["bid"], "bidder_name": b["bidder_name"],
            "opened_price": yuan(c["original_fen"] if c else b["price_fen"]),
            "correction": None if not c else {"rule": c["rule"], "corrected_price": yuan(c["corrected_fen"]),
                                              "explanation": c["explanation"], "status": c["status"]},
            "low_price": None if not q else {"due_us": q["due_us"], "status": q["status"], "text": said.get("text"),
                                             "document_name": said.get("document_name"),
                                             "document_sha256": said.get("document_sha256"), "decision": q.get("decision")},
            "invalid_ground": b.get("invalid_ground"), "invalid_reason": b.get("invalid_reason"), "invalid": b.get("invalid"),
        })
    return out


def member_row(m: Any, session: Session) -> dict[str, Any]:
    """A member as the report lists it: attendance, and for a member that withdrew (回避) its
    declared ties and who filled its seat (补抽); a replacement names the seat it fills."""
    row = {"seat": m.seat, "account": m.account, "name": m.name, "kind": m.kind, "site": m.site,
           "specialty": m.specialty, "present": m.checked_in_us is not None, "checked_in_us": m.checked_in_us,
           "leader": m.account == session.leader}
    if m.recused_us is not None:
        by = next((o for o in session.members if o.fills == m.seat), None)
        row["recused"] = {"at_us": m.recused_us, "bidders": [r.get("bidder_name", "") for r in m.recusal],
                          "replaced_by": None if by is None else {"seat": by.seat, "name": by.name}}
    if m.fills is not None:
        row["fills"] = m.fills
    return row


def attendance(m: Mapping[str, Any], lookup: Lookup = unchanged) -> str:
    """The attendance line of a report's member (the PDF's; the page says the same)."""
    recused = m.get("recused")
    if recused:
        by = recused.get("replaced_by")
        text = Text("回避（由 {name} 补抽替补）", name=by["name"]) if by else Text("回避（席位未补）")
        return text.render(lookup)
    if m.get("fills"):
        return Text("是（替补第 {seat} 席）" if m["present"] else "未签到（替补第 {seat} 席）", seat=m["fills"]).render(lookup)
    return lookup("是" if m["present"] else "未签到")


SITES = {"main": "主场", "remote": "副场"}


def _spread(d: Mapping[str, Any], lookup: Lookup) -> list[str]:
    """The median and the other experts' range of a deviation (older reports: the others' mean)."""
    if "median" not in d:
        return ["—", Text("均值 {mean}", mean=display(Fraction(d["others_mean"]))).render(lookup)]
    return [display(Fraction(d["median"])), f"{display(Fraction(d['others_low']))}–{display(Fraction(d['others_high']))}"]


CORRECTION_RULES = {"schedule": "以开标一览表为准", "words": "以大写金额为准", "unit_decimal": "以总价为准修改单价",
                    "unit_sum": "以单价汇总为准"}
CORRECTION_STATUS = {"pending": "待投标人确认", "confirmed": "投标人已确认", "refused": "投标人不确认"}
QUERY_STATUS = {"open": "待投标人说明", "justified": "已提交说明，待决定", "accepted": "说明已接受", "rejected": "说明未被接受"}


def _word(words: Mapping[str, str], code: str, lookup: Lookup) -> str:
    """A code's word in the report's language (the code itself if it has none)."""
    return lookup(words[code]) if code in words else code


def _correction_text(d: Mapping[str, Any], lookup: Lookup = unchanged) -> str:
    c = d.get("correction")
    if not c:
        return "—"
    return Text("修正后 {price} 元（{rule}）：{explanation}；{status}", price=thousands(c["corrected_price"]),
                rule=_word(CORRECTION_RULES, c["rule"], lookup), explanation=c["explanation"],
                status=_word(CORRECTION_STATUS, c["status"], lookup)).render(lookup)


def _query_text(d: Mapping[str, Any], lookup: Lookup = unchanged) -> str:
    q = d.get("low_price")
    if not q:
        return "—"
    parts = [Text(QUERY_STATUS.get(q["status"], q["status"]))]
    if q.get("text"):
        parts.append(Text("说明：{text}", text=q["text"]))
    if q.get("document_name"):
        parts.append(Text("材料：{name}（SHA-256 {sha256}）", name=q["document_name"], sha256=q["document_sha256"]))
    if q.get("decision"):
        parts.append(Text("决定理由：{reason}", reason=q["decision"]))
    return Text.join(parts).render(lookup)


def digest(report: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the report's canonical JSON: what every member signs."""
    return hashlib.sha256(canonical_json(report)).hexdigest()


MEMBER_KINDS = {"expert": "评审专家", "purchaser_rep": "采购人代表"}
CHANGE_REASONS = {"sum_error": "计算错误", "out_of_scale": "分值超出范围", "objective_inconsistent": "客观分不一致",
                  "abnormal_high_low": "畸高畸低"}


def points(text: Any) -> str:
    """A score as people write it: "79/2" → "39.5", "40" → "40" (exact fractions in the report)."""
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return str(text)
    if value.denominator == 1:
        return str(value.numerator)
    shown = display(value)
    return shown.rstrip("0").rstrip(".") if Fraction(shown) == value else shown


def thousands(yuan_text: Any) -> str:
    """ "1234567.50" → "1,234,567.50" (a report's money, already in yuan)."""
    text = str(yuan_text)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, cents = text.partition(".")
    return f"{sign}{int(whole):,}{dot}{cents}" if whole.isdigit() else str(yuan_text)


def render_pdf(report: Mapping[str, Any], sha256: str, signatures: Sequence[Mapping[str, Any]],
               names: Mapping[str, Mapping[str, str]] | None = None,
               when: Callable[[float], str] | None = None, lookup: Lookup = unchanged) -> bytes:
    """The report as a PDF (A4), the document a committee signs: with people, bidders and criteria
    by name (`names`: "people" by account, "bids" by bid id, "criteria" by code), the signatures
    (``{"account", "at_us"}``) with their times as `when` shows unix seconds (the installation's
    clock with its zone; UTC without it). In Chinese; `lookup` (the catalogue's, web/i18n) gives
    a reader's copy in English — the signed content (names, texts, the hash) stays as signed.
    Text in reportlab's CID font STSong-Light (no font files; evaluation/pdf.py)."""
    pdf = Pdf(lookup)
    p, table, head, title = pdf.p, pdf.table, pdf.head, pdf.title

    tender = report["tender"]
    names = names or {}
    people, bids, criteria = names.get("people", {}), names.get("bids", {}), names.get("criteria", {})
    codes = [c["code"] for c in report["criteria"] if c["kind"] != "price"]

    def person(account: str) -> str:
        return people.get(account, account)

    def bidder(bid: str) -> str:
        return bids.get(bid, bid)

    def criterion(code: str | None) -> str:
        return criteria.get(code, code) if code else Text("总分").render(lookup)

    def at(us: int) -> str:
        if when is not None:
            return when(us / 1e6)
        return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def word(words: Mapping[str, str], code: str) -> str:
        return _word(words, code, lookup)

    recommendation = report["recommendation"]
    candidates = "、".join(bidder(b) for b in recommendation["candidates"])
    low = [Text("{bidder}（{why}）", bidder=bidder(k), why=v) for k, v in report["abnormally_low"].items()]
    flow: list[Any] = [
        p(Text("评标报告"), title),
        p(Text("项目名称：{title}（编号 {id}）", title=tender["title"], id=tender["id"])),
        p(Text("采购人：{agency}", agency=tender["agency_name"])),
        *([p(Text("分包：第{lot}包 {name}", lot=tender["lot"]["lot"], name=tender["lot"]["name"]))] if tender.get("lot") else []),
        p(Text("报告哈希（SHA-256，各成员签署的即此值）：{sha256}", sha256=sha256)),
        *([p(report["local_beacon"], head)] if report.get("local_beacon") else []),
        p(Text("评标委员会与出席"), head),
        table([[Text("席位"), Text("姓名"), Text("身份"), Text("场地"), Text("专业"), Text("签到")]]
              + [[m["seat"], m["name"] + (Text("（评标组长）").render(lookup) if m["leader"] else ""), word(MEMBER_KINDS, m["kind"]),
                  word(SITES, m["site"]) if m["site"] else "—", m["specialty"] or "—", attendance(m, lookup)]
                 for m in report["members"]]),
        p(Text("评分"), head),
        table([[Text("投标人"), Text("专家"), *[criterion(c) for c in codes]]]
              + [[s["bidder_name"], person(s["expert"]), *[points(s["scores"].get(c, "")) for c in codes]] for s in report["scores"]]),
        p(Text("偏差"), head),
        table([[Text("投标人"), Text("专家"), Text("评分因素"), Text("分值"), Text("中位数"), Text("其他专家评分"), Text("确认理由")]]
              + [[bidder(d["bid"]), person(d["expert"]), criterion(d["criterion"]), points(d["score"]), *_spread(d, lookup),
                  d.get("reason") or "—"]
                 for d in report["deviations"]]),
        p(Text("修改及理由"), head),
        table([[Text("投标人"), Text("专家"), Text("评分因素"), Text("新分值"), Text("修改理由"), Text("说明")]]
              + [[bidder(c["bid"]), person(c["expert"]), criterion(c["criterion"]), points(c["new"]),
                  word(CHANGE_REASONS, c["reason"]), c["explanation"]] for c in report["changes"]]),
        p(Text("排序"), head),
        table([[Text("名次"), Text("投标人"), Text("投标报价（元）"), Text("价格扣除"), Text("评审价格（元）"), Text("价格分"), Text("总分")]]
              + [[r["rank"] or Text("无效").render(lookup), r["bidder_name"], thousands(r["price"]),
                  f"{r['deduction_percent']}%" if r["deducted"] else "—", thousands(r["evaluated_price"]),
                  display(Fraction(r["price_score"])), r["total_display"] if r["rank"] else r["invalid"]]
                 for r in report["ranking"]]),
        p(Text("推荐中标候选人：{candidates}" if recommendation["ranked"] else "推荐中标候选人：{candidates}（评定分离，不排序）",
               candidates=candidates or Text("无").render(lookup))),
        p(Text("异常低价：{bids}", bids=Text.join(low) if low else Text("无"))),
        p(report.get("rounding") or ""),
        p(Text("评审决定（算术修正、异常低价、投标无效）"), head),
        *([table([[Text("投标人"), Text("开标报价（元）"), Text("算术修正"), Text("异常低价说明"), Text("有效性")]]
                 + [[d["bidder_name"], thousands(d["opened_price"]), _correction_text(d, lookup), _query_text(d, lookup),
                     d.get("invalid") or Text("有效").render(lookup)] for d in report.get("decisions", [])])]
          if report.get("decisions") else [p(Text("无"))]),
        p(Text("开标异议"), head),
        *([p(Text("{bidder}：{text} — 答复：{answer}", bidder=person(o["bidder"]), text=o["text"],
                  answer=o["answer"] or Text("未答复"))) for o in report["objections"]] or [p(Text("无"))]),
        pdf.space(),
        p(Text("签署"), head),
        *([table([[Text("签署人"), Text("签署时间")]] + [[person(s["account"]), at(s["at_us"])] for s in signatures])]
          if signatures else [p(Text("尚未签署"))]),
        p(Text("验证：用审计日志导出包运行 {command}，可离线重算汇总并核对上述哈希。", command="pingbiao audit replay")),
    ]
    return pdf.build(flow, Text("评标报告").render(lookup))
