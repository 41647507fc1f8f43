"""The opening record (开标记录表) as a signed document: its content gathered from the record, the
hall and the log (record_document.build), and its signing by the host — the tender's agency — and
by supervisors as witnesses (监督人). A supervisor's signature is the one write a supervisor may make
(web/access/permissions ``attests``): it adds its own statement to the log and changes nothing else.

A signature is an audit-log entry ``opening.record_signed`` by the signer, naming the document's
SHA-256: who signed what and when is then in the log's Merkle tree, under its signed checkpoints,
and every receipt of that entry proves it. A signature names one version: a later confirmation,
objection or read-out makes a new document with a new hash, which is signed again.
"""

from __future__ import annotations

from typing import Any

from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.events import register_kind
from evaluation.errors import ConflictError, InvalidRequest
from evaluation.tenders import hall_host, opening_record
from evaluation.tenders.record_document import SIGNED_KIND, build, digest, signatures
from evaluation.tenders.rules import LOCAL_BEACON_NOTE
from evaluation.tenders.tender import NotPermitted, TenderContext, get

register_kind(SIGNED_KIND, "The host (the tender's agency) or a supervisor (监督人) signed the opening record (开标记录表). "
              "Payload: sha256 (of the record document's canonical JSON, GET /api/tenders/{id}/record/document), "
              "version, name (the signer's name as shown).")


async def document(ctx: TenderContext, tender_id: str) -> dict[str, Any]:
    """``{"document", "sha256", "signatures"}``: the record as it stands, its hash, and every
    signature in log order (each with the hash it names). Only after the opening (as the record)."""
    tender = await get(ctx, tender_id)
    record = await opening_record.record(ctx, tender_id)
    attendance = await opening_record.attendance(ctx, tender_id)
    signins = await opening_record.signins(ctx, tender_id)
    host = await hall_host.logged_host_events(ctx, tender_id)
    entries = await ctx.audit.entries_for_tender(tender_id, kinds=("opening.confirmed", SIGNED_KIND))
    confirmations = [{"bidder": e.actor.account, "at_us": int(e.time.timestamp()) * 1_000_000 + e.time.microsecond}
                     for e in entries if e.kind == "opening.confirmed"]
    info = {"id": tender.id, "title": tender.spec.title, "agency_name": tender.agency_name, "method": tender.spec.method.value,
            "budget_fen": tender.spec.budget_fen, "opening_time": tender.spec.opening_time, "round": tender.opening_round,
            "chain": tender.chain_hash}
    doc = build(info, record, attendance, signins, host["read_out"], confirmations,
                local_beacon_note=LOCAL_BEACON_NOTE if record["local_beacon"] else None)
    return {"document": doc, "sha256": digest(doc), "signatures": signatures(entries)}


async def sign(ctx: TenderContext, actor: Actor, tender_id: str, name: str, sha256: Any) -> dict[str, Any]:
    """The host (the owning agency) or a supervisor (监督人) signs the record as it stands: `sha256`
    must be the current document's (what the signer saw), once per signer and version."""
    tender = await get(ctx, tender_id)
    if not (tender.owned_by(actor) or actor.role == "supervisor"):
        raise NotPermitted("只有本项目的采购人（主持人）和监督人可以签署开标记录表")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise InvalidRequest("请提供开标记录表的哈希 sha256（64 位十六进制字符）")
    current = await document(ctx, tender_id)
    if sha256 != current["sha256"]:
        raise ConflictError("开标记录表已更新，请重新查看后签署")
    if any(s["account"] == actor.account and s["sha256"] == sha256 for s in current["signatures"]):
        raise ConflictError("您已签署此版本的开标记录表")
    entry = await ctx.audit.append(EntryDraft(SIGNED_KIND, {"sha256": sha256, "version": current["document"]["version"],
                                                            "name": name}, tender_id, actor))
    signed = signatures([entry])[0]
    ctx.notify(tender_id, {"type": "record.signed", **{k: v for k, v in signed.items() if k != "account"}})
    return signed
