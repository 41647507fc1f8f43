"""Typed keys for everything the application shares (aiohttp AppKey; no module globals)."""

from __future__ import annotations

from aiohttp import web

from crypto.beacon import LocalBeacon
from crypto.chain import ChainInfo
from crypto.drand import BeaconSource
from web.config import Settings

SETTINGS = web.AppKey("settings", Settings)
LOCAL_BEACON = web.AppKey("local_beacon", LocalBeacon)
BEACON = web.AppKey("beacon", BeaconSource)
CHAIN = web.AppKey("chain", ChainInfo)
