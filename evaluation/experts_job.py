"""The draw job: completes every requested draw once its beacon round exists. Survives restarts:
on start (and on each pass) it resumes every draw left in state 'requested'.

Like the opening scheduler: one loop looks at the database when kicked (a new request) or every
MAX_IDLE seconds; each pending draw gets one task that waits for its round from the beacon source
(which retries until it answers), then runs the idempotent ``complete_draw``.
``drawn(tender_id)`` lets a caller (a test, a page) wait for the completion event.
"""

from __future__ import annotations

import asyncio
import logging

from crypto.drand import Beacon, BeaconSource
from crypto.errors import CryptoError
from evaluation.draw_service import complete_draw, fix_round, pending_draws
from evaluation.tenders import TenderContext

log = logging.getLogger("pingbiao.draw")
MAX_IDLE = 60.0
RETRY_DELAY = 2.0


class DrawJob:
    """Background job of one app; ``run`` is its task, ``kick`` makes it look again at once."""

    def __init__(self, ctx: TenderContext, beacon: BeaconSource) -> None:
        self._ctx = ctx
        self._beacon = beacon
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}

    def kick(self) -> None:
        self._wake.set()

    def _event(self, tender_id: str) -> asyncio.Event:
        return self._done.setdefault(tender_id, asyncio.Event())

    async def drawn(self, tender_id: str) -> None:
        """Return once this job has completed the pending draw of `tender_id`."""
        await self._event(tender_id).wait()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                for tender_id, round in await pending_draws(self._ctx):
                    if tender_id not in self._tasks:
                        self._spawn(tender_id, round)
            except Exception:
                log.exception("draw job pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=MAX_IDLE)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _spawn(self, tender_id: str, round: int) -> None:
        self._event(tender_id).clear()
        async def job() -> None:
            try:
                number = round or await fix_round(self._ctx, tender_id)
                beacon = await self._wait_beacon(number)
                await complete_draw(self._ctx, tender_id, beacon)
                self._event(tender_id).set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("draw failed; retrying", extra={"tender": tender_id, "error": repr(exc)})
                await asyncio.sleep(RETRY_DELAY)

        task = asyncio.create_task(job(), name=f"draw-{tender_id}")
        self._tasks[tender_id] = task

        def done(_t: asyncio.Task[None]) -> None:
            self._tasks.pop(tender_id, None)
            self.kick()

        task.add_done_callback(done)

    async def _wait_beacon(self, round: int) -> Beacon:
        delay = 0.5
        while True:
            try:
                return await self._beacon.wait_for(round)
            except (CryptoError, OSError) as exc:
                log.warning("beacon not available yet", extra={"round": round, "error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
