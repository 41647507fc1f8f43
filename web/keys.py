"""Typed keys for everything the application shares (aiohttp AppKey; no module globals)."""

from __future__ import annotations

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.beacon import LocalBeacon
from crypto.chain import ChainInfo
from crypto.drand import BeaconSource
from evaluation.audit.log import AuditLog
from evaluation.session.session import CommitteeSource
from web.config import Settings

SETTINGS = web.AppKey("settings", Settings)
LOCAL_BEACON = web.AppKey("local_beacon", LocalBeacon)
BEACON = web.AppKey("beacon", BeaconSource)
CHAIN = web.AppKey("chain", ChainInfo)
ENGINE = web.AppKey("engine", AsyncEngine)
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
LOG_VKEY = web.AppKey("log_vkey", str)
COMMITTEE: web.AppKey[CommitteeSource] = web.AppKey("evaluation_committee")
"""Optional: where the evaluation takes its committee from (default: the expert draw)."""
UNREAD = web.RequestKey("unread_notifications", int)
"""Per page request of a signed-in reader: how many of its notifications are unread."""
JINJA = web.AppKey("jinja", jinja2.Environment)
"""The one Jinja environment (web/rendering.py builds it)."""
