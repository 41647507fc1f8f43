"""The evaluation-session feature wired into the app (picked up by web.app FEATURES): its routes
and its context. The committee comes from the expert draw (evaluation.experts.committee_of) unless
``app[COMMITTEE]`` names another source before start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from evaluation import session_events
from evaluation.sessions import CommitteeSource, EvaluationContext, drawn_committee
from web import evaluation_api, evaluation_pages
from web.keys import BEACON
from web.tenders_api import TENDERS

COMMITTEE: web.AppKey[CommitteeSource] = web.AppKey("evaluation_committee")


async def _evaluation_ctx(app: web.Application) -> AsyncIterator[None]:
    app[evaluation_api.EVALUATION] = EvaluationContext(app[TENDERS], app.get(COMMITTEE, drawn_committee), app[BEACON])
    yield


def install(app: web.Application) -> None:
    """Add the evaluation routes and context. Requires the tender feature (web.tenders_web) before it."""
    session_events.register()
    app.add_routes(evaluation_api.routes)
    app.add_routes(evaluation_pages.routes)
    app.cleanup_ctx.append(_evaluation_ctx)
