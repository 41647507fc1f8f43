"""Booth room tokens over real HTTP, checked by the real signaling server mounted at /signaling;
presence reaches the audit log; the signaling secret is created once, private.

The room is the evaluation session of a real tender (``eval-<tender id>``): created and opened
over the API by its agency, with a committee seated by the real pool import and draw
(tests/web/tender_client.py), so ``may_join`` decides from the tender and the drawn committee."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation.accounts.account import Role
from evaluation.audit.events import KINDS
from signaling.client import Closed, SignalingClient
from signaling.codes import CloseCode, ErrorCode
from signaling.codes import Role as BoothRole
from signaling.config import SignalingConfig
from signaling.messages import (
    Error,
    Leave,
    Offer,
    PeerBack,
    PeerJoined,
    PeerLeft,
    PeerReconnecting,
    RelayedOffer,
    Remove,
    Removed,
)
from signaling.tokens import RoomToken, TokenSigner
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import drawn_committee, opened_tender
from tests.web.tender_client import start as start_hall
from web.app import create_app
from web.booth.routes import PRESENCE, SECRET_FILE, SIGNER, TOKEN_BURST
from web.config import Settings
from web.keys import AUDIT_LOG

JOIN_BURST = SignalingConfig(token_secret=b"x" * 32).join_burst  # the booth runs signaling's default


async def start(aiohttp_client: Any, tmp_path: Path) -> tuple[TestClient, dict[str, Any], dict[str, dict[str, str]], str]:
    """The app, accounts by name, their session headers, and the booth room of a tender of
    "agency" whose drawn committee seats expert1 and expert2 ("outsider": an expert in the pool,
    never drawn; "expert": an expert not in the pool)."""
    hall = await start_hall(aiohttp_client, tmp_path)
    app = hall.client.app
    for name, role in [("expert1", Role.expert), ("expert2", Role.expert), ("outsider", Role.expert),
                       ("bidder", Role.bidder), ("admin", Role.admin)]:
        hall.accounts[name] = await make_account(app, role, username=name)
        hall.headers[name] = await session_headers(app, hall.accounts[name])
    tender_id = await opened_tender(hall)
    await drawn_committee(hall, tender_id, ["expert1", "expert2"], outsiders=["outsider"])
    return hall.client, hall.accounts, hall.headers, f"eval-{tender_id}"


def ws_url(client: TestClient, room: str) -> str:
    return str(client.make_url(f"/signaling/rooms/{room}")).replace("http://", "ws://")


async def token_for(client: TestClient, headers: dict[str, str], room: str) -> tuple[int, Any]:
    resp = await client.get(f"/api/booth/{room}/token", headers={**headers, "Accept": "application/json"})
    return resp.status, await resp.json()


async def test_allowed_roles_get_tokens_the_server_accepts(aiohttp_client: Any, tmp_path: Path) -> None:
    client, accounts, headers, room = await start(aiohttp_client, tmp_path)
    expected = {"expert1": "expert", "agency": "host", "supervisor": "supervisor"}
    joined = []
    try:
        for name, role in expected.items():
            status, body = await token_for(client, headers[name], room)
            assert status == 200, body
            assert body["role"] == role and body["id"] == accounts[name].id and body["room"] == room
            assert body["url"] == f"/signaling/rooms/{room}"
            assert 60 <= body["expires"] - time.time() <= 130
            peer = await SignalingClient.connect(ws_url(client, room), body["token"])
            assert peer.welcome is not None
            assert peer.welcome.id == accounts[name].id and peer.welcome.role.value == role
            assert peer.welcome.name == accounts[name].display_name
            assert peer.welcome.ice_servers == ()  # no STUN/TURN configured: host candidates only
            joined.append(peer)
        last = joined[-1].welcome
        assert last is not None
        assert [p.id for p in last.participants] == [accounts["expert1"].id, accounts["agency"].id]
    finally:
        for peer in joined:
            await peer.close()


async def test_other_roles_and_rooms_are_refused(aiohttp_client: Any, tmp_path: Path) -> None:
    client, _, headers, room = await start(aiohttp_client, tmp_path)
    for name in ("bidder", "admin"):
        status, body = await token_for(client, headers[name], room)
        assert status == 403, body
        assert "expert" in body["error"].lower() or "专家" in body["error"]  # names who may
    status, _ = await token_for(client, headers["anonymous"], room)
    assert status == 401
    status, body = await token_for(client, headers["expert1"], room="not-an-evaluation")
    assert status == 404 and "not-an-evaluation" in body["error"]
    resp = await client.get(f"/booth/{room}", headers={**headers["bidder"], "Accept": "text/html"})
    assert resp.status == 403
    resp = await client.get(f"/booth/{room}", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login?next=")
    resp = await client.get(f"/booth/{room}", headers=headers["expert1"])
    assert resp.status == 200
    page = await resp.text()
    assert "摄像头与麦克风检查" in page and "/static/booth.js" in page and 'data-role="expert"' in page


async def test_forged_expired_and_foreign_tokens_get_their_close_codes(aiohttp_client: Any, tmp_path: Path) -> None:
    client, accounts, headers, room = await start(aiohttp_client, tmp_path)
    _, good = await token_for(client, headers["expert1"], room)
    forger = TokenSigner(b"x" * 32)  # not the server's secret
    forged = forger.issue(room, accounts["expert1"].id, BoothRole.HOST, "冒名 Forger")
    tampered = good["token"][:-2] + ("AA" if not good["token"].endswith("AA") else "BB")
    signer = client.app[SIGNER]
    expired = signer.encode(RoomToken(room, accounts["expert1"].id, BoothRole.EXPERT, "过期 Expired", int(time.time()) - 1))
    cases = [(forged, room, CloseCode.INVALID_TOKEN), (tampered, room, CloseCode.INVALID_TOKEN),
             (expired, room, CloseCode.EXPIRED_TOKEN), (good["token"], "eval-other", CloseCode.WRONG_ROOM)]
    for token, room, code in cases:
        with pytest.raises(Closed) as refused:
            await SignalingClient.connect(ws_url(client, room), token)
        assert refused.value.code == code, (room, refused.value)


async def test_presence_is_in_the_audit_log(aiohttp_client: Any, tmp_path: Path) -> None:
    client, accounts, headers, room = await start(aiohttp_client, tmp_path)
    assert {"booth.joined", "booth.left", "booth.reconnected", "booth.removed"} <= set(KINDS)
    log = client.app[AUDIT_LOG]
    start_size = log.size
    url = ws_url(client, room)
    host = await SignalingClient.connect(url, (await token_for(client, headers["agency"], room))[1]["token"])
    expert = await SignalingClient.connect(url, (await token_for(client, headers["expert1"], room))[1]["token"])
    await host.expect(PeerJoined)
    await expert.close()  # lost, then back within the grace period
    await host.expect(PeerReconnecting)
    expert = await SignalingClient.connect(url, (await token_for(client, headers["expert1"], room))[1]["token"])
    assert expert.welcome is not None and expert.welcome.resumed
    await host.expect(PeerBack)
    other = await SignalingClient.connect(url, (await token_for(client, headers["expert2"], room))[1]["token"])
    await host.expect(PeerJoined)
    await host.send(Remove(accounts["expert2"].id, "测试 test"))
    assert await other.closed() == CloseCode.REMOVED
    await expert.send(Leave())
    assert await expert.closed() == 1000
    while not (isinstance(m := await host.recv(), PeerLeft) and m.id == accounts["expert1"].id):
        pass
    await host.close()
    await client.app[PRESENCE].drain()
    entries = [e for e in await log.entries(start_size, log.size) if e.kind.startswith("booth.")]
    seen = [(e.kind, e.actor.account, e.actor.role, e.payload["reason"]) for e in entries]
    a, e1, e2 = accounts["agency"].id, accounts["expert1"].id, accounts["expert2"].id
    assert seen[:7] == [
        ("booth.joined", a, "agency", "joined"),
        ("booth.joined", e1, "expert", "joined"),
        ("booth.reconnected", e1, "expert", "lost"),
        ("booth.reconnected", e1, "expert", "back"),
        ("booth.joined", e2, "expert", "joined"),
        ("booth.removed", e2, "expert", f"by {a}: 测试 test"),
        ("booth.left", e1, "expert", "left"),
    ], seen
    assert all(e.tender_id == room.removeprefix("eval-") and e.payload["room"] == room for e in entries)
    assert entries[0].payload["role"] == "host"


async def test_only_the_tenders_agency_and_committee_may_join(aiohttp_client: Any, tmp_path: Path) -> None:
    """An expert signed in but not on this tender's committee — in the pool yet not drawn, or not
    in the pool at all — gets 403 for the token and the page; so does another agency, and a room
    named after a tender that does not exist."""
    client, _, headers, room = await start(aiohttp_client, tmp_path)
    for name in ("outsider", "expert", "agency2"):
        status, body = await token_for(client, headers[name], room)
        assert status == 403, (name, body)
        assert room in body["error"], body
        resp = await client.get(f"/booth/{room}", headers={**headers[name], "Accept": "text/html"})
        assert resp.status == 403, name
    for name, role in [("expert1", "expert"), ("expert2", "expert"), ("agency", "host")]:
        status, body = await token_for(client, headers[name], room)
        assert (status, body["role"]) == (200, role), (name, body)
    status, _ = await token_for(client, headers["expert1"], "eval-T-no-such-tender")
    assert status == 403
    status, body = await token_for(client, headers["supervisor"], "eval-T-no-such-tender")
    assert status == 200 and body["role"] == "supervisor"  # supervisors may watch any evaluation room


def test_secret_is_created_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    create_app(settings)
    path = settings.data_dir / SECRET_FILE
    first = path.read_bytes()
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    create_app(settings)
    assert path.read_bytes() == first


async def test_a_removal_the_server_refuses_changes_nothing_and_a_good_one_is_logged(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """A remove reason holding a lone surrogate used to half-remove: the expert got no message,
    stayed connected and could still relay, and no booth.removed was written. Now it is refused
    at the frame boundary and nothing changes; the host's next, valid removal is logged."""
    client, accounts, headers, room = await start(aiohttp_client, tmp_path)
    log = client.app[AUDIT_LOG]
    url = ws_url(client, room)
    host = await SignalingClient.connect(url, (await token_for(client, headers["agency"], room))[1]["token"])
    expert = await SignalingClient.connect(url, (await token_for(client, headers["expert1"], room))[1]["token"])
    await host.expect(PeerJoined)
    e1 = accounts["expert1"].id
    await host.send_raw(json.dumps({"type": "remove", "to": e1, "reason": "\ud800"}))  # sent as "\\ud800"
    assert await host.recv() == Error(ErrorCode.BAD_JSON, "message is not valid Unicode: lone surrogate \\ud800")
    await expert.send(Offer(accounts["agency"].id, "v=0"))
    assert await host.recv() == RelayedOffer(e1, "v=0")  # still a participant, as it should be
    await host.send(Remove(e1, "离席 left the booth"))
    assert await expert.expect(Removed) == Removed(accounts["agency"].id, "离席 left the booth")
    assert await expert.closed() == CloseCode.REMOVED
    await host.close()
    await client.app[PRESENCE].drain()
    removed = [e for e in await log.entries(0, log.size) if e.kind == "booth.removed"]
    assert [(e.actor.account, e.payload["reason"]) for e in removed] == [
        (e1, f"by {accounts['agency'].id}: 离席 left the booth")
    ]


async def test_token_and_join_churn_is_throttled_and_the_audit_log_stays_small(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """Join, leave, again: after the signaling join budget the joins are refused (4011, nothing
    logged) even with fresh tokens, and after the token budget the tokens are refused (429)."""
    client, accounts, headers, room = await start(aiohttp_client, tmp_path)
    log = client.app[AUDIT_LOG]
    start_size = log.size
    url = ws_url(client, room)
    outcomes: list[object] = []
    for _ in range(TOKEN_BURST + 1):
        status, body = await token_for(client, headers["expert1"], room)
        if status != 200:
            outcomes.append(status)
            break
        try:
            peer = await SignalingClient.connect(url, body["token"])
        except Closed as refused:
            outcomes.append(refused.code)
            continue
        await peer.send(Leave())
        outcomes.append(await peer.closed())
    await client.app[PRESENCE].drain()  # every presence event is queued by now; wait until written
    burst = JOIN_BURST
    assert outcomes == [1000] * burst + [CloseCode.TOO_MANY_JOINS] * (TOKEN_BURST - burst) + [429]
    status, body = await token_for(client, headers["expert1"], room)
    assert status == 429 and body["error"].startswith("请求入场凭证过于频繁，请 ") and "秒后再试" in body["error"]
    resp = await client.get(f"/api/booth/{room}/token", headers={**headers["expert1"], "Accept": "application/json"})
    assert resp.status == 429 and 1 <= int(resp.headers["Retry-After"]) <= 6
    entries = [e for e in await log.entries(start_size, log.size) if e.kind.startswith("booth.")]
    assert len(entries) == 2 * burst  # joined + left per admitted join; refusals write nothing
    status, _ = await token_for(client, headers["expert2"], room)  # other accounts are not affected
    assert status == 200
