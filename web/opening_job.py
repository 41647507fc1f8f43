"""The opening scheduler: opens every published tender when its round's beacon exists, and closes
confirmation windows. Survives restarts: on start it resumes tenders left in 'opening'.

One loop computes the next due time from the database and waits for it or for a `kick` (a
publish or a postponement). Each due tender gets its own task: wait for the beacon (the source
retries until it answers), then run the idempotent opening; a failure is logged and retried.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from crypto.drand import Beacon, BeaconSource
from crypto.errors import CryptoError
from evaluation import opening, opening_record
from evaluation.tender_rules import TenderState
from evaluation.tenders import TenderContext, list_all

log = logging.getLogger("pingbiao.opening")
MAX_IDLE = 60.0
RETRY_DELAY = 2.0


class OpeningScheduler:
    """Background job of one app; ``run`` is its task, ``kick`` makes it look again at once."""

    def __init__(self, ctx: TenderContext, beacon: BeaconSource) -> None:
        self._ctx = ctx
        self._beacon = beacon
        self._wake = asyncio.Event()
        self._jobs: dict[str, asyncio.Task[None]] = {}

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self._dispatch()
            except Exception:
                log.exception("opening scheduler pass failed")
                delay = RETRY_DELAY
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        for task in self._jobs.values():
            task.cancel()
        await asyncio.gather(*self._jobs.values(), return_exceptions=True)

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
                self._spawn(tender.id, job)
            else:
                next_due = min(next_due, due)
        return max(0.0, min(next_due - now, MAX_IDLE))

    def _spawn(self, tender_id: str, job: Callable[[], Awaitable[Any]]) -> None:
        if tender_id in self._jobs:
            return

        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("opening job failed; retrying", extra={"tender": tender_id, "error": repr(exc)})
                await asyncio.sleep(RETRY_DELAY)

        task = asyncio.create_task(guarded(), name=f"opening-{tender_id}")
        self._jobs[tender_id] = task

        def done(_t: asyncio.Task[None]) -> None:
            self._jobs.pop(tender_id, None)
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

    async def _open(self, tender_id: str, round: int | None) -> None:
        assert round is not None
        beacon = await self._wait_beacon(round)
        log.info("opening", extra={"tender": tender_id, "round": round})
        tender = await opening.run(self._ctx, tender_id, beacon)
        log.info("opening done", extra={"tender": tender_id, "state": tender.state.value})
