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
    *(ROOT / "web/booth").glob("*.py"),
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


def test_every_session_error_is_chinese_first() -> None:
    found = list(english_first(FILES))
    assert not found, "messages not Chinese first:\n" + "\n".join(found)


def test_states_and_reasons_are_named_as_the_pages_label_them() -> None:
    from evaluation.session import rules, scoring, tally
    from web.labels import LABELS

    assert rules.STATE_NAMES == {k: v for k, v in LABELS["session_state"].items() if k != "none"}
    assert set(rules.STATE_NAMES) == {s.value for s in rules.SessionState}
    assert tally.REASON_NAMES == LABELS["change_reason"]
    assert scoring.CATEGORY_NAMES == LABELS["category"]


def test_a_refused_step_names_the_evaluation_and_its_state_in_words() -> None:
    from evaluation.errors import InvalidStateError, Text
    from evaluation.session.rules import SessionState, check_transition, require
    from web.i18n import localize

    with pytest.raises(InvalidStateError) as refused:
        require("《办公设备》第2包", SessionState.CHECKIN, SessionState.SCORING, doing=Text("不能提交评分表"))
    assert refused.value.message == "《办公设备》第2包的评标当前为「签到中」，不能提交评分表"
    english = localize(refused.value.text, "en")
    assert english.startswith("The evaluation of 《办公设备》第2包 is at the stage “checking in”"), english
    assert english.endswith("cannot submit sheets"), english
    with pytest.raises(InvalidStateError) as refused:
        check_transition("《办公设备》", SessionState.DONE, SessionState.SCORING)
    assert refused.value.message == "《办公设备》的评标当前为「评标结束」，不能转为「独立评分」"
    assert localize(refused.value.text, "en") == \
        "The evaluation of 《办公设备》 is at the stage “finished”: it cannot move to “scoring”"
