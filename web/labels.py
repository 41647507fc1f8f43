"""What a code reads as on a page (状态、方式、角色…): every closed set the pages show, in Chinese,
each label also an entry of the catalogue (web/i18n/en.json) for the English pages.

Templates call ``label("state", tender.state)``; a code without a label shows as itself, and
tests/web/test_i18n.py fails when a member of a domain enum has none, so raw codes never reach a
reader. ``N_`` marks a catalogue string that is translated later, where it is shown.
"""

from __future__ import annotations

from typing import Any

import jinja2

from web.i18n import DEFAULT, language_of, translate


def N_(text: str) -> str:  # noqa: N802  (the gettext convention for "translate later")
    return text


LABELS: dict[str, dict[str, str]] = {
    "booth_source": {
        "camera": N_("摄像头"),
        "screen": N_("屏幕共享"),
    },
    "state": {
        "draft": N_("草稿"),
        "published": N_("已发布"),
        "opening": N_("开标中"),
        "opened": N_("已开标"),
        "failed": N_("流标"),
        "confirming": N_("确认中"),
        "confirmed": N_("已确认"),
        "evaluating": N_("评标中"),
        "awarded": N_("结果已公告"),
    },
    "method": {
        "open": N_("公开招标"),
        "invited": N_("邀请招标"),
        "negotiation": N_("竞争性谈判"),
        "consultation": N_("竞争性磋商"),
        "inquiry": N_("询价"),
        "single_source": N_("单一来源"),
    },
    "evaluation_method": {
        "comprehensive": N_("综合评分法"),
        "lowest_price": N_("最低评标价法"),
    },
    "criterion_kind": {
        "price": N_("价格分"),
        "objective": N_("客观分"),
        "subjective": N_("主观分"),
    },
    "field_type": {
        "money": N_("金额（元）"),
        "integer": N_("整数"),
        "days": N_("天数"),
        "text": N_("文字"),
    },
    "lead": {
        "same_ip": N_("相同上传 IP 地址"),
        "same_fingerprint": N_("相同客户端指纹"),
        "same_document": N_("相同文件（SHA-256）"),
        "same_author": N_("相同文档作者"),
        "same_last_modified_by": N_("相同最后修改人"),
        "same_company": N_("相同文档单位"),
        "same_creator_tool": N_("相同创建工具"),
        "same_producer": N_("相同 PDF 生成器"),
    },
    "lead_detail": {  # the 说明 column: what the shared value means, in words
        "same_ip": N_("这些投标文件从同一 IP 地址上传"),
        "same_fingerprint": N_("这些投标文件从同一台客户端（相同指纹）上传"),
        "same_document": N_("投标文件中有完全相同的文件（SHA-256 一致）"),
        "same_author": N_("文档属性中的作者相同"),
        "same_last_modified_by": N_("文档属性中的最后修改人相同"),
        "same_company": N_("文档属性中的单位相同"),
        "same_creator_tool": N_("文档由同一创建工具生成"),
        "same_producer": N_("PDF 由同一生成器生成"),
    },
    "role": {
        "agency": N_("采购人/代理机构"),
        "bidder": N_("供应商"),
        "expert": N_("评审专家"),
        "supervisor": N_("监管"),
        "admin": N_("管理员"),
        "system": N_("系统"),
    },
    "bid_status": {
        "submitted": N_("已提交"),
        "withdrawn": N_("已撤回"),
        "void": N_("已作废（须重新提交）"),
        "opened": N_("已开启"),
        "failed": N_("开标失败"),
    },
    "member_kind": {
        "expert": N_("评审专家"),
        "purchaser_rep": N_("采购人代表"),
    },
    "invalid_ground": {
        "qualification": N_("资格审查不通过"),
        "conformity": N_("符合性审查不通过"),
        "abnormally_low": N_("报价明显低于其他报价且未能证明其合理性"),
        "correction_refused": N_("投标人不确认算术修正后的报价"),
    },
    "correction_rule": {
        "schedule": N_("开标一览表与投标文件不一致，以开标一览表为准"),
        "words": N_("大写金额与小写金额不一致，以大写金额为准"),
        "unit_decimal": N_("单价小数点或百分比明显错位，以总价为准并修改单价"),
        "unit_sum": N_("总价与单价汇总不一致，以单价汇总为准"),
    },
    "correction_status": {
        "pending": N_("待投标人确认"),
        "confirmed": N_("投标人已确认"),
        "refused": N_("投标人不确认"),
    },
    "low_price_status": {
        "open": N_("待投标人说明"),
        "justified": N_("已提交说明，待委员会决定"),
        "accepted": N_("说明已接受"),
        "rejected": N_("说明未被接受"),
    },
    "change_reason": {
        "sum_error": N_("计算错误"),
        "out_of_scale": N_("分值超出范围"),
        "objective_inconsistent": N_("客观分不一致"),
        "abnormal_high_low": N_("畸高畸低"),
    },
    "session_state": {
        "none": N_("未开始"),
        "checkin": N_("签到中"),
        "election": N_("推选评标组长"),
        "scoring": N_("独立评分"),
        "review": N_("复核与修改"),
        "tally": N_("汇总中"),
        "signing": N_("评标报告签署"),
        "done": N_("评标结束"),
        "failed": N_("废标"),
    },
    "draw_state": {
        "none": N_("未申请"),
        "requested": N_("已申请，等待信标"),
        "drawn": N_("已抽取"),
        "exhausted": N_("备选不足，须重新申请"),
    },
    "member_status": {
        "invited": N_("已邀请"),
        "accepted": N_("已接受"),
        "declined": N_("已拒绝/回避"),
    },
    "category": {
        "goods": N_("货物"),
        "services": N_("服务"),
        "works": N_("工程"),
    },
    # Why the audit pages could not verify what they show (evaluation/audit/overview.py reasons).
    "verify_failure": {
        "origin": N_("签名检查点属于另一个日志，不是本平台的日志。"),
        "root": N_("存储的日志树与签名检查点的根哈希不一致，日志可能已被改动。"),
        "leaf": N_("存储的条目内容与其叶哈希不一致，条目可能已被改动。"),
        "signature": N_("签名检查点或包含证明未能通过验证密钥的核对。"),
        "integrity": N_("读取日志时发现条目与签名的日志树不一致，因此不显示任何条目。"),
        "proof": N_("回执的包含证明或检查点签名未能通过验证密钥的核对。"),
    },
    # Why a bid failed to open (evaluation/tenders/opening.FAILURES; the hall's script has the same).
    "open_failure": {
        "tampered": N_("密文被篡改"),
        "truncated": N_("文件不完整"),
        "wrong_round": N_("时间锁轮次不符"),
        "wrong_chain": N_("加密所用信标链不符"),
        "not_sealed": N_("文件格式无法识别"),
        "bad_container": N_("投标文件结构无效"),
        "no_document": N_("投标文件不含任何非空文档"),
        "bad_record": N_("投标文件内容不符合要求"),
        "not_recorded": N_("开启后无法记录"),
    },
    "site_role": {
        "main": N_("主场"),
        "remote": N_("副场"),
    },
    # Audit-log event kinds (docs/audit-log.md) and the stages of the replay they belong to.
    "event": {
        "log.started": N_("日志启动"),
        "tender.drafted": N_("起草项目"),
        "tender.published": N_("发布招标公告"),
        "tender.amended": N_("变更公告"),
        "tender.postponed": N_("延期开标"),
        "tender.failed": N_("流标"),
        "tender.result_published": N_("发布结果公告"),
        "bid.submitted": N_("递交投标文件"),
        "bid.withdrawn": N_("撤回投标"),
        "bid.replaced": N_("替换投标文件"),
        "bid.voided": N_("投标作废"),
        "bid.opened": N_("唱标"),
        "bid.open_failed": N_("解密失败"),
        "bid.document_opened": N_("查阅投标文件"),
        "bids.unsealed": N_("投标解密"),
        "hall.signin": N_("开标大厅签到"),
        "hall.read_out": N_("主持人唱标"),
        "hall.announcement": N_("大厅公告"),
        "opening.started": N_("开始开标"),
        "opening.record": N_("开标记录"),
        "opening.confirmed": N_("确认开标记录"),
        "opening.objection": N_("提出异议"),
        "opening.answer": N_("答复异议"),
        "opening.final": N_("开标记录定稿"),
        "opening.record_signed": N_("签署开标记录表"),
        "account.created": N_("创建账户"),
        "account.role_changed": N_("变更角色"),
        "account.password_changed": N_("修改密码"),
        "experts.imported": N_("导入专家"),
        "experts.added": N_("新增专家"),
        "experts.updated": N_("编辑专家"),
        "experts.deactivated": N_("暂停专家"),
        "experts.reactivated": N_("恢复专家"),
        "experts.draw_requested": N_("申请抽取专家"),
        "experts.drawn": N_("抽取结果"),
        "experts.accepted": N_("专家接受邀请"),
        "experts.declined": N_("专家拒绝/回避"),
        "experts.replaced": N_("补抽专家"),
        "experts.exhausted": N_("备选专家不足"),
        "evaluation.started": N_("开始评标"),
        "evaluation.state": N_("评标阶段变更"),
        "evaluation.bid_invalid": N_("投标无效"),
        "evaluation.price_correction": N_("算术修正"),
        "evaluation.price_correction_answered": N_("供应商确认修正"),
        "evaluation.low_price_query": N_("异常低价询问"),
        "evaluation.low_price_justified": N_("异常低价书面说明"),
        "evaluation.justification_opened": N_("查阅报价说明材料"),
        "evaluation.low_price_decision": N_("异常低价说明是否采纳"),
        "evaluation.failed": N_("废标"),
        "evaluation.member_added": N_("加入评标委员会"),
        "evaluation.checked_in": N_("评委签到"),
        "evaluation.member_recused": N_("评委回避"),
        "evaluation.seat_released": N_("回避席位不再补足"),
        "evaluation.key_replaced": N_("重新登记签名密钥"),
        "evaluation.vote": N_("推选组长投票"),
        "evaluation.revote": N_("重新投票"),
        "evaluation.leader_elected": N_("选出评标组长"),
        "evaluation.sheet_submitted": N_("提交评分"),
        "evaluation.review": N_("评分偏差复核"),
        "evaluation.score_changed": N_("修改评分"),
        "evaluation.deviation_confirmed": N_("确认偏差评分"),
        "evaluation.tie_draw_requested": N_("并列抽签"),
        "evaluation.tally": N_("汇总得分"),
        "evaluation.report_issued": N_("出具评标报告"),
        "evaluation.report_signed": N_("签署评标报告"),
        "evaluation.report_final": N_("评标报告定稿"),
        "booth.joined": N_("进入评标舱"),
        "booth.left": N_("离开评标舱"),
        "booth.reconnected": N_("断线重连"),
        "booth.removed": N_("移出评标舱"),
        "booth.recording_checkpoint": N_("录音录像校验点"),
        "booth.media_incident": N_("录音录像异常"),
        "booth.recording_archived": N_("录音录像归档"),
        "booth.recording_waived": N_("未录音录像（运营方设置允许）"),
    },
    "stage": {
        "notice": N_("公告"),
        "bids": N_("投标"),
        "opening": N_("开标"),
        "draw": N_("抽取专家"),
        "evaluation": N_("评标"),
        "result": N_("结果"),
        "platform": N_("平台"),
    },
}


def label_in(lang: str, kind: str, code: Any) -> str:
    """The label of `code` in the set `kind`, in `lang`; the code itself when it has none."""
    key = getattr(code, "value", code)
    text = LABELS.get(kind, {}).get(str(key))
    return translate(text, lang) if text is not None else str(key)


def labels_in(lang: str, kind: str) -> dict[str, str]:
    """Every label of the set `kind` in `lang`, by code: what a page script shows for a code."""
    return {code: translate(text, lang) for code, text in LABELS.get(kind, {}).items()}


@jinja2.pass_context
def label(context: Any, kind: str, code: Any) -> str:
    """The templates' ``label(kind, code)`` in the language of the request being rendered."""
    request = context.get("request")
    return label_in(language_of(request) if request is not None else DEFAULT, kind, code)


@jinja2.pass_context
def field_label(context: Any, field: Any) -> str:
    """An opening-record field's name (its agency gives one per language) for this reader."""
    request = context.get("request")
    english = request is not None and language_of(request) == "en"
    get = field.get if isinstance(field, dict) else lambda k, d=None: getattr(field, k, d)
    return str((get("label_en") if english else None) or get("label_zh") or get("key") or "")
