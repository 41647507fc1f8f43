#!/usr/bin/env python3
"""Set-up and run pingbiao from a fresh checkout with nothing but Python 3.11+.

    python3 dev.py start     # create .venv if missing, install, start the platform with demo data
    python3 dev.py test      # create .venv if missing, install with test extras, run the whole suite

Both create the virtual environment at .venv in the checkout; afterwards `.venv/bin/pingbiao`
is the command line. Extra arguments after `start` go to `pingbiao demo`, after `test` to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".pingbiao-installed"


def _say(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def _ensure_venv(extras: str) -> None:
    """Create .venv when missing; (re)install when pyproject.toml changed or extras are missing."""
    if sys.version_info < (3, 11):
        sys.exit("dev.py: pingbiao needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        _say(f"creating the virtual environment in {VENV.name}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed = STAMP.read_text().split() if STAMP.exists() else []
    if installed[:1] == [digest] and (not extras or extras in installed[1:]):
        return
    _say("installing pingbiao and its dependencies (the first run takes a minute or two)")
    target = f".[{extras}]" if extras else "."
    subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target],
        cwd=ROOT,
        check=True,
    )
    STAMP.write_text(" ".join([digest, *([extras] if extras else [])]))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"start", "test"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "start":
        _ensure_venv("")
        os.execv(str(BIN / "pingbiao"), [str(BIN / "pingbiao"), "demo", *rest])
    _ensure_venv("test")
    os.execv(str(BIN / "python"), [str(BIN / "python"), "-m", "pytest", *rest])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
