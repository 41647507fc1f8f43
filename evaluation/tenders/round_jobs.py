"""The machinery shared by the background jobs that act once a beacon round exists (the draw job,
the opening scheduler): a wake-up loop that looks at the database when kicked or after a delay,
one task per tender at a time, and a beacon wait that retries until the source answers.

A failed task is logged and ends after RETRY_DELAY; every ended task kicks the loop, whose next
pass spawns it again if the work is still due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from crypto.drand import Beacon, BeaconSource
from crypto.errors import CryptoError

RETRY_DELAY = 2.0
BEACON_FIRST_DELAY = 0.5
BEACON_MAX_DELAY = 30.0

_log = logging.getLogger("pingbiao.round_jobs")


async def wait_for_beacon(beacon: BeaconSource, round: int, *, log: logging.Logger = _log) -> Beacon:
    """The beacon of `round`, retrying with capped exponential backoff while the source fails."""
    delay = BEACON_FIRST_DELAY
    while True:
        try:
            return await beacon.wait_for(round)
        except (CryptoError, OSError) as exc:
            log.warning("beacon not available yet", extra={"round": round, "error": str(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, BEACON_MAX_DELAY)


class KeyedJobs:
    """At most one background task per key, plus the loop that decides what to spawn.

    `task_prefix` names the tasks (``f"{task_prefix}-{key}"``); `pass_failed` and `job_failed` are
    the messages logged on `log` when a pass of the loop or a task fails.
    """

    def __init__(self, log: logging.Logger, *, task_prefix: str, pass_failed: str, job_failed: str,
                 retry_delay: float = RETRY_DELAY) -> None:
        self._log = log
        self._task_prefix = task_prefix
        self._pass_failed = pass_failed
        self._job_failed = job_failed
        self._retry_delay = retry_delay
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._tasks

    def kick(self) -> None:
        """Make the loop run its next pass at once."""
        self._wake.set()

    async def loop(self, dispatch: Callable[[], Awaitable[float]], *, delay_after_failure: float) -> None:
        """Run `dispatch` forever; it returns how long to wait (at most) before the next pass."""
        while True:
            self._wake.clear()
            try:
                delay = await dispatch()
            except Exception:
                self._log.exception(self._pass_failed)
                delay = delay_after_failure
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    def spawn(self, key: str, job: Callable[[], Awaitable[Any]]) -> bool:
        """Start `job` as the task of `key` unless one is running; True if it was started."""
        if key in self._tasks:
            return False

        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.error(self._job_failed, extra={"tender": key, "error": repr(exc)})
                await asyncio.sleep(self._retry_delay)

        task = asyncio.create_task(guarded(), name=f"{self._task_prefix}-{key}")
        self._tasks[key] = task

        def done(_t: asyncio.Task[None]) -> None:
            self._tasks.pop(key, None)
            self.kick()

        task.add_done_callback(done)
        return True

    async def stop(self) -> None:
        """Cancel every running task and wait for them to end."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
