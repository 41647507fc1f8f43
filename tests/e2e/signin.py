"""Signing in on the start page, as every browser test begins."""

from __future__ import annotations

from typing import Any

from tests.web.signin import PASSWORD


async def sign_in(page: Any, base: str, username: str, then: str = "/") -> None:
    """Sign in as `username` (the tests' password) and land on `then` (the workbench by default)."""
    await page.goto(f"{base}/login?next={then}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{then}")
