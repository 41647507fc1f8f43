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
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluation.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([
    *(ROOT / "evaluation/session").glob("*.py"),
    *(ROOT / "evaluation/notifications").glob("*.py"),
    ROOT / "web/api/evaluation.py",
    ROOT / "web/pages/evaluation.py",
    ROOT / "web/pages/decisions.py",
    ROOT / "web/booth/routes.py",
])
CHINESE_FIRST = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _module(path: Path) -> object:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))


def _is_domain_error(module: object, func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        found = getattr(module, func.id, None)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        found = getattr(getattr(module, func.value.id, None), func.attr, None)
    else:
        return False
    return isinstance(found, type) and issubclass(found, DomainError)


def _starts(node: ast.expr) -> Iterator[str | None]:
    """How the text `node` builds starts: its first literal characters (after a leading name,
    ``f"{name}的投标…"``), or None with no literal; nothing for a message passed in a variable."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        literals = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        yield literals[0] if literals else None
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        yield from _starts(node.left)
    elif isinstance(node, ast.IfExp):
        yield from _starts(node.body)
        yield from _starts(node.orelse)


def english_first() -> Iterator[str]:
    for path in FILES:
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call = node.exc
            if not call.args or not _is_domain_error(module, call.func):
                continue
            for start in _starts(call.args[0]):
                if start is None or not CHINESE_FIRST.match(start):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(call.args[0])[:80]}"


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


def test_every_session_error_is_chinese_first() -> None:
    found = list(english_first())
    assert not found, "messages not Chinese first:\n" + "\n".join(found)


def test_states_and_reasons_are_named_as_the_pages_label_them() -> None:
    from evaluation.session import rules, scoring, tally
    from web.labels import LABELS

    assert rules.STATE_NAMES == {k: v for k, v in LABELS["session_state"].items() if k != "none"}
    assert set(rules.STATE_NAMES) == {s.value for s in rules.SessionState}
    assert tally.REASON_NAMES == LABELS["change_reason"]
    assert scoring.CATEGORY_NAMES == LABELS["category"]


def test_a_refused_step_names_the_evaluation_and_its_state_in_words() -> None:
    from evaluation.errors import InvalidStateError
    from evaluation.session.rules import SessionState, check_transition, require

    with pytest.raises(InvalidStateError) as refused:
        require("《办公设备》第2包", SessionState.CHECKIN, SessionState.SCORING, doing="提交评分表 submit sheets")
    assert refused.value.message == ("《办公设备》第2包的评标当前为「签到中」，不能提交评分表 "
                                     "the evaluation is checkin: cannot submit sheets")
    with pytest.raises(InvalidStateError) as refused:
        check_transition("《办公设备》", SessionState.DONE, SessionState.SCORING)
    assert refused.value.message == ("《办公设备》的评标当前为「评标结束」，不能转为「独立评分」 "
                                     "the evaluation is done: it cannot become scoring")
