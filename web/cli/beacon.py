"""`pingbiao beacon init|serve|info`: the local beacon of this installation."""

from __future__ import annotations

import argparse
import json
import sys
import time

from aiohttp import web

from crypto.beacon import TRUST_WARNING, LocalBeacon, beacon_app
from crypto.errors import FormatError
from web.config import Settings
from web.logs import setup_logging


def init(args: argparse.Namespace, settings: Settings) -> int:
    if (settings.beacon_dir / "beacon.key").exists():
        raise FormatError(f"a local beacon already exists in {settings.beacon_dir}; it is never replaced")
    beacon = LocalBeacon.create(period=settings.beacon_period)
    beacon.save(settings.beacon_dir)
    print(f"created local beacon, chain {beacon.chain.hash}", file=sys.stderr)
    print(f"key: {settings.beacon_dir / 'beacon.key'} (mode 600)", file=sys.stderr)
    print(TRUST_WARNING, file=sys.stderr)
    return 0


def info(args: argparse.Namespace, settings: Settings) -> int:
    beacon = LocalBeacon.load(settings.beacon_dir)
    print(json.dumps(beacon.chain.to_json(), indent=2))
    print(f"current round {beacon.current_round()} at {time.strftime('%Y-%m-%d %H:%M:%S')}", file=sys.stderr)
    print(TRUST_WARNING, file=sys.stderr)
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging(settings.log_format, settings.log_level)
    beacon = LocalBeacon.open_or_create(settings.beacon_dir, period=settings.beacon_period)
    print(f"local beacon for chain {beacon.chain.hash} on http://{args.host}:{args.port}", file=sys.stderr)
    print(TRUST_WARNING, file=sys.stderr)
    web.run_app(beacon_app(beacon), host=args.host, port=args.port, print=None)
    return 0
