"""The log serves only what it has checked, and refuses to start on a log that does not match its
signed checkpoint. Each test edits the database rows directly, as an operator could."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.checkpoint import Checkpoint
from crypto.note import Signer, generate_key, sign_note
from evaluation.audit import store
from evaluation.audit.entry import Actor, EntryDraft
from evaluation.audit.log import AuditLog
from evaluation.errors import IntegrityFailure
from tests.evaluation.conftest import ORIGIN


def bid(n: int, price: str = "1000.00", tender: str = "T-1") -> EntryDraft:
    return EntryDraft("bid.opened", {"bid_id": f"b-{n}", "fields": {"total_price": price}}, tender, Actor("system", "system"))


async def edit(engine: AsyncEngine, idx: int, **values: object) -> None:
    t = store.entry_table
    async with engine.begin() as conn:
        await conn.execute(sa.update(t).where(t.c.idx == idx).values(**values))


async def leaf_of(engine: AsyncEngine, idx: int) -> bytes:
    async with engine.connect() as conn:
        return bytes((await conn.execute(sa.select(store.entry_table.c.leaf).where(store.entry_table.c.idx == idx))).scalar_one())


async def restart(engine: AsyncEngine, signer: Signer) -> AuditLog:
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    await log.stop()
    return log


async def test_an_edited_payload_column_is_never_shown(audit_log: AuditLog, engine: AsyncEngine) -> None:
    made = await audit_log.append_many([bid(n) for n in range(5)])
    await edit(engine, 2, payload=json.dumps({"bid_id": "b-2", "fields": {"total_price": "1.00"}}))
    with pytest.raises(IntegrityFailure, match=r"^第 2 条记录的存储内容与其签名数据不符$"):
        await audit_log.entries(0, 5)
    with pytest.raises(IntegrityFailure, match="第 2 条记录"):
        await audit_log.entries_for_tender("T-1")
    with pytest.raises(IntegrityFailure, match="第 2 条记录"):
        await audit_log.receipt(2)
    assert await audit_log.entries(3, 5) == made[3:]  # the untouched entries are still served
    for column, value in [("kind", "bid.open_failed"), ("actor_account", "someone"), ("time_us", 1)]:
        await edit(engine, 2, payload=made[2].leaf[made[2].leaf.index(b'"payload":') + 10 : made[2].leaf.index(b',"tender"')].decode())
        await edit(engine, 2, **{column: value})
        with pytest.raises(IntegrityFailure, match="第 2 条记录"):
            await audit_log.entry(2)
        await edit(engine, 2, kind="bid.opened", actor_account="system", time_us=int(made[2].time.timestamp() * 1e6))


async def test_a_rewritten_leaf_with_matching_columns_is_refused(audit_log: AuditLog, engine: AsyncEngine, signer: Signer) -> None:
    """The operator rewrites leaf and columns together, consistently: the leaf is not in the signed tree."""
    made = await audit_log.append_many([bid(n) for n in range(6)])
    leaf = made[4].leaf.replace(b'"1000.00"', b'"1.00"')
    await edit(engine, 4, leaf=leaf, payload=json.dumps({"bid_id": "b-4", "fields": {"total_price": "1.00"}}, separators=(",", ":")))
    with pytest.raises(IntegrityFailure, match="^第 4 条记录不在已签名的检查点中（检查点含 6 条）$"):
        await audit_log.entries_for_tender("T-1")
    await audit_log.stop()
    with pytest.raises(IntegrityFailure, match="第 4 条记录存储的叶哈希与该记录不符"):
        await restart(engine, signer)


async def test_start_up_refuses_a_changed_leaf_naming_it(audit_log: AuditLog, engine: AsyncEngine, signer: Signer) -> None:
    await audit_log.append_many([bid(n) for n in range(9)])
    await audit_log.stop()
    leaf = await leaf_of(engine, 7)
    await edit(engine, 7, leaf=leaf.replace(b"1000.00", b"9000.00"))
    with pytest.raises(IntegrityFailure) as caught:
        await restart(engine, signer)
    message = str(caught.value)
    assert message == "审计日志校验失败：第 7 条记录的存储内容与其签名数据不符"
    assert "\n" not in message


async def test_start_up_checks_only_what_is_new(engine: AsyncEngine, signer: Signer) -> None:
    first = await restart(engine, signer)  # a new log: the empty tree is signed, nothing to check
    assert first.last_check is None
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    await log.append_many([bid(n) for n in range(300)])
    await log.stop()
    second = await restart(engine, signer)
    assert second.last_check is not None and (second.last_check.checked_from, second.last_check.size) == (0, 300)
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    assert log.last_check is not None and log.last_check.checked_from == 300  # nothing new: nothing re-read
    await log.append_many([bid(n) for n in range(300, 333)])
    await log.stop()
    third = await restart(engine, signer)
    assert third.last_check is not None and (third.last_check.checked_from, third.last_check.size) == (300, 333)


async def test_a_change_below_the_checked_part_is_refused_on_read_and_by_the_full_check(engine: AsyncEngine, signer: Signer) -> None:
    """A leaf already checked at an earlier start is changed with its columns and its stored leaf
    node. The incremental start-up check does not re-read it (docs/audit-log.md says so), but no read
    serves it and ``check_everything`` (``pingbiao audit check``) names it; a change to a node on the
    checkpoint's border stops start-up."""
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    made = await log.append_many([bid(n) for n in range(40)])
    await log.stop()
    await restart(engine, signer)  # entries 0..39 are now checked
    leaf = made[12].leaf.replace(b"1000.00", b"1.00")
    from crypto.merkle import leaf_hash

    await edit(engine, 12, leaf=leaf, payload=json.dumps({"bid_id": "b-12", "fields": {"total_price": "1.00"}}, separators=(",", ":")))
    async with engine.begin() as conn:
        await conn.execute(sa.update(store.node_table).where(store.node_table.c.id == store.node_key(0, 12)).values(hash=leaf_hash(leaf)))
    log = AuditLog(engine, ORIGIN, signer)
    await log.start()
    try:
        with pytest.raises(IntegrityFailure, match="^第 12 条记录不在已签名的检查点中（检查点含 40 条）$"):
            await log.entries(10, 20)
        with pytest.raises(IntegrityFailure, match=r"^第 12–13 条记录之上存储的树节点（第 1 层）与这些记录不符$"):
            await log.check_everything()
    finally:
        await log.stop()
    async with engine.begin() as conn:  # (3, 4) covers entries 32..39: one of the checkpoint's border nodes
        await conn.execute(sa.update(store.node_table).where(store.node_table.c.id == store.node_key(3, 4)).values(hash=b"\x00" * 32))
    with pytest.raises(IntegrityFailure, match=r"第 12–13 条记录之上存储的树节点"):
        await restart(engine, signer)  # the border does not fold: everything is checked, the first bad part named


async def test_hidden_entries_and_forged_checkpoints_stop_start_up(audit_log: AuditLog, engine: AsyncEngine, signer: Signer) -> None:
    await audit_log.append_many([bid(n) for n in range(5)])
    await audit_log.stop()
    await edit(engine, 3, tender_id="T-other")  # hides entry 3 from T-1's replay
    with pytest.raises(IntegrityFailure, match="第 3 条记录的存储内容与其签名数据不符"):
        await restart(engine, signer)
    await edit(engine, 3, tender_id="T-1")
    await restart(engine, signer)
    # A checkpoint row signed with another key, for a tree with one more entry.
    other = Signer.from_key_text(generate_key(ORIGIN)[0])
    async with engine.begin() as conn:
        cp = await store.latest_checkpoint(conn)
        assert cp is not None
        note = sign_note(Checkpoint(ORIGIN, cp.size, cp.root).to_bytes(), [other]).decode()
        await conn.execute(store.checkpoint_table.insert().values(size=cp.size + 1, root=cp.root, note=note, created_us=0))
    with pytest.raises(IntegrityFailure, match=f"检查点签名核验不通过（检查点含 {cp.size + 1} 条）"):
        await restart(engine, signer)


async def test_a_missing_entry_is_named(audit_log: AuditLog, engine: AsyncEngine, signer: Signer) -> None:
    await audit_log.append_many([bid(n) for n in range(5)])
    await audit_log.stop()
    async with engine.begin() as conn:
        await conn.execute(sa.delete(store.entry_table).where(store.entry_table.c.idx == 2))
    with pytest.raises(IntegrityFailure, match="数据库中缺少第 2 条记录"):
        await restart(engine, signer)
