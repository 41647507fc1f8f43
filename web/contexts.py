"""What lives as long as the app, each as an aiohttp cleanup context in the order web/app.py
appends them: the database and the audit log's single writer, the beacon, the tender context with
the hall's pub/sub and the opening scheduler, the draw job, and the evaluation context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from crypto.beacon import LocalBeaconSource
from crypto.drand import BeaconSource, DrandClient
from evaluation.audit.entry import EntryDraft
from evaluation.audit.keys import load_or_create_signer
from evaluation.audit.log import AuditLog
from evaluation.db import create_schema, make_engine
from evaluation.experts.draw_job import DrawJob
from evaluation.notifications.job import NotificationJob
from evaluation.notifications.mail import MailSettings
from evaluation.session.session import EvaluationContext, drawn_committee
from evaluation.tenders.blobstore import BlobStore
from evaluation.tenders.tender import TenderContext
from web import keys
from web.api import evaluation as evaluation_api
from web.api import experts as experts_api
from web.api import hall
from web.api import tenders as tenders_api
from web.i18n import translate
from web.jobs.background import running
from web.jobs.opening import OpeningScheduler

log = logging.getLogger("pingbiao.web")


async def database(app: web.Application) -> AsyncIterator[None]:
    """The database engine and the audit log's single writer, for the app's lifetime."""
    settings = app[keys.SETTINGS]
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    signer, vkey = load_or_create_signer(settings.log_key_path, settings.log_origin)
    audit = AuditLog(engine, settings.log_origin, signer)
    await audit.start()
    app[keys.ENGINE], app[keys.AUDIT_LOG], app[keys.LOG_VKEY] = engine, audit, vkey
    if audit.size == 0:
        await audit.append(EntryDraft("log.started", {"origin": settings.log_origin, "verifier_key": vkey}))
    try:
        yield
    finally:
        await audit.stop()
        await engine.dispose()


async def beacon(app: web.Application) -> AsyncIterator[None]:
    """The beacon source (the local beacon or a drand HTTP client) and its chain info."""
    settings = app[keys.SETTINGS]
    source: BeaconSource
    if settings.uses_local_beacon:
        source = LocalBeaconSource(app[keys.LOCAL_BEACON])
    else:
        source = DrandClient(settings.beacon_url, settings.beacon_chain or None)
    app[keys.BEACON] = source
    app[keys.CHAIN] = await source.info()
    log.info("beacon ready", extra={"chain": app[keys.CHAIN].hash, "local": settings.uses_local_beacon})
    yield
    await source.close()


async def tenders(app: web.Application) -> AsyncIterator[None]:
    """The tender context, the hall's pub/sub and the opening scheduler (a background task).
    Requires the database and beacon contexts before it."""
    hub = hall.HallHub()
    ctx = TenderContext(
        engine=app[keys.ENGINE],
        audit=app[keys.AUDIT_LOG],
        blobs=BlobStore(app[keys.SETTINGS].data_dir / "blobs"),
        chain=app[keys.CHAIN],
        notify=hub.publish,
    )
    scheduler = OpeningScheduler(ctx, app[keys.BEACON])
    app[hall.HUB], app[tenders_api.TENDERS], app[tenders_api.SCHEDULER] = hub, ctx, scheduler
    async with running(scheduler, "opening-scheduler", log):
        yield


async def draws(app: web.Application) -> AsyncIterator[None]:
    """The draw job: completes requested expert draws once their beacon round exists."""
    job = DrawJob(app[tenders_api.TENDERS], app[keys.BEACON])
    app[experts_api.DRAW_JOB] = job
    async with running(job, "draw-job", log):
        yield


async def evaluation(app: web.Application) -> AsyncIterator[None]:
    """The evaluation context. The committee comes from the expert draw unless ``keys.COMMITTEE``
    names another source before start-up."""
    committee = app.get(keys.COMMITTEE, drawn_committee)
    app[evaluation_api.EVALUATION] = EvaluationContext(app[tenders_api.TENDERS], committee, app[keys.BEACON])
    yield


async def notifications(app: web.Application) -> AsyncIterator[None]:
    """The notification job: notices from the committed log, emailed when smtp_host is set."""
    settings = app[keys.SETTINGS]
    mail_settings = MailSettings(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_starttls,
                                 settings.smtp_user, settings.smtp_password)
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    job = NotificationJob(app[keys.ENGINE], app[keys.AUDIT_LOG], mail_settings, base,
                          render=lambda text, values: translate(text, "zh", **values))
    async with running(job, "notification-job", log):
        yield
