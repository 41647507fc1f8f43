"""The access log (web/ops/access_log.py) over real HTTP: one JSON line per request with its
request id, method, path without the query's values, status, duration and the signed-in account;
answers refused by permissions and errors raised by handlers are logged with their final status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role
from tests.web import logcapture
from tests.web.signin import sign_in_as
from web.app import create_app
from web.config import Settings

stderr_json = logcapture.stderr_json  # the fixture: the JSON log lines, read back


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "pingbiao.access"]


async def test_one_line_per_request(aiohttp_client: Any, tmp_path: Path, stderr_json: Any) -> None:
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data", beacon_period=1)))
    anonymous = await client.get("/api/tenders?mine=1&token=s3cret-value")
    assert anonymous.status == 401
    await sign_in_as(client, Role.agency)
    me = await (await client.get("/api/me")).json()
    listed = await client.get("/api/tenders?mine=1&token=s3cret-value", headers={"X-Request-Id": "probe-0001-abcd"})
    assert listed.status == 200
    missing = await client.get("/api/tenders/T-nope")
    assert missing.status == 404

    lines = access_lines(stderr_json())
    by_id = {line["request_id"]: line for line in lines}
    assert all(line["event"] == "request" and line["level"] == "info" for line in lines)
    assert "s3cret-value" not in str(lines)  # query values never reach the log

    first = by_id[anonymous.headers["X-Request-Id"]]
    assert (first["method"], first["path"], first["status"], first["query_keys"]) == ("GET", "/api/tenders", 401, "mine,token")
    assert "account" not in first and first["client"] == "127.0.0.1"

    line = by_id["probe-0001-abcd"]  # the proxy's id kept
    assert (line["status"], line["account"], line["role"]) == (200, me["account"]["id"], "agency")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0

    gone = by_id[missing.headers["X-Request-Id"]]
    assert (gone["path"], gone["status"], gone["account"]) == ("/api/tenders/T-nope", 404, me["account"]["id"])
    assert len([x for x in lines if x["path"] == "/api/tenders"]) == 2  # once per request, not once per middleware
