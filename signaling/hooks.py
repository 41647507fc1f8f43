"""Hooks through which signaling reports presence to the rest of the platform (web/ → audit log).

Each hook is awaited once per event, by the server process where the event happened, after the
room registry changed. A hook that raises is logged and ignored: presence never waits on, or fails
because of, the audit log being slow or down — web/ must queue what it cannot write at once.
"""

from __future__ import annotations

import logging
from typing import Protocol

from signaling.codes import Role

log = logging.getLogger("pingbiao.signaling")


class SignalingHooks(Protocol):
    """What web/ implements. `reason` is one short word or phrase (documented per hook)."""

    async def on_join(self, room: str, account: str, role: Role, reason: str) -> None:
        """A participant took a place in `room`. reason: "joined"."""

    async def on_leave(self, room: str, account: str, role: Role, reason: str) -> None:
        """A participant's place was released. reason: "left" (sent leave) or "timeout"
        (did not come back within the grace period)."""

    async def on_reconnect(self, room: str, account: str, role: Role, reason: str) -> None:
        """A participant's connection dropped or came back. reason: "lost" (socket closed),
        "heartbeat" (silent too long), "slow" (stopped reading: closed with 4010), "back"
        (returned within grace), "replaced" (a new connection of the same participant replaced a
        live one)."""

    async def on_remove(self, room: str, account: str, role: Role, reason: str) -> None:
        """The host removed a participant. reason: "by <host account>: <host's reason>"."""


class NoHooks:
    """Hooks that do nothing (the default)."""

    async def on_join(self, room: str, account: str, role: Role, reason: str) -> None:
        return None

    async def on_leave(self, room: str, account: str, role: Role, reason: str) -> None:
        return None

    async def on_reconnect(self, room: str, account: str, role: Role, reason: str) -> None:
        return None

    async def on_remove(self, room: str, account: str, role: Role, reason: str) -> None:
        return None


async def call_hook(hooks: SignalingHooks, name: str, room: str, account: str, role: Role, reason: str) -> None:
    """Await hook `name`, logging (not raising) whatever it raises."""
    try:
        await getattr(hooks, name)(room, account, role, reason)
    except Exception as exc:  # a hook's failure must not break signaling
        log.error("hook failed", extra={"hook": name, "room": room, "account": account, "error": repr(exc)})
