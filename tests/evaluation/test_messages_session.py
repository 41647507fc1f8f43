"""Every error a user can see from the evaluation session is one line, Chinese first ("中文 English").

The source of the session's modules, its notifications and the web modules that serve the
session is read (ast): a ``raise X("…")`` of an expected failure (a DomainError: evaluation's
errors and web's) whose text does not start with a Chinese character fails here, so an English-only
message cannot come back. Internal errors (ValueError, TypeError, RuntimeError, AssertionError)
are not shown to users and are not checked; a message passed on in a variable is checked where
it is written (the helpers that build it are in these modules too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.messages import CHINESE_FIRST, ROOT, _starts, english_first

FILES = sorted([
    *(ROOT / "evaluation/session").glob("*.py"),
    *(ROOT / "evaluation/notifications").glob("*.py"),
    ROOT / "web/api/evaluation.py",
    ROOT / "web/pages/evaluation.py",
    ROOT / "web/pages/decisions.py",
    ROOT / "web/booth/routes.py",
])


def test_the_checker_sees_an_english_message() -> None:
    def chinese(text: str) -> list[bool]:
        return [bool(CHINESE_FIRST.match(s or "")) for s in _starts(ast.parse(text).body[0].value)]  # type: ignore[attr-defined]

    assert chinese('f"the seat of {name} is filled"') == [False]
    assert chinese('f"{name} is filled"') == [False]
    assert chinese('"x" if a else "席位已满 full"') == [False, True]
    assert chinese('f"{name}的席位已满 the seat is filled"') == [True]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_exist(path: Path) -> None:
    assert path.is_file()


@pytest.mark.xfail(strict=True, reason="issue 12: the session's messages are not converted yet (138 English-first)")
def test_every_session_error_is_chinese_first() -> None:
    found = list(english_first(FILES))
    assert not found, "messages not Chinese first:\n" + "\n".join(found)
