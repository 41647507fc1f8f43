"""Audit-log event kinds of the remote evaluation booth (评标舱): who was in the room, and when.

Written by web/booth/routes.py from the signaling hooks (signaling/hooks.py), one entry per event, in the
order they happened on the process that saw them. The tender is the one whose evaluation session
the room is (room ``eval-<tender_id>``); the actor is the participant, with its platform role.
Payload of every kind: room (str), role (the booth role: expert, host, supervisor, observer),
reason (str, as the hook gave it). Documented in docs/audit-log.md; replay shows them in the
tender's timeline (no reducer: presence does not change the tender's state).
"""

from __future__ import annotations

from evaluation.audit.events import KINDS, register_kind

BOOTH_KINDS: dict[str, str] = {
    "booth.joined": (
        "A participant took a place in an evaluation session's booth room (评标舱). Payload: room, "
        "role (booth role), reason ('joined')."
    ),
    "booth.left": (
        "A participant's place in a booth room was released. Payload: room, role, reason: 'left' "
        "(the participant left) or 'timeout' (did not come back within the grace period)."
    ),
    "booth.reconnected": (
        "A participant's connection to a booth room dropped or came back, its place kept. Payload: "
        "room, role, reason: 'lost', 'heartbeat' (silent too long), 'back' (returned within the "
        "grace period) or 'replaced' (a newer connection of the same participant took over)."
    ),
    "booth.removed": (
        "The host removed a participant from a booth room; it cannot rejoin that room. The actor is "
        "the removed participant. Payload: room, role, reason ('by <host account>: <reason>')."
    ),
}


def register() -> None:
    """Register the booth kinds (once; later calls do nothing)."""
    for kind, doc in BOOTH_KINDS.items():
        if kind not in KINDS:
            register_kind(kind, doc)


register()
