"""The replay's recordings (监管回放录像): a tender's archived playable files for the supervisor's
players (docs/media.md, "Archive"), and what the replay page needs to place them on the timeline.

Only files a room's ``manifest.json`` names are served, from ``recordings_archive_dir``; aiohttp's
FileResponse answers Range requests, so the video element can seek.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from web.booth.archive import archive_root, read_manifest
from web.errors import NotFound
from web.i18n import language_of, translate
from web.keys import SETTINGS
from web.labels import N_

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
INCIDENT = "booth.media_incident"


def _manifest(request: web.Request, tender_id: str) -> tuple[str, dict[str, Any]] | None:
    if not _ID.match(tender_id):
        return None
    room = f"eval-{tender_id}"
    try:
        manifest = read_manifest(archive_root(request.app[SETTINGS]) / tender_id / room)
    except Exception:  # noqa: BLE001 — an unreadable manifest shows as no recordings
        return None
    return (room, manifest) if manifest and manifest.get("recordings") else None


async def recording_file(request: web.Request) -> web.StreamResponse:
    tender_id, room, name = (request.match_info[k] for k in ("tender_id", "room", "file"))
    found = _manifest(request, tender_id)
    if found is None or found[0] != room or name not in {e["file"] for e in found[1]["recordings"]}:
        raise NotFound(translate(N_("没有这个录像文件。"), language_of(request)))
    path = archive_root(request.app[SETTINGS]) / tender_id / room / name
    if not path.is_file():
        raise NotFound(translate(N_("没有这个录像文件。"), language_of(request)))
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


def replay_recordings(request: web.Request, tender_id: str, entries: list[Any], names: Any) -> dict[str, Any] | None:
    """The players of the replay page: one per participant and source, each with its files as
    segments on the session's span, and the moments its stream stalled (feed_stalled)."""
    found = _manifest(request, tender_id)
    if found is None:
        return None
    room, manifest = found
    players: dict[tuple[str, str], dict[str, Any]] = {}
    owner: dict[str, tuple[str, str]] = {}
    for e in manifest["recordings"]:
        key = (e["account"], e["source"])
        p = players.setdefault(key, {"account": e["account"], "source": e["source"],
                                     "name": names(e["account"]) or e["account"] or e["feed"],
                                     "segments": [], "stalls": []})
        p["segments"].append({"url": f"/audit/tenders/{tender_id}/recordings/{room}/{e['file']}",
                              "start": e["start_us"] / 1e6, "duration": e["duration"], "file": e["file"]})
        for m in e["mjr"]:
            owner[m["file"]] = key
    for entry in entries:
        if entry.kind != INCIDENT or entry.payload.get("room") != room or entry.payload.get("what") != "feed_stalled":
            continue
        file = str(entry.payload.get("detail", "")).split(" ", 1)[0]
        if file in owner:
            players[owner[file]]["stalls"].append(entry.time.timestamp())
    starts = [s["start"] for p in players.values() for s in p["segments"]]
    ends = [s["start"] + s["duration"] for p in players.values() for s in p["segments"]]
    stalls = [t for p in players.values() for t in p["stalls"]]
    return {"room": room, "from": min(starts + stalls), "to": max(ends + stalls),
            "players": sorted(players.values(), key=lambda p: (p["name"], p["source"]))}
