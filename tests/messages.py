"""The checker behind the "one line, Chinese first" tests (issue 12): reads modules' source (ast)
and names every ``raise X("…")`` of an error a user sees whose text does not start with a Chinese
character.

An error a user sees is an expected failure: a DomainError (evaluation's errors and web's), or one
of the `also` classes a caller adds (the command line's UsageError, a setting's ConfigError).
Internal errors (ValueError, TypeError, RuntimeError, AssertionError) are not shown to users and
are not checked; a message passed on in a variable is checked where it is written (the helpers that
build it are in the checked modules too).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from evaluation.errors import DomainError

ROOT = Path(__file__).resolve().parents[1]
CHINESE_FIRST = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _module(path: Path) -> object:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))


def _is_domain_error(module: object, func: ast.expr, also: tuple[type, ...] = ()) -> bool:
    if isinstance(func, ast.Name):
        found = getattr(module, func.id, None)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        found = getattr(getattr(module, func.value.id, None), func.attr, None)
    else:
        return False
    return isinstance(found, type) and issubclass(found, (DomainError, *also))


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


def english_first(files: Iterable[Path], also: tuple[type, ...] = ()) -> Iterator[str]:
    """``path:line: message`` of every raise in `files` of a user-visible error (a DomainError or
    one of `also`) whose literal text does not start with a Chinese character."""
    for path in files:
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call = node.exc
            if not call.args or not _is_domain_error(module, call.func, also):
                continue
            for start in _starts(call.args[0]):
                if start is None or not CHINESE_FIRST.match(start):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(call.args[0])[:80]}"
