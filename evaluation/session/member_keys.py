"""A signing key that survives a new browser (重新登记签名密钥).

A member's private key lives in the browser it checked in from (WebCrypto, not extractable). A
member who lost it — another computer, a private window, cleared site data — signs in, confirms
its password once more, and registers a new public key. The entry ``evaluation.key_replaced``
revokes the old key in the log: every document is checked against the key the member held when
it was signed (the server checks at submission; a replay of the log holds the member's key in
order, so a verifier does the same), and the old key is valid for nothing signed after.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from evaluation.accounts.account import AuthenticationFailed, authenticate, get_account
from evaluation.audit.entry import Actor
from evaluation.errors import ConflictError, InvalidRequest, Text
from evaluation.session.rules import SessionState, require
from evaluation.session.session import EvaluationContext, Session, get_session, retrying
from evaluation.session.signatures import key_fingerprint, load_public_key
from evaluation.session.store import member_table

MAX_REASON = 200


async def replace_key(ctx: EvaluationContext, actor: Actor, session_id: str, data: dict[str, Any]) -> Session:
    """Register `data["public_key"]` (base64 SPKI, P-256) in place of the member's current key,
    after checking `data["password"]` is the account's. Allowed from check-in until the report is
    final, for a member that has checked in. Raises AuthenticationFailed on a wrong password."""
    public_key, password = data.get("public_key"), data.get("password")
    reason = data.get("reason") or "lost"
    load_public_key(public_key)
    assert isinstance(public_key, str)
    if not isinstance(password, str) or not password:
        raise InvalidRequest("请输入登录密码以登记新的签名密钥")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidRequest("原因不超过 {max} 字", max=MAX_REASON)
    account = await get_account(ctx.tenders.engine, actor.account)
    try:
        await authenticate(ctx.tenders.engine, account.username, password)
    except AuthenticationFailed:
        raise AuthenticationFailed() from None

    async def step() -> Session:
        session = await get_session(ctx, session_id)
        member = session.require_member(actor)
        require(session.title, session.state, SessionState.CHECKIN, SessionState.ELECTION, SessionState.SCORING,
                SessionState.REVIEW, SessionState.TALLY, SessionState.SIGNING, doing=Text("不能登记新的签名密钥"))
        if member.public_key is None:
            raise ConflictError("请先签到：签名密钥在签到时登记")
        if member.public_key == public_key:
            raise ConflictError("这个密钥已经是登记的签名密钥")
        payload = {"public_key": public_key, "key_sha256": key_fingerprint(public_key),
                   "old_key_sha256": key_fingerprint(member.public_key), "reason": reason}

        async def apply(conn: AsyncConnection) -> None:
            c = member_table.c
            changed = await conn.execute(sa.update(member_table).where(
                c.session_id == session_id, c.account == actor.account, c.public_key == member.public_key,
            ).values(public_key=public_key))
            if changed.rowcount != 1:
                raise ConflictError("签名密钥刚有变化，请刷新页面")

        await ctx.tenders.audit.append(session.entry("evaluation.key_replaced", payload, actor), apply=apply)
        return await get_session(ctx, session_id)

    result: Session = await retrying(step)
    ctx.notify(session_id, {"type": "members"})
    return result
