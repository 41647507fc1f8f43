"""The opening scheduler: opens every published tender when its round's beacon exists, and closes
confirmation windows. Survives restarts: on start it resumes tenders left in 'opening'.

One loop computes the next due time from the database and waits for it or for a `kick` (a
publish or a postponement). Each due tender gets its own task: wait for the beacon (the source
retries until it answers), then run the idempotent opening; a failure is logged and retried.
The loop and the per-tender tasks are evaluation.round_jobs, shared with the draw job.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from crypto.drand import BeaconSource
from evaluation.tenders import opening, opening_record
from evaluation.tenders.round_jobs import RETRY_DELAY, KeyedJobs, wait_for_beacon
from evaluation.tenders.rules import TenderState
from evaluation.tenders.tender import TenderContext, list_all

log = logging.getLogger("pingbiao.opening")
MAX_IDLE = 60.0


class OpeningScheduler:
    """Background job of one app; ``run`` is its task, ``kick`` makes it look again at once."""

    def __init__(self, ctx: TenderContext, beacon: BeaconSource) -> None:
        self._ctx = ctx
        self._beacon = beacon
        self._jobs = KeyedJobs(log, task_prefix="opening", pass_failed="opening scheduler pass failed",
                               job_failed="opening job failed; retrying")

    def kick(self) -> None:
        self._jobs.kick()

    async def run(self) -> None:
        await self._jobs.loop(self._dispatch, delay_after_failure=RETRY_DELAY)

    async def stop(self) -> None:
        await self._jobs.stop()

    async def _dispatch(self) -> float:
        ctx, now = self._ctx, self._ctx.clock()
        next_due = math.inf
        for tender in await list_all(ctx, {TenderState.PUBLISHED, TenderState.OPENING, TenderState.CONFIRMING}):
            job: Callable[[], Awaitable[Any]]
            if tender.state is TenderState.CONFIRMING:
                due = float(tender.confirm_until or 0)
                job = functools.partial(opening_record.finalize, ctx, tender.id)
            else:
                due = float(tender.spec.opening_time)
                job = functools.partial(self._open, tender.id, tender.opening_round)
            if tender.state is TenderState.OPENING or due <= now:
                self._jobs.spawn(tender.id, job)
            else:
                next_due = min(next_due, due)
        return max(0.0, min(next_due - now, MAX_IDLE))

    async def _open(self, tender_id: str, round: int | None) -> None:
        assert round is not None
        beacon = await wait_for_beacon(self._beacon, round, log=log)
        log.info("opening", extra={"tender": tender_id, "round": round})
        tender = await opening.run(self._ctx, tender_id, beacon)
        log.info("opening done", extra={"tender": tender_id, "state": tender.state.value})
