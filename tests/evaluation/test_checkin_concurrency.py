"""Members checking in at the same moment (five experts opening the booth together, as the soak in
bench/bench_soak.py does over HTTP): the last of them opens the leader election, whatever the order
in which their writes land — none decides "not last" from a committee others changed meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.session import session as sessions
from evaluation.session.session import EvaluationContext
from evaluation.tenders.tender import TenderContext
from tests.evaluation.session_fixtures import Keys, TestCommittee, confirmed_tender
from tests.evaluation.tender_fixtures import AGENCY, beacon, tctx  # noqa: F401  (fixtures)


@pytest.fixture
async def ectx(tctx: TenderContext, beacon: LocalBeacon) -> AsyncIterator[EvaluationContext]:  # noqa: F811
    # A stand-in committee source, as in test_session_flow.py: the rule under test is the session's.
    yield EvaluationContext(tctx, TestCommittee(), LocalBeaconSource(beacon))


async def test_concurrent_check_ins_open_the_election(ectx: EvaluationContext, beacon: LocalBeacon) -> None:  # noqa: F811
    tender = await confirmed_tender(ectx.tenders, beacon)
    assert isinstance(ectx.committee, TestCommittee)
    experts = ectx.committee.seat(tender.id)
    await sessions.start(ectx, AGENCY, tender.id, {})
    bids = (await sessions.get_session(ectx, tender.id)).bids
    keys = Keys()
    await asyncio.gather(*(sessions.check_in(ectx, e, tender.id, keys.checkin(e.account, bids)) for e in experts))
    session = await sessions.get_session(ectx, tender.id)
    assert all(m.checked_in_us is not None for m in session.members)
    assert session.state.value == "election"
