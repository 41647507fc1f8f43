"""The opening record (开标记录表) as the document the host signs: its content as canonical JSON
(what a signature names: the SHA-256 of those bytes) and its PDF (evaluation/pdf.py, as the
评标报告).

``build`` is pure: the tender, every bid's line with the bidder's name, its prices and the
decryption status, attendance (签到), the host's read-out (唱标), confirmations and objections with
their answers — people by name, times as integer microseconds (the PDF shows them on the
installation's clock with the zone). ``render_pdf`` shows that content with the hash, the
signatures (each an audit-log entry) and how to check both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from evaluation.audit.entry import Entry, canonical_json
from evaluation.errors import Lookup, Text, unchanged
from evaluation.tenders.opening import FAILURES

DOCUMENT_VERSION = "pingbiao-opening-record/1"
SIGNED_KIND = "opening.record_signed"
STATUS = {"opened": "已解密，已开启", "failed": "解密失败，未能开启"}
ROLES = {"agency": "采购人／代理机构（主持人）", "supervisor": "监督人"}

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _us(entry: Entry) -> int:
    t = entry.time
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def fen_of(yuan_text: Any) -> int | None:
    """ "1268000.50" → 126800050; None for anything that is not an amount in yuan with at most two decimals."""
    try:
        value = Fraction(str(yuan_text).replace(",", "")) * 100
    except (ValueError, ZeroDivisionError):
        return None
    return int(value) if value.denominator == 1 else None


def _group(n: int) -> str:
    """0 < n < 10000 in capital numerals, 零 where digits are skipped inside the group."""
    out, pending = "", False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            pending = bool(out)
            continue
        if pending:
            out += "零"
            pending = False
        out += _DIGITS[digit] + _UNITS[position]
    return out


def capital(fen: int) -> str:
    """An amount in Chinese capital numerals (大写金额) as the forms of the trade write it:
    126800000 → 壹佰贰拾陆万捌仟元整, 10080050 → 壹拾万零捌佰元伍角, 100005 → 壹仟元零伍分."""
    if fen < 0:
        return "负" + capital(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    if fen == 0:
        return "零元整"
    text = ""
    groups = []
    while yuan:
        yuan, g = divmod(yuan, 10_000)
        groups.append(g)
    zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            zero = bool(text)
            continue
        if text and (zero or g < 1000):
            text += "零"
        text += _group(g) + _GROUPS[i]
        zero = False
    if text:
        text += "元"
    if rest == 0:
        return text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if cents:
        text += _DIGITS[cents] + "分"
    return text


def thousands(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def money_text(yuan_text: Any, sep: str = "") -> str:
    """A record's amount as people read it: "1,268,000.00（大写：壹佰贰拾陆万捌仟元整）" (`sep` before the 大写)."""
    fen = fen_of(yuan_text)
    return str(yuan_text) if fen is None else fen_text(fen, sep)


def fen_text(fen: int, sep: str = "") -> str:
    return f"{thousands(fen)}{sep}（大写：{capital(fen)}）"


def build(tender: Mapping[str, Any], record: Mapping[str, Any], attendance: Sequence[Mapping[str, Any]],
          signins: Sequence[Mapping[str, Any]], read_out: Sequence[Mapping[str, Any]],
          confirmations: Sequence[Mapping[str, Any]], *, local_beacon_note: str | None = None) -> dict[str, Any]:
    """The record's content (pure). `tender`: id, title, agency_name, method, budget_fen,
    opening_time (unix), round, chain; `record`: what opening_record.record gives; `attendance`:
    every bidder with its sign-in; `signins`: the agency's own (and any non-bidder) sign-ins;
    `read_out`: the host's read-outs in order; `confirmations`: [{bidder, at_us}] in log order."""
    names = {r["bidder"]: r["bidder_name"] for r in record["rows"]}
    names.update({a["bidder"]: a["name"] for a in attendance})
    seqs = {r["seq"]: r["bidder_name"] for r in record["rows"]}
    return {
        "version": DOCUMENT_VERSION,
        "tender": {k: tender[k] for k in ("id", "title", "agency_name", "method", "budget_fen", "opening_time", "round",
                                          "chain")},
        "fields": [{"key": f["key"], "label": f["label_zh"], "type": f["type"]} for f in record["fields"]],
        "lots": [{"lot": lot["lot"], "name": lot["name"]} for lot in record["lots"]],
        "rows": [{"seq": r["seq"], "bid_id": r["bid_id"], "bidder_name": r["bidder_name"], "status": r["status"],
                  "code": r.get("code"), "reason": r.get("reason"), "fields": dict(r.get("fields") or {}),
                  "lots": [dict(lot) for lot in r.get("lots") or []],
                  "documents": [{k: d[k] for k in ("name", "sha256", "size")} for d in r.get("documents") or []]}
                 for r in sorted(record["rows"], key=lambda r: r["seq"])],
        "valid": record["valid"],
        "min_bids": record["min_bids"],
        "state": record["state"],
        "failed_reason": record.get("failed_reason"),
        "confirm_until": record.get("confirm_until"),
        "attendance": [{"name": a["name"], "signed_in": bool(a["signed_in"]), "at_us": a["at_us"]} for a in attendance],
        "hosts": [{"name": s["name"], "role": s["role"], "at_us": s["at_us"]} for s in signins if s["role"] != "bidder"],
        "read_out": [{"seq": r["seq"], "bidder_name": seqs.get(r["seq"], ""), "at_us": r["at_us"]} for r in read_out],
        "confirmations": [{"bidder_name": names.get(c["bidder"], "—"), "at_us": c["at_us"]} for c in confirmations],
        "objections": [{"bidder_name": names.get(o["bidder"], "—"), "text": o["text"], "at_us": o["at_us"],
                        "answer": o.get("answer"), "answered_us": o.get("answered_us")}
                       for o in sorted(record["objections"], key=lambda o: o["at_us"])],
        "local_beacon": local_beacon_note,
    }


def digest(document: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the document's canonical JSON (sorted keys, no spaces, UTF-8): what a signature names."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def signatures(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The signatures of a tender's record in log order (pure), from its SIGNED_KIND entries."""
    return [{"account": e.actor.account, "role": e.actor.role, "name": e.payload.get("name"),
             "sha256": e.payload.get("sha256"), "at_us": _us(e), "index": e.index}
            for e in entries if e.kind == SIGNED_KIND]


def render_pdf(document: Mapping[str, Any], sha256: str, signed: Sequence[Mapping[str, Any]],
               when: Callable[[float], str], method: str = "", lookup: Lookup = unchanged) -> bytes:
    """The record as a PDF (A4) in Chinese: `signed` are the signatures (``signatures``), `when`
    shows unix seconds on the installation's clock with its zone (北京时间), `method` is the
    procurement method's name. `lookup` (the catalogue's, web/i18n) gives a reader's copy in
    English; what was signed (names, amounts with their 大写, the fields' labels) stays as signed."""
    from evaluation.pdf import Pdf

    pdf = Pdf(lookup)
    p, table = pdf.p, pdf.table
    tender = document["tender"]
    fields = document["fields"]
    lots = {lot["lot"]: lot["name"] for lot in document["lots"]}

    def say(words: Mapping[str, str], code: str) -> str:
        return lookup(words[code]) if code in words else code

    def at(us: int | None) -> str:
        return "—" if us is None else when(us / 1e6)

    def value(f: Mapping[str, Any], v: Any) -> str:
        if v is None or v == "":
            return "—"
        if f["type"] == "money":
            return money_text(v, "\n")
        return Text("{n} 天", n=v).render(lookup) if f["type"] == "days" else str(v)

    lines: list[list[Any]] = [[Text("序号"), Text("投标人"), *([Text("分包及报价（元）")] if lots else []),
                               *(f["label"] for f in fields), Text("投标文件"), Text("解密状态")]]
    for r in document["rows"]:
        status = Text(STATUS.get(r["status"], r["status"]))
        if r["status"] != "opened":
            status = Text("{status}：{why}", status=status, why=Text(FAILURES.get(r.get("code") or "", "无法解密")))
        lot_cell = Text.join([Text("第{lot}包 {name}：{price}", lot=lot["lot"], name=lots.get(lot["lot"], ""),
                                   price=money_text(lot["price"], chr(10))) for lot in r["lots"]])
        docs = Text.join([Text("{name}（{size} 字节）", name=d["name"], size=f"{d['size']:,}") for d in r["documents"]])
        lines.append([r["seq"], r["bidder_name"], *([lot_cell if r["lots"] else "—"] if lots else []),
                      *(value(f, r["fields"].get(f["key"])) for f in fields), docs if r["documents"] else "—", status])
    signed_here = [s for s in signed if s["sha256"] == sha256]
    earlier = [s for s in signed if s["sha256"] != sha256]
    state = say(RECORD_STATES, document["state"])
    confirm_until = document.get("confirm_until")
    status_line = Text("状态：{state}　有效投标 {valid} 家（最少 {least} 家）", state=state, valid=document["valid"],
                       least=document["min_bids"])
    flow: list[Any] = [
        p(Text("开标记录表"), pdf.title),
        p(Text("项目名称：{title}", title=tender["title"])),
        p(Text("项目编号：{id}　采购方式：{method}", id=tender["id"], method=method or tender["method"])),
        p(Text("采购人／代理机构：{agency}　预算（元）：{budget}", agency=tender["agency_name"],
               budget=fen_text(tender["budget_fen"]))),
        p(Text("开标时间：{time}　时间锁轮次：{round}", time=when(tender["opening_time"]), round=tender["round"])),
        p(Text("{line}　确认截止：{until}", line=status_line, until=when(_unix(confirm_until))) if confirm_until
          else status_line),
        *([p(Text("流标原因：{reason}", reason=document["failed_reason"]))] if document.get("failed_reason") else []),
        *([p(document["local_beacon"], pdf.head)] if document.get("local_beacon") else []),
        p(Text("投标与报价"), pdf.head),
        table(lines, _widths(bool(lots), [f["type"] for f in fields])),
        p(Text("签到"), pdf.head),
        table([[Text("投标人"), Text("签到"), Text("时间")]]
              + [[a["name"], Text("已签到" if a["signed_in"] else "未签到"), at(a["at_us"])] for a in document["attendance"]]
              + [[Text("{name}（{role}）", name=h["name"], role=say(ROLES, h["role"])), Text("已签到"), at(h["at_us"])]
                 for h in document["hosts"]]),
        p(Text("主持人唱标"), pdf.head),
        *([table([[Text("次序"), Text("序号"), Text("投标人"), Text("时间")]]
                 + [[n, r["seq"], r["bidder_name"], at(r["at_us"])] for n, r in enumerate(document["read_out"], start=1)])]
          or [p(Text("未唱标"))]),
        p(Text("确认"), pdf.head),
        *([table([[Text("投标人"), Text("确认时间")]] + [[c["bidder_name"], at(c["at_us"])] for c in document["confirmations"]])]
          or [p(Text("无投标人确认"))]),
        p(Text("异议与答复"), pdf.head),
        *([table([[Text("投标人"), Text("异议"), Text("提出时间"), Text("答复"), Text("答复时间")]]
                 + [[o["bidder_name"], o["text"], at(o["at_us"]), o["answer"] or Text("未答复"), at(o["answered_us"])]
                    for o in document["objections"]])] or [p(Text("无异议"))]),
        p(Text("签署"), pdf.head),
        *([table([[Text("签署人"), Text("身份"), Text("签署时间"), Text("审计日志条目")]]
                 + [[s["name"] or "—", say(ROLES, s["role"]), at(s["at_us"]), Text("第 {n} 条", n=s["index"])]
                    for s in signed_here])] or [p(Text("尚未签署"))]),
        *([p(Text("已签署较早版本（其后记录有新的确认、异议或唱标）：{list}", list=Text.join(
            [Text("{name} {time}（第 {n} 条，哈希 {hash}…）", name=s["name"] or "—", time=at(s["at_us"]), n=s["index"],
                  hash=s["sha256"][:16]) for s in earlier])))]
          if earlier else []),
        pdf.space(),
        p(Text("本表哈希（SHA-256）：{sha256}", sha256=sha256)),
        p(Text("验证方法：① 取本表内容 GET {url}（字段 document），按规范 JSON（键排序、无空白、UTF-8）求 SHA-256，"
               "应与上述哈希一致；② 每个签署是审计日志中的一条 {kind} 条目，载有签署人与此哈希：在 {receipt} "
               "查看其回执（包含证明与日志签名检查点），或以 {export} 导出日志包后用 {verify} 离线核对。",
               url=f"/api/tenders/{tender['id']}/record/document", kind="opening.record_signed",
               receipt=Text("/audit/receipt/条目号"), export="pingbiao audit export", verify="pingbiao audit verify"), pdf.small),
    ]
    return pdf.build(flow, Text("开标记录表").render(lookup))


RECORD_STATES = {"failed": "流标", "confirming": "确认中", "confirmed": "已确认", "evaluating": "评标中",
                 "awarded": "结果已公告", "opened": "已开标"}


WIDTH = 451.0  # A4 less the default margins, in points


def _widths(lots: bool, types: list[str]) -> list[float]:
    """The bid table's columns: number, bidder, [lots], the fields (amounts twice as wide), documents, status."""
    fixed = [30.0, 84.0]
    tail = [76.0, 88.0]
    shares = ([3] if lots else []) + [2 if t in ("money", "text") else 1 for t in types]
    unit = (WIDTH - sum(fixed) - sum(tail)) / max(1, sum(shares))
    return [*fixed, *(unit * n for n in shares), *tail]


def _unix(rfc3339: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
