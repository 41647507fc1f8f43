"""Every error a user can see outside the evaluation session is one line, Chinese first ("中文 English").

The same check as tests/evaluation/test_messages_session.py (tests/messages.py), over the rest of
what users see: tenders, bids and the opening, the expert pool and the draw, accounts, the audit
log, the inputs' checks, the JSON API, the pages, sign-in and access, the command line (its
UsageError) and the settings (ConfigError). The session's own modules are checked there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.messages import ROOT, english_first
from web.config import ConfigError
from web.errors import UsageError


def _glob(folder: str, *, leave_out: tuple[str, ...] = ()) -> list[Path]:
    return [p for p in (ROOT / folder).glob("*.py") if p.name not in leave_out]


FILES = sorted([
    *_glob("evaluation/tenders"),
    *_glob("evaluation/experts"),
    *_glob("evaluation/accounts"),
    *_glob("evaluation/audit"),
    ROOT / "evaluation/inputs.py",
    *_glob("web/api", leave_out=("evaluation.py",)),
    *_glob("web/pages", leave_out=("evaluation.py", "decisions.py")),
    *_glob("web/cli", leave_out=("__main__.py",)),  # importing it runs the command line
    *_glob("web/access"),
    ROOT / "web/config.py",
    *_glob("web/ops"),
])
ALSO = (UsageError, ConfigError)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_exist(path: Path) -> None:
    assert path.is_file()


def test_every_error_a_user_sees_is_chinese_first() -> None:
    found = list(english_first(FILES, ALSO))
    assert not found, f"{len(found)} messages not Chinese first:\n" + "\n".join(found)
