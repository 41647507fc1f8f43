"""The supporting document of an abnormally-low-price justification (异常低价书面说明的证明材料,
87号令 art. 60): stored content-addressed in the blob store when the bidder sends it (its hash,
name and size logged with ``evaluation.low_price_justified``), read by the committee, its agency
and supervisors, every reading logged (``evaluation.justification_opened``) as bid documents are
(evaluation/session/documents.py). The bidder may read back its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import unquote

from evaluation.audit.entry import Actor
from evaluation.audit.events import register_kind
from evaluation.errors import InvalidRequest, NotFoundError
from evaluation.inputs import is_text
from evaluation.session.session import EvaluationContext, Session, get_session
from evaluation.session.sheets import require_reader

MAX_DOCUMENT_BYTES = 20 << 20
"""The largest supporting document taken (20 MiB): a scanned letter or a cost breakdown."""
MAX_NAME = 200

register_kind(
    "evaluation.justification_opened",
    "Someone with the right to read the evaluation opened the supporting document of a bidder's "
    "abnormally-low-price justification (查阅报价说明材料). Payload: bid, sha256, name. The actor is the "
    "reader. No reducer: reading changes no state.",
)


def document_name(raw: Any) -> str:
    """A file name as a browser sends it, reduced to its last part; InvalidRequest when there is none."""
    if not isinstance(raw, str) or not is_text(raw):
        raise InvalidRequest("证明材料的文件名无效")
    if re.search(r"%[0-9A-Fa-f]{2}", raw):  # some clients percent-encode a UTF-8 name (browsers send it as it is)
        try:
            raw = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            pass
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    if not name or name in (".", "..") or len(name) > MAX_NAME or any(c < " " for c in name):
        raise InvalidRequest("证明材料的文件名须为 1–{max} 个字符", max=MAX_NAME)
    return name


@dataclass(frozen=True)
class Justification:
    """A stored supporting document, ready to be sent."""

    bid: str
    name: str
    sha256: str
    size: int
    path: Path


def _stored(session: Session, bid: Any) -> dict[str, Any]:
    found = next((b for b in session.bids if b["bid"] == bid), None) if isinstance(bid, str) else None
    said = ((found or {}).get("low_price") or {}).get("justification") or {}
    if found is None or not said.get("document_name"):
        raise NotFoundError("该投标没有报价说明的证明材料")
    return {"bid": found["bid"], "bidder": found["bidder"], **said}


async def open_justification(ctx: EvaluationContext, actor: Actor, tender_id: str, bid: str) -> Justification:
    """The supporting document of `bid`'s justification, after its reading is logged. NotFoundError
    when there is none (or the blob is missing); NotPermitted for a reader without the right."""
    session = await get_session(ctx, tender_id)
    found = next((b for b in session.bids if b["bid"] == bid), None)
    if not (actor.role == "bidder" and found is not None and found["bidder"] == actor.account):
        await require_reader(ctx, session, actor)
    said = _stored(session, bid)
    sha256 = str(said["document_sha256"])
    if not ctx.tenders.blobs.exists(sha256):
        raise NotFoundError("证明材料未找到")
    payload = {"bid": said["bid"], "sha256": sha256, "name": said["document_name"]}
    await ctx.tenders.audit.append(session.entry("evaluation.justification_opened", payload, actor))
    return Justification(said["bid"], said["document_name"], sha256, int(said["document_size"]), ctx.tenders.blobs.path(sha256))
