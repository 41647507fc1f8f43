"""The draw job: completes every requested draw once its beacon round exists. Survives restarts:
on start (and on each pass) it resumes every draw left in state 'requested'.

Like the opening scheduler (both run on evaluation.round_jobs): one loop looks at the database
when kicked (a new request) or every MAX_IDLE seconds; each pending draw gets one task that waits
for its round from the beacon source (which retries until it answers), then runs the idempotent
``complete_draw``. ``drawn(tender_id)`` lets a caller (a test, a page) wait for the completion event.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from crypto.drand import BeaconSource
from evaluation.experts.draw_service import complete_draw, fix_round, pending_draws
from evaluation.tenders.round_jobs import KeyedJobs, wait_for_beacon
from evaluation.tenders.tender import TenderContext

log = logging.getLogger("pingbiao.draw")
MAX_IDLE = 60.0


class DrawJob:
    """Background job of one app; ``run`` is its task, ``kick`` makes it look again at once."""

    def __init__(self, ctx: TenderContext, beacon: BeaconSource) -> None:
        self._ctx = ctx
        self._beacon = beacon
        self._jobs = KeyedJobs(log, task_prefix="draw", pass_failed="draw job pass failed",
                               job_failed="draw failed; retrying")
        self._done: dict[str, asyncio.Event] = {}

    def kick(self) -> None:
        self._jobs.kick()

    def _event(self, tender_id: str) -> asyncio.Event:
        return self._done.setdefault(tender_id, asyncio.Event())

    async def drawn(self, tender_id: str) -> None:
        """Return once this job has completed the pending draw of `tender_id`."""
        await self._event(tender_id).wait()

    async def run(self) -> None:
        await self._jobs.loop(self._dispatch, delay_after_failure=MAX_IDLE)

    async def stop(self) -> None:
        await self._jobs.stop()

    async def _dispatch(self) -> float:
        for tender_id, round in await pending_draws(self._ctx):
            if tender_id not in self._jobs:
                self._event(tender_id).clear()
                self._jobs.spawn(tender_id, functools.partial(self._draw, tender_id, round))
        return MAX_IDLE

    async def _draw(self, tender_id: str, round: int) -> None:
        number = round or await fix_round(self._ctx, tender_id)
        beacon = await wait_for_beacon(self._beacon, number, log=log)
        await complete_draw(self._ctx, tender_id, beacon)
        self._event(tender_id).set()
