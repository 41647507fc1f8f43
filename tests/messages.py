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
        yield re.sub(r"^(?:\{\w+\}\s*)+", "", node.value)  # a template may start with a value: "{bidder}的投标…"
    elif isinstance(node, ast.JoinedStr):
        literals = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        yield literals[0] if literals else None
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        yield from _starts(node.left)
    elif isinstance(node, ast.IfExp):
        yield from _starts(node.body)
        yield from _starts(node.orelse)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Text" and node.args:
        yield from _starts(node.args[0])


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


# --- the catalogue of domain messages (web/i18n/en.json) ------------------------------------------

# Three lowercase words in a row outside the placeholders: an English half left in a template.
ENGLISH_RUN = re.compile(r"\b[a-z]+'?[a-z]* [a-z]+'?[a-z]* [a-z]+'?[a-z]*\b")


def _message_nodes(files: Iterable[Path]) -> Iterator[tuple[Path, ast.expr, ast.expr]]:
    """(file, call, message) of every raise of a DomainError with a message, of every ``Text(…)``
    and ``Text.join(…, separator)``, and of every ``error_response(status, message)``, in `files`."""
    for path in files:
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args \
                    and _is_domain_error(module, node.exc.func):
                yield path, node.exc, node.exc.args[0]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Text" \
                    and node.args:
                yield path, node, node.args[0]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "error_response" \
                    and len(node.args) > 1:
                yield path, node, node.args[1]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "Text" and len(node.args) > 1:
                yield path, node, node.args[1]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def domain_templates(files: Iterable[Path]) -> dict[str, str]:
    """Every literal message template of `files` (a DomainError's or a Text's), with one place."""
    found: dict[str, str] = {}
    for path, call, message in _message_nodes(files):
        for node in (message.body, message.orelse) if isinstance(message, ast.IfExp) else (message,):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.setdefault(node.value, _where(path, call))
    return found


def not_templates(files: Iterable[Path]) -> Iterator[str]:
    """``path:line: message`` of every message built in place (an f-string, a concatenation, a
    %-format: the catalogue cannot hold it; the values go in as placeholders) and of every
    template that still carries an English half."""
    for path, call, message in _message_nodes(files):
        nodes = (message.body, message.orelse) if isinstance(message, ast.IfExp) else (message,)
        for node in nodes:
            if isinstance(node, (ast.JoinedStr, ast.BinOp)):
                yield f"{_where(path, call)}: built in place: {ast.unparse(node)[:90]}"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                bare = re.sub(r"\{[^{}]*\}", " ", node.value)
                if ENGLISH_RUN.search(bare):
                    yield f"{_where(path, call)}: English in the template: {node.value[:90]}"
