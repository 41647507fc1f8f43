"""Fixtures for end-to-end tests: the real application over HTTP and Debian's headless Chromium.

* ``make_app_server`` — factory: ``await make_app_server(routes=[...], **settings)`` builds
  ``web.app.create_app`` with a fresh data directory under ``tmp_path`` and a local beacon of period
  1 s (override any Settings field by keyword), adds the given extra aiohttp routes (test-only
  pages; the product gains no route; each needs ``name=``, and is made public in
  ``web.permissions.RULES`` for the test's duration, since pingbiao denies a route without a
  rule), and serves it on 127.0.0.1 on a free port in the test's own
  event loop. Returns a :class:`RunningApp` (``url`` without a trailing slash, ``app``,
  ``settings``). Every server is shut down at teardown (bounded by ``SHUTDOWN_TIMEOUT``).
* ``app_server`` — one such server with no extra routes; yields its base URL, e.g.
  ``http://127.0.0.1:41234``.
* ``browser`` — Playwright (async API) driving the Debian package ``chromium`` found on PATH
  (never a browser downloaded by ``playwright install``), headless, with the flags that work
  here (shared notes on headless Chromium). Playwright gives each launch a fresh, temporary
  user-data directory and removes it on close. Skips (or fails under CI=true) without chromium.
* ``new_page`` — factory: ``await new_page()`` opens a page in a new browser context, so several
  pages act as separate users (separate cookies and storage). Default timeouts are bounded
  (``PAGE_TIMEOUT_MS``); the page's console lines and errors are kept on ``page.console_lines``
  and printed when a test fails, to show what happened in the browser.

Pages must be served from http://127.0.0.1 (a secure context), not about:blank or file://:
WebCrypto, which sealing uses, exists only in secure contexts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import need, need_executable
from web.app import create_app
from web.config import Settings

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAUNCH_TIMEOUT_MS = 30_000
PAGE_TIMEOUT_MS = 30_000
SHUTDOWN_TIMEOUT = 10.0


@dataclass
class RunningApp:
    """One application served on loopback by ``make_app_server``."""

    url: str
    app: web.Application
    settings: Settings


MakeAppServer = Callable[..., Awaitable[RunningApp]]


def _allow_test_routes(monkeypatch: pytest.MonkeyPatch, routes: list[web.RouteDef]) -> None:
    """Declare each test-only route public, by name, while the test runs."""
    for route in routes:
        if not route.kwargs.get("name"):
            raise ValueError(
                f"test route {route.method} {route.path} needs name= (routes without a rule are denied)"
            )
    try:
        from web.access import permissions
    except ImportError:  # an installation without the permissions feature serves every route
        return
    for route in routes:
        rule = permissions.Rule(permissions.PUBLIC, "test-only route")
        monkeypatch.setitem(permissions.RULES, route.kwargs["name"], rule)


@pytest.fixture
async def make_app_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MakeAppServer]:
    runners: list[web.AppRunner] = []

    async def make(routes: Iterable[web.RouteDef] = (), **overrides: Any) -> RunningApp:
        extra = list(routes)
        _allow_test_routes(monkeypatch, extra)
        fields: dict[str, Any] = {"data_dir": tmp_path / f"data-{len(runners)}", "beacon_period": 1}
        fields.update(overrides)
        settings = Settings(**fields)
        app = create_app(settings)
        app.add_routes(extra)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await asyncio.wait_for(runner.setup(), timeout=30)
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return RunningApp(f"http://{host}:{port}", app, settings)

    try:
        yield make
    finally:
        for runner in reversed(runners):
            await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_TIMEOUT + 5)


@pytest.fixture
async def app_server(make_app_server: MakeAppServer) -> str:
    return (await make_app_server()).url


@contextlib.asynccontextmanager
async def launch_chromium(extra_args: Iterable[str] = ()) -> AsyncIterator[Any]:
    """Debian's chromium, headless with CHROMIUM_ARGS (plus `extra_args`), closed on exit.
    Skips (or fails under CI=true) without chromium or playwright."""
    executable = need_executable("chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        need(False, "playwright (PyPI) is not installed: pip install -e '.[test]'")
        raise
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[*CHROMIUM_ARGS, *extra_args],
            timeout=LAUNCH_TIMEOUT_MS,
            handle_sigint=False,
        )
        try:
            yield instance
        finally:
            await asyncio.wait_for(instance.close(), timeout=SHUTDOWN_TIMEOUT)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with launch_chromium() as instance:
        yield instance


NewPage = Callable[[], Awaitable[Any]]


@pytest.fixture
async def new_page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[NewPage]:
    contexts: list[Any] = []
    pages: list[Any] = []

    async def make() -> Any:
        context = await browser.new_context()
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        context.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        page.console_lines = []
        page.on("console", lambda msg: page.console_lines.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: page.console_lines.append(f"pageerror: {err}"))
        pages.append(page)
        return page

    try:
        yield make
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for i, page in enumerate(pages):
                for line in page.console_lines:
                    print(f"[page {i}] {line}")
        for context in contexts:
            await asyncio.wait_for(context.close(), timeout=SHUTDOWN_TIMEOUT)
        blocked = [line for page in pages for line in page.console_lines if "Content Security Policy" in line]
        if blocked:  # a page's own script or style refused by web/access/headers.py's policy
            pytest.fail(f"the Content-Security-Policy blocked page content: {blocked[0]}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so ``new_page`` can print console lines on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
