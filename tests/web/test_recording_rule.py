"""评标须全程录音录像 (docs/media.md, *No evaluation without recording*), over real HTTP: without a
recorded booth the start is refused with one line and nothing written, unless the setting
allow_unrecorded allows it — then it starts, the log says so, and the booth shows 本场评审未录音录像.
Janus down: a real Janus at a URL, stopped and started again. Booth participants in /metrics."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from signaling.client import SignalingClient
from signaling.janus.launcher import JanusProcess
from signaling.messages import Leave
from tests.conftest import need
from tests.web.tender_client import Hall, start
from tests.web.test_booth_api import token_for, ws_url
from tests.web.test_evaluation_api import seated
from tests.web.test_ops_metrics import metrics, samples
from web.booth.media import MEDIA
from web.booth.recording_rule import REFUSAL, WAIVED
from web.config import ConfigError, Settings, load_settings
from web.keys import AUDIT_LOG


async def kinds(hall: Hall, kind: str) -> list[Any]:
    log = hall.client.app[AUDIT_LOG]
    return [e for e in await log.entries(0, log.size) if e.kind == kind]


async def refused_and_nothing_written(hall: Hall, tender_id: str, experts: list[str]) -> None:
    log = hall.client.app[AUDIT_LOG]
    size = log.size
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tender_id}/start", json={})
    assert status == 409, body
    assert body["error"] == str(REFUSAL) and body["error"].startswith("评标须全程录音录像：录制服务不可用，请联系运维")
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    status, _ = await hall.call("agency2", "POST", f"/api/evaluation/{tender_id}/start", json={})
    assert status == 403  # another agency gets the start's own refusal, not this one
    assert log.size == size
    status, _ = await hall.call(experts[0], "GET", f"/api/evaluation/{tender_id}")
    assert status == 404  # no session


async def test_without_janus_the_start_is_refused_unless_allowed(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path, janus="off", allow_unrecorded="false")
    tender_id, experts = await seated(hall)
    await refused_and_nothing_written(hall, tender_id, experts)
    assert await kinds(hall, WAIVED) == []


async def test_allowed_unrecorded_start_is_logged_and_the_booth_says_so(aiohttp_client: Any, tmp_path: Path) -> None:
    """The demonstration default (auto on SQLite) allows it: started, logged, a banner for everyone."""
    hall = await start(aiohttp_client, tmp_path, janus="off")
    assert hall.client.app[MEDIA].sfu is False
    tender_id, experts = await seated(hall)
    status, body = await hall.call("agency", "POST", f"/api/evaluation/{tender_id}/start", json={})
    assert status == 201, body
    [waiver] = await kinds(hall, WAIVED)
    assert waiver.tender_id == tender_id and waiver.actor.account == hall.accounts["agency"].id
    assert waiver.payload["room"] == f"eval-{tender_id}" and waiver.payload["session"] == tender_id
    assert waiver.payload["setting"] == "auto" and "janus = off" in waiver.payload["reason"]
    started = [e for e in await kinds(hall, "evaluation.started") if e.tender_id == tender_id]
    assert started and started[0].index < waiver.index  # only after the start succeeded
    for who in ("agency", experts[0], "supervisor"):
        status, page = await hall.call(who, "GET", f"/booth/eval-{tender_id}")
        assert status == 200, who
        assert 'id="unrecorded"' in page and "本场评审未录音录像" in page, who
    status, page = await hall.call(experts[0], "GET", f"/booth/eval-{tender_id}", headers={"Cookie": f"{hall.headers[experts[0]]['Cookie']}; lang=en"})
    assert "This evaluation is not recorded" in page

    # Everyone in the booth: a participant joins over the real signaling, counted in /metrics.
    async def participants() -> float:
        return samples(await metrics(hall.client), "pingbiao_booth_participants")[""]
    assert await participants() == 0
    status, body = await token_for(hall.client, hall.headers[experts[0]], f"eval-{tender_id}")
    assert status == 200 and body["media"]["recording"] is False
    peer = await SignalingClient.connect(ws_url(hall.client, f"eval-{tender_id}"), body["token"])
    assert await participants() == 1
    await peer.send(Leave())
    assert await peer.closed() == 1000
    deadline = asyncio.get_running_loop().time() + 10
    while await participants() != 0:
        assert asyncio.get_running_loop().time() < deadline, "the participant is still counted"
        await asyncio.sleep(0.1)
    assert samples(await metrics(hall.client), "pingbiao_booth_recording_bytes")[""] == 0  # nothing recorded


async def test_janus_down_refuses_the_start_and_back_up_it_starts_recorded(aiohttp_client: Any, tmp_path: Path) -> None:
    need(shutil.which("janus") is not None, "janus is not installed (Debian packages janus, janus-tools)")
    janus = JanusProcess.in_directory(tmp_path / "janus-elsewhere", "admin-secret-elsewhere")
    await janus.start()
    try:
        hall = await start(aiohttp_client, tmp_path, janus=janus.url, allow_unrecorded="false")
        media = hall.client.app[MEDIA]
        tender_id, experts = await seated(hall)
        assert await media.recording_ready(f"eval-{tender_id}") == ""  # the room exists, recording
        await janus.stop()
        await refused_and_nothing_written(hall, tender_id, experts)
        await janus.start()

        async def restarted() -> bool:
            return not media.down and await media.recording_ready(f"eval-{tender_id}") == ""
        deadline = asyncio.get_running_loop().time() + 30
        while not await restarted():
            assert asyncio.get_running_loop().time() < deadline, "the media plane did not come back"
            await asyncio.sleep(0.2)
        status, body = await hall.call("agency", "POST", f"/api/evaluation/{tender_id}/start", json={})
        assert status == 201, body
        assert await kinds(hall, WAIVED) == []
        status, page = await hall.call(experts[0], "GET", f"/booth/eval-{tender_id}")
        assert status == 200 and 'id="unrecorded"' not in page and 'data-recording="on"' in page
    finally:
        await janus.stop()


def test_the_setting_and_its_default(tmp_path: Path) -> None:
    env = {"PINGBIAO_DATA_DIR": str(tmp_path)}
    assert load_settings(environ=env).unrecorded_allowed  # the demonstration set-up (SQLite)
    production = {**env, "PINGBIAO_DATABASE_URL": "postgresql+asyncpg://u@h/db", "PINGBIAO_ALLOW_LOCAL_BEACON": "true"}
    assert not load_settings(environ=production).unrecorded_allowed
    assert load_settings(environ={**production, "PINGBIAO_ALLOW_UNRECORDED": "true"}).unrecorded_allowed
    assert not load_settings(environ={**env, "PINGBIAO_ALLOW_UNRECORDED": "false"}).unrecorded_allowed
    assert Settings(allow_unrecorded=True).unrecorded_allowed  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="allow_unrecorded"):
        load_settings(environ={**env, "PINGBIAO_ALLOW_UNRECORDED": "maybe"})
