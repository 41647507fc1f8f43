"""Schemathesis checks of the API's error rule (loaded by tests/web/test_ops_openapi.py through
SCHEMATHESIS_HOOKS): every error answer is the JSON shape of web/errors.py, its message one line,
and no answer at all carries a Python traceback."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def no_traceback(ctx: Any, response: Any, case: Any) -> None:
    if b"Traceback (most recent call last)" in response.content or b'File "/' in response.content:
        raise AssertionError("the answer shows a Python traceback")


@schemathesis.check
def one_line_json_errors(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code < 400:
        return
    ctype = (response.headers.get("content-type") or [""])[0]
    if not ctype.startswith("application/json"):
        raise AssertionError(f"error {response.status_code} answered as {ctype or 'no content type'}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"error {response.status_code} is not valid JSON") from None
    if not (isinstance(body, dict) and body.get("ok") is False and body.get("status") == response.status_code):
        raise AssertionError(f"error {response.status_code} lacks the error shape: {str(body)[:200]}")
    error = body.get("error")
    if not isinstance(error, str) or not error.strip() or "\n" in error or "\r" in error:
        raise AssertionError(f"error {response.status_code} message is not one line: {error!r}")
    if not body.get("request_id"):
        raise AssertionError(f"error {response.status_code} names no request id")
