"""How the supervisor's replay (监管回放) reads an entry: its stage, its event's label, who did it
by name, and its payload as labelled fields — names for ids, amounts with separators, times on
the installation's clock, hashes short and copyable. Pure functions; the page module passes the
names (evaluation/audit/overview.py ``names``), the language and the time zone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation.audit.entry import Entry
from web.formatting import local_time, yuan, zone_name
from web.i18n import translate
from web.labels import LABELS, N_, label_in

STAGES = ("notice", "bids", "opening", "draw", "evaluation", "result", "platform")
"""The replay's stages in the order a tender goes through them (labels: LABELS["stage"])."""

_STAGE_OF = {
    "tender.drafted": "notice", "tender.published": "notice", "tender.amended": "notice", "tender.postponed": "notice",
    "bid.submitted": "bids", "bid.withdrawn": "bids", "bid.replaced": "bids", "bid.voided": "bids",
    "hall.signin": "opening", "hall.read_out": "opening", "hall.announcement": "opening",
    "opening.started": "opening", "bids.unsealed": "opening", "bid.opened": "opening",
    "bid.open_failed": "opening", "opening.record": "opening", "opening.confirmed": "opening",
    "opening.objection": "opening", "opening.answer": "opening", "opening.final": "opening", "tender.failed": "opening",
    "tender.result_published": "result",
}
_STAGE_OF_PREFIX = {"experts": "draw", "evaluation": "evaluation", "booth": "evaluation", "bid": "evaluation",
                    "account": "platform", "log": "platform"}


def stage_of(kind: str) -> str:
    """The stage an event kind belongs to; a kind this version does not know goes to 平台."""
    if kind in _STAGE_OF:
        return _STAGE_OF[kind]
    return _STAGE_OF_PREFIX.get(kind.split(".", 1)[0], "platform")


FIELDS: dict[str, str] = {
    "title": N_("项目名称"), "bid_id": N_("投标"), "bid": N_("投标"), "bid_ids": N_("投标"), "failed_ids": N_("解密失败的投标"),
    "bidder": N_("供应商"), "bidder_name": N_("供应商"), "sha256": N_("文件哈希"), "size": N_("大小"),
    "round": N_("信标轮次"), "opening_round": N_("开标轮次"), "previous_round": N_("原开标轮次"),
    "reason": N_("原因"), "text": N_("内容"), "name": N_("名称"), "account_id": N_("账户"), "account": N_("账户"),
    "username": N_("用户名"), "display_name": N_("姓名"), "role": N_("角色"), "old_role": N_("原角色"),
    "new_role": N_("新角色"), "organization": N_("单位"), "changes": N_("变更内容"), "version": N_("版本"),
    "fields": N_("开标记录"), "documents": N_("文件"), "lots": N_("分包"), "rows": N_("开标记录"),
    "valid": N_("有效投标数"), "min_bids": N_("最少投标数"), "confirmed": N_("已确认"), "objections": N_("异议"),
    "unanswered": N_("未答复"), "objection_id": N_("异议编号"), "price": N_("价格"), "price_fen": N_("报价（元）"),
    "winner_bid": N_("中标投标"), "winner_name": N_("中标供应商"), "candidates": N_("中标候选人"),
    "report_sha256": N_("评标报告哈希"), "published_us": N_("公告时间"), "publicity_until": N_("公示截止"),
    "note": N_("说明"), "old": N_("原阶段"), "new": N_("新阶段"), "ground": N_("理由"), "invalid": N_("无效说明"),
    "valid_left": N_("剩余有效投标"), "leader": N_("评标组长"), "candidate": N_("候选人"), "counts": N_("票数"),
    "expert": N_("专家"), "members": N_("评标委员会"), "committee": N_("评标委员会"), "seat": N_("席位"),
    "kind": N_("类别"), "signature": N_("签名"), "randomness": N_("随机数"), "seed": N_("种子"),
    "chain": N_("信标链"), "opening_time": N_("开标时间"), "round_time": N_("轮次时间"), "spec": N_("项目内容"),
    "signers": N_("签署人"), "original_fen": N_("原报价（元）"), "corrected_fen": N_("修正后报价（元）"),
    "explanation": N_("说明"), "status": N_("状态"), "accepted": N_("采纳"), "due_us": N_("答复期限"),
    "at_us": N_("时间"), "document_sha256": N_("文件哈希"), "in_booth": N_("在评标舱内"), "tally": N_("汇总"),
    "recommendation": N_("推荐结果"), "tie_rule": N_("并列规则"), "tied": N_("并列投标"), "criteria": N_("评审因素"),
    "config": N_("评标设置"), "declaration": N_("声明"), "commitment": N_("承诺"), "avoidance": N_("回避答复"),
    "public_key": N_("签名公钥"), "key_sha256": N_("公钥哈希"), "old_key_sha256": N_("原公钥哈希"),
    "sheets": N_("评分表"), "change": N_("修改内容"), "findings": N_("发现"), "deviations": N_("偏差"),
    "abnormally_low": N_("异常低价"), "added": N_("新增"), "updated": N_("更新"), "rejected": N_("拒绝"),
    "request": N_("申请"), "plan": N_("抽取方案"), "excluded": N_("回避排除"), "exclusions": N_("回避排除"),
    "declined": N_("已拒绝"), "replacements": N_("补抽"), "sequence": N_("抽取顺序"), "problem": N_("问题"),
    "by": N_("记录人"), "evidence": N_("证明材料"), "deduction": N_("价格扣除"), "evaluated_fen": N_("评审价（元）"),
    "budget_fen": N_("预算（元）"),
    "category": N_("品目"),
    "description": N_("项目说明"),
    "deviation_threshold": N_("偏差阈值"),
    "evaluation_method": N_("评标办法"),
    "method": N_("采购方式"),
    "invited": N_("邀请供应商"),
    "max_bid_bytes": N_("投标文件上限"),
    "objection_window_s": N_("异议期（秒）"),
    "record_fields": N_("开标记录项"),
    "key": N_("代码"),
    "label_zh": N_("中文名称"),
    "label_en": N_("英文名称"),
    "required": N_("必填"),
    "type": N_("类型"),
    "sme_reserved": N_("预留中小企业"),
    "local_beacon": N_("本地信标"),
    "id": N_("编号"),
    "origin": N_("来源"),
    "verifier_key": N_("验证密钥"),
    "evaluation_date": N_("评标日期"),
    "agency_name": N_("采购人/代理机构"),
    "agency": N_("采购人/代理机构"),
    "expert_id": N_("专家"),
    "site": N_("评标场地"),
    "specialty": N_("专业"),
    "fills": N_("补入席位"),
    "replaces": N_("替换的评委"),
    "criterion": N_("评审因素"),
    "score": N_("分数"),
    "others_mean": N_("其他评委平均分"),
    "high": N_("偏高"),
    "median": N_("中位数"),
    "others_low": N_("其他评委最低分"),
    "others_high": N_("其他评委最高分"),
}
"""Names of the payload keys the pages show; a key without one shows as itself, small."""

_ACCOUNT = re.compile(r"^acct_[0-9a-f]+$")
_BID = re.compile(r"^B-[0-9a-f]+$")
_HEX = re.compile(r"^[0-9a-f]{32,}$")
_BASE64_LONG = re.compile(r"^[A-Za-z0-9+/=]{60,}$")
_MAX_DEPTH = 3
_MAX_ITEMS = 12


@dataclass(frozen=True)
class Field:
    """One labelled value: ``text`` for people, ``code`` (a hash, a key) shown small and copyable,
    ``items`` nested fields of an object or list."""

    label: str
    text: str = ""
    code: str = ""
    items: list[Field] = field(default_factory=list)


@dataclass(frozen=True)
class EntryView:
    index: int
    unix: float
    kind: str
    event: str
    stage: str
    actor: str
    actor_role: str
    fields: list[Field]


class Reader:
    """Renders values for one reader: their language, the installation's zone, the names."""

    def __init__(self, lang: str, zone: str, names: dict[str, str]) -> None:
        self.lang, self.zone, self.names = lang, zone, names

    def t(self, text: str, **values: Any) -> str:
        return translate(text, self.lang, **values)

    def name(self, value: str) -> str | None:
        """A person's or bid's name for an id; None when `value` is no id we know of."""
        if value in self.names:
            return self.names[value]
        if _ACCOUNT.match(value):
            return self.t(N_("未知账户"))
        if _BID.match(value):
            return self.t(N_("未知投标"))
        return None

    def moment(self, unix: float) -> str:
        return f"{local_time(unix, self.zone)} {self.t(zone_name(self.zone, unix))}"

    def key_label(self, key: str) -> str:
        text = FIELDS.get(key)
        return self.t(text) if text is not None else key.replace("_", " ")

    def value(self, key: str, value: Any, depth: int = 0) -> Field:
        label = self.key_label(key)
        if value is None:
            return Field(label, "—")
        if isinstance(value, bool):
            return Field(label, self.t(N_("是")) if value else self.t(N_("否")))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Field(label, self.number(key, value))
        if isinstance(value, str):
            return self.string(label, key, value)
        if depth >= _MAX_DEPTH:
            count = len(value)
            return Field(label, self.t(N_("{n} 项"), n=count))
        if isinstance(value, dict):
            if "label_zh" in value and "label_en" in value:  # a name the agency gives in both languages
                value = {k: v for k, v in value.items() if k != ("label_zh" if self.lang == "en" else "label_en")}
            items = [self.value(k, v, depth + 1) for k, v in list(value.items())[:_MAX_ITEMS]]
            if len(value) > _MAX_ITEMS:
                items.append(Field("…", self.t(N_("另 {n} 项"), n=len(value) - _MAX_ITEMS)))
            return Field(label, "" if items else "—", items=items)
        if isinstance(value, list):
            if all(isinstance(v, str) for v in value):
                shown = [self.name(v) or v for v in value[:_MAX_ITEMS]]
                more = len(value) - len(shown)
                text = "、".join(shown) + (self.t(N_("等 {n} 项"), n=len(value)) if more > 0 else "")
                return Field(label, text or "—")
            items = [self.value(f"{i + 1}", v, depth + 1) for i, v in enumerate(value[:_MAX_ITEMS])]
            if len(value) > _MAX_ITEMS:
                items.append(Field("…", self.t(N_("另 {n} 项"), n=len(value) - _MAX_ITEMS)))
            return Field(label, "" if items else "—", items=items)
        return Field(label, str(value))

    def number(self, key: str, value: float) -> str:
        if key.endswith("_fen") and float(value).is_integer():
            return yuan(int(value))
        if key.endswith("_us") and value > 1e12:
            return self.moment(value / 1e6)
        if (key == "size" or key.endswith("_bytes")) and float(value).is_integer():
            from web.formatting import size_text

            return size_text(int(value))
        if key.endswith("round") or key in ("index", "seat", "version"):
            return str(value)
        return f"{value:,}" if isinstance(value, int) else str(value)

    def string(self, label: str, key: str, value: str) -> Field:
        named = self.name(value)
        if named is not None:
            return Field(label, named)
        if key in ("method", "evaluation_method") and value in LABELS[key]:
            return Field(label, label_in(self.lang, key, value))
        if key == "type" and value in LABELS["field_type"]:
            return Field(label, label_in(self.lang, "field_type", value))
        if key.endswith("role"):
            return Field(label, label_in(self.lang, "role", value))
        if key in ("old", "new", "status") and value in LABELS["bid_status"]:
            return Field(label, label_in(self.lang, "bid_status", value))
        if key == "reason" and value in LABELS["change_reason"]:
            return Field(label, label_in(self.lang, "change_reason", value))
        if key == "category" and value in LABELS["category"]:
            return Field(label, label_in(self.lang, "category", value))
        if key == "site" and value in LABELS["site_role"]:
            return Field(label, label_in(self.lang, "site_role", value))
        if key == "kind":
            for kinds in ("member_kind", "criterion_kind"):
                if value in LABELS[kinds]:
                    return Field(label, label_in(self.lang, kinds, value))
        if _HEX.match(value) or _BASE64_LONG.match(value):
            return Field(label, code=value[:16] + "…" if len(value) > 20 else value)
        if key == "price" and re.fullmatch(r"-?\d+(\.\d+)?", value):
            from web.formatting import money

            return Field(label, money(value))
        return Field(label, value)


def entry_view(entry: Entry, reader: Reader) -> EntryView:
    payload = entry.payload if isinstance(entry.payload, dict) else {}
    fields = [reader.value(k, v) for k, v in payload.items()]
    return EntryView(
        index=entry.index,
        unix=entry.time.timestamp(),
        kind=entry.kind,
        event=label_in(reader.lang, "event", entry.kind),
        stage=stage_of(entry.kind),
        actor=reader.name(entry.actor.account) or (reader.t(N_("系统")) if entry.actor.account == "system"
                                                   else entry.actor.account),
        actor_role=label_in(reader.lang, "role", entry.actor.role),
        fields=fields,
    )


def grouped(views: Sequence[EntryView]) -> list[tuple[str, list[EntryView]]]:
    """Consecutive entries of one stage together, in log order (a stage may come back)."""
    groups: list[tuple[str, list[EntryView]]] = []
    for v in views:
        if groups and groups[-1][0] == v.stage:
            groups[-1][1].append(v)
        else:
            groups.append((v.stage, [v]))
    return groups


def state_tables(state: dict[str, Any], reader: Reader) -> dict[str, Any]:
    """The folded state at an entry as a reader reads it: the phase, the tender, and its bids."""
    tender = state.get("tender") or {}
    bids = []
    for bid_id, bid in (state.get("bids") or {}).items():
        bid = bid if isinstance(bid, dict) else {}
        status = str(bid.get("status", ""))
        bids.append({
            "name": reader.name(bid_id) or bid.get("bidder_name") or reader.t(N_("未知投标")),
            "status": label_in(reader.lang, "bid_status", status) if status in LABELS["bid_status"]
            else {"unsealed": reader.t(N_("已解密")), "open_failed": reader.t(N_("开标失败"))}.get(status, status),
        })
    phase = state.get("phase")
    facts = [
        Field(reader.t(N_("阶段")), label_in(reader.lang, "state", phase) if phase else "—"),
        Field(reader.key_label("title"), str(tender.get("title") or "—")),
        Field(reader.t(N_("变更次数")), str(state.get("amendments", 0))),
    ]
    ev = state.get("evaluation") or {}
    if isinstance(ev, dict) and ev.get("leader"):
        facts.append(Field(reader.key_label("leader"), reader.name(str(ev["leader"])) or str(ev["leader"])))
    return {"facts": facts, "bids": bids, "problems": [problem_view(p, reader) for p in state.get("problems") or []]}


_PROBLEM = re.compile(r"^entry (\d+) \(([^)]*)\): cannot apply")


def problem_view(problem: Any, reader: Reader) -> dict[str, str]:
    """A line of the replay's ``problems`` (evaluation/audit/events.py) for a reader: which entry
    and event could not be applied, in words, and the line itself as the technical detail."""
    detail = str(problem)
    m = _PROBLEM.match(detail)
    if m is None:
        return {"text": reader.t(N_("有一个条目无法应用到回放状态。")), "detail": detail, "index": ""}
    index, kind = m.groups()
    return {
        "text": reader.t(N_("第 {i} 条（{event}）的内容不完整或格式不符，无法应用到回放状态；其后的状态可能不完整。"),
                         i=index, event=label_in(reader.lang, "event", kind)),
        "detail": detail,
        "index": index,
    }
