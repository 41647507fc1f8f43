"""kill -9 of `pingbiao serve` in the middle of an opening (开标), on PostgreSQL and SQLite.

A template installation holds one published tender whose opening time has come, with a few small
sealed bids (one holds no document, so it fails to open). Each run takes a fresh copy (same ids,
keys, blobs and beacon), starts a real `pingbiao serve` on it, and SIGKILLs it when the number of
audit entries the opening has written reaches a seeded random target (an event watched in the
database, not a delay): after `opening.started`, after k of the bids' results, or after all of
them but before the record. Every fourth run kills the restarted process once more. The last
restart runs to the end. The opening must then be complete, and its `bid_opening` rows and its
audit entries (kind and payload; `seq`, the 唱标 order, and `confirm_until`, a time, apart) equal
those of an uninterrupted opening of another copy: nothing lost, nothing logged twice, the log
still checks in full.

The processes are forked from a launcher that imported the platform once (tests/faults/procs.py;
PINGBIAO_FAULT_EXEC=1 execs each instead). PINGBIAO_FAULT_SEED picks other kill points,
PINGBIAO_FAULT_RUNS_PG / PINGBIAO_FAULT_RUNS_SQLITE the number of runs (20 in all by default).
"""

from __future__ import annotations

import os
import random
from typing import Any

from tests.faults.installs import Copier, log_size
from tests.faults.openings import (
    BIDS,
    ENTRIES_PER_TENDER,
    build_template,
    open_uninterrupted,
    outcome,
    wait_for,
)
from tests.faults.procs import Launcher
from web.cli.installation import existing_log

SEED = int(os.environ.get("PINGBIAO_FAULT_SEED", "15"))
RUNS = {"postgresql": int(os.environ.get("PINGBIAO_FAULT_RUNS_PG", "14")),  # 20 runs in all
        "sqlite": int(os.environ.get("PINGBIAO_FAULT_RUNS_SQLITE", "6"))}
DONE_TIMEOUT = 60.0


async def test_kill_9_during_openings_loses_and_doubles_nothing(copier: Copier, launcher: Launcher) -> None:
    template = await copier.new("template")
    ids, base = await build_template(template)
    reference_install = await copier.copy(template, "reference")
    await open_uninterrupted(reference_install, ids)
    reference = await outcome(reference_install, ids, base)
    assert reference[ids[0]]["state"] == "confirming" and len(reference[ids[0]]["bids"]) == BIDS + 1
    total = ENTRIES_PER_TENDER

    backend = "postgresql" if template.database_url else "sqlite"
    runs = RUNS[backend]
    rng = random.Random(f"{SEED}-{backend}")
    seen_at_kill: list[list[int]] = []
    for run in range(runs):
        victim = await copier.copy(template, f"run-{run}")
        # 1: opening.started only … BIDS + 2: every bid's result, not yet the record. Every fourth
        # run kills the restarted process once more, further on.
        targets = [rng.randint(1, BIDS + 2)]
        if run % 4 == 3:
            targets.append(rng.randint(targets[0], BIDS + 2))
        engine = victim.engine()
        seen: list[int] = []
        try:
            async def entries_so_far(engine: Any = engine) -> int:
                return await log_size(engine) - base

            for n, target in enumerate(targets):
                app = victim.serve(f"serve-{n}.log", launcher)
                try:
                    app.wait_up()
                    await wait_for(lambda t=target: _at_least(entries_so_far, t), DONE_TIMEOUT, f"{target} entries")
                finally:
                    app.kill9()
                seen.append(await entries_so_far())
            app = victim.serve("serve-last.log", launcher)
            try:
                app.wait_up()
                await wait_for(lambda: _at_least(entries_so_far, total), DONE_TIMEOUT, "the opening to finish after the restart")
            finally:
                app.stop()
        finally:
            await engine.dispose()
        seen_at_kill.append(seen)
        got = await outcome(victim, ids, base)
        assert got == reference, (run, targets, seen)
        if run % 5 == 0:  # every restart checked the log from its checkpoint; now and then all of it
            async with existing_log(victim.settings()) as (_engine, log, _vkey):
                assert (await log.check_everything()).size == base + total
        await copier.forget(victim)

    unfinished = [s for s in seen_at_kill if s[0] < total]
    print(f"{backend}: {runs} runs; entries of the opening ({total}) written when each kill struck: {seen_at_kill}")
    # The kills struck unfinished openings (a run whose kill came after the end proves less).
    assert len(unfinished) >= runs // 2, seen_at_kill


async def _at_least(count: Any, target: int) -> bool:
    return bool(await count() >= target)
