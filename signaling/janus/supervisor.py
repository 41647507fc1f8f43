"""Notice a dead Janus within seconds and restart it; report each incident to a callback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from signaling.janus.launcher import JanusProcess, wait_ready


class JanusSupervisor:
    """Watches Janus: a child that exits is restarted; a Janus at a URL that stops answering is
    waited for. Each outage is one incident (on_incident), each recovery one on_restart."""

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
        external = self.janus.proc is None  # a Janus at a configured URL: reconnect, never spawn
        while True:
            proc = self.janus.proc
            if not external and proc is not None:
                await asyncio.to_thread(proc.wait)  # returns when the child exits
                await self.on_incident(f"janus exited (status {proc.returncode})")
                self.janus.proc = None
                await self.janus.start()
            else:
                try:
                    await wait_ready(self.janus.url, loop.time() + self.check)
                    await asyncio.sleep(self.check)  # probe period for a Janus we did not start
                    continue
                except Exception:
                    await self.on_incident(f"janus at {self.janus.url} stopped answering")
                while True:
                    try:
                        await wait_ready(self.janus.url, loop.time() + 5.0)
                        break
                    except Exception:
                        continue
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
