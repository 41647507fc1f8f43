"""Notice a dead Janus within seconds and restart it; report each incident to a callback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from signaling.janus.launcher import JanusProcess, wait_ready


class JanusSupervisor:
    """Watches a JanusProcess: child exit (or no answer to /info) → incident → restart."""

    def __init__(self, janus: JanusProcess, on_incident: Callable[[str], Awaitable[None]],
                 on_restart: Callable[[], Awaitable[None]] | None = None, check: float = 0.5) -> None:
        self.janus = janus
        self.on_incident = on_incident
        self.on_restart = on_restart
        self.check = check
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            proc = self.janus.proc
            if proc is not None:
                await asyncio.to_thread(proc.wait)  # returns when the child exits
            else:
                try:
                    await wait_ready(self.janus.url, loop.time() + self.check)
                    await asyncio.sleep(self.check)  # probe period for a Janus we did not start
                    continue
                except Exception:
                    pass
            code = proc.returncode if proc is not None else None
            await self.on_incident(f"janus exited (status {code})")
            self.janus.proc = None
            await self.janus.start()
            self.restarts += 1
            if self.on_restart is not None:
                await self.on_restart()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self.janus.stop()
