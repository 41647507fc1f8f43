"""评标须全程录音录像: an evaluation starts only while its booth is being recorded (docs/media.md).

``recording_required`` wraps the start handler (web/api/evaluation.py). Before the start it asks
the media plane whether the booth room of the tender (``eval-<tender id>``, one room for every lot)
is recorded now: Janus configured, started, answering, the room's VideoRoom there. If not:

* the setting ``allow_unrecorded`` does not allow it (``false``, or ``auto`` with a production
  database): 409 with one line, and nothing is written;
* it allows it (``true``, or ``auto`` on the demonstration set-up): the evaluation starts, and one
  ``booth.recording_waived`` entry says that it runs unrecorded by the operator's setting, and
  why; the booth page then shows everyone in the room 本场评审未录音录像 for as long as it is open.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from evaluation.audit.entry import EntryDraft
from evaluation.audit.events import KINDS, register_kind
from evaluation.errors import ConflictError, DomainError, Text
from evaluation.session.ids import parse_evaluation_id
from evaluation.tenders.tender import get
from web.api.tenders import TENDERS
from web.booth.media import MEDIA
from web.keys import AUDIT_LOG, SETTINGS

log = logging.getLogger("pingbiao.media")

WAIVED = "booth.recording_waived"
WAIVED_DOC = (
    "An evaluation session started while its booth could not be recorded, because the operator's "
    "setting allow_unrecorded allows it (本场评审未录音录像). Payload: room, session, setting "
    "('true', or 'auto' on a demonstration database), reason (why nothing is recorded)."
)
REFUSAL = Text("评标须全程录音录像：录制服务不可用，请联系运维")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def register() -> None:
    if WAIVED not in KINDS:
        register_kind(WAIVED, WAIVED_DOC)


register()


def room_of(target: str) -> str:
    """The booth room of an evaluation session id (the tender's room, whatever the lot)."""
    tender_id, _ = parse_evaluation_id(target)
    return f"eval-{tender_id}"


async def unrecorded_reason(app: web.Application, room: str) -> str:
    """Empty while `room` is recorded; else why not."""
    media = app.get(MEDIA)
    if media is None:
        return "评标舱未启用 the booth is not installed"
    return await media.recording_ready(room)


async def waived(app: web.Application, tender_id: str) -> bool:
    """Was an evaluation of `tender_id` started unrecorded by the operator's setting?"""
    return bool(await app[AUDIT_LOG].entries_for_tender(tender_id, kinds=[WAIVED]))


async def _owner(request: web.Request) -> bool:
    """Does the tender belong to the caller? Anyone else gets the start's own refusal, not this one."""
    try:
        tender = await get(request.app[TENDERS], parse_evaluation_id(request.match_info["id"])[0])
    except DomainError:
        return False
    account = request.get("account")
    return account is not None and tender.owned_by(account.actor)


def recording_required(handler: Handler) -> Handler:
    """The start handler, run only while the booth records, or where the operator allows otherwise."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        room = room_of(request.match_info["id"])
        reason = await unrecorded_reason(request.app, room)
        if not reason:
            return await handler(request)
        settings = request.app[SETTINGS]
        if not settings.unrecorded_allowed:
            if not await _owner(request):
                return await handler(request)  # refused there, for what it is
            log.warning("evaluation start refused: not recorded", extra={"room": room, "reason": reason})
            raise ConflictError(REFUSAL)
        response = await handler(request)
        if response.status != 201:
            return response
        session = response.headers.get("Location", "").rsplit("/", 1)[-1] or request.match_info["id"]
        actor = request["account"].actor
        payload = {"room": room, "session": session, "setting": str(settings.allow_unrecorded).lower(),
                   "reason": reason[:300]}
        try:
            await request.app[AUDIT_LOG].append(EntryDraft(WAIVED, payload, parse_evaluation_id(session)[0], actor))
        except Exception as exc:  # noqa: BLE001 — the session has started; say so loudly, answer as it is
            log.error("recording waiver not logged", extra={"room": room, "session": session, "error": repr(exc)})
        return response

    return guarded
