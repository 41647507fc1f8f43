"""`pingbiao experts export` as an operator runs it for an auditor: a real process on the
installation's data directory after a real draw (pool imported and drawn over the API). The file
holds every expert's rule inputs and no personal data, the same as standard output, and with an
audit export it lets `experts rederive-pool` re-derive the draw's pool; an unknown tender is one
line and exit status 1, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluation.accounts.account import Role
from evaluation.experts.draw_service import expert_export
from tests.web.signin import make_account, session_headers
from tests.web.tender_client import drawn_committee, opened_tender, start
from tests.web.test_evaluation_api import run_cli
from web.keys import ENGINE


async def test_experts_export_feeds_rederive_pool(aiohttp_client: Any, tmp_path: Path) -> None:
    hall = await start(aiohttp_client, tmp_path)
    for i in range(5):
        account = await make_account(hall.client.app, Role.expert, f"pool-expert-{i}")  # not a run of hex digits
        hall.accounts[f"e{i}"], hall.headers[f"e{i}"] = account, await session_headers(hall.client.app, account)
    tender_id = await opened_tender(hall)
    await drawn_committee(hall, tender_id, [f"e{i}" for i in range(5)])
    data_dir = tmp_path / "data"

    out = tmp_path / "experts.json"
    done = run_cli(data_dir, "experts", "export", "--tender", tender_id, str(out))
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert done.stdout.strip() == f"wrote {len(written['experts'])} experts of the pool for tender {tender_id} to {out}"
    assert written == await expert_export(hall.client.app[ENGINE], tender_id)  # what the database holds, as JSON
    assert len(written["experts"]) >= 5
    text = out.read_text(encoding="utf-8")
    for e in range(5):  # no names, usernames or ID numbers of the experts
        assert hall.accounts[f"e{e}"].username not in text and hall.accounts[f"e{e}"].display_name not in text
    assert all("name" not in x and "id_number" not in x for x in written["experts"])

    to_stdout = run_cli(data_dir, "experts", "export", "--tender", tender_id, "-")
    assert to_stdout.returncode == 0 and json.loads(to_stdout.stdout) == written

    bundle = tmp_path / "bundle"
    assert run_cli(data_dir, "audit", "export", str(bundle)).returncode == 0
    checked = run_cli(data_dir, "experts", "rederive-pool", str(bundle), "--tender", tender_id, "--experts", str(out))
    assert checked.returncode == 0 and checked.stdout.startswith("ok: the pool of "), checked.stdout + checked.stderr

    missing = tmp_path / "none.json"
    refused = run_cli(data_dir, "experts", "export", "--tender", "T-nope", str(missing))
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and lines == ["pingbiao: error: 找不到该项目（T-nope）"], refused.stderr
    assert not missing.exists() and refused.stdout == ""
