"""Run the platform: `pingbiao serve` and `pingbiao demo`."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from web.app import create_app
from web.config import Settings
from web.logs import setup_logging

log = logging.getLogger("pingbiao")


def run_server(settings: Settings, *, demo: bool = False) -> int:
    setup_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    if demo:
        from web.demo.pages import install_demo

        install_demo(app)
    url = f"http://{settings.host}:{settings.port}/"
    print(f"pingbiao 评标舱 — data in {settings.data_dir.resolve()}", file=sys.stderr)
    print(f"open {url} in a browser (Ctrl-C stops)", file=sys.stderr)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0
