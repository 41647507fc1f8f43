"""Input rules (输入规则): what text, numbers and JSON from outside (a request, a sealed bid) may be.

Pure functions, applied once where input enters: the JSON API (web/api/body.py), forms and headers
(web/access), the bid container (evaluation/tenders/bid_container.py), a score from a client
(evaluation/session/scoring.py).

- **Text 文本**: Unicode scalar values only — no lone surrogate (``"\\ud800"`` is valid JSON but
  not Unicode, and the audit log cannot encode it) — and no NUL (PostgreSQL cannot store it).
- **JSON**: at most ``MAX_JSON_BYTES``, nested at most ``MAX_JSON_DEPTH``, every string and key
  valid text, numbers only whole within ±(2**53 − 1) (what every JSON reader holds exactly; the
  audit log refuses floats: decimals travel as strings), no NaN or Infinity.
- **Decimal numbers as text 数字文本**: at most ``MAX_NUMBER_DIGITS`` digits, no exponent, so no
  arithmetic ever starts on a number of unbounded size (``"1e10000000"`` is refused, not computed).

Every refusal is InputError (400) with one line (a catalogue template), naming where the input is wrong.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

from evaluation.errors import InvalidRequest, Text

MAX_JSON_BYTES = 1 << 20
MAX_JSON_DEPTH = 20
MAX_SAFE_INTEGER = 2**53 - 1
MAX_NUMBER_DIGITS = 30
# Where an input is, as a refusal names it (the callers name theirs: a form field, a header…)
REQUEST_BODY = Text("请求内容")
VALUE = Text("值")
NUMBER = Text("数字")
_DECIMAL = re.compile(r"[+-]?(\d+)(?:\.(\d+))?")
_RATIO = re.compile(r"[+-]?(\d+)/(\d+)")


class InputError(InvalidRequest):
    """Input that breaks one of the rules above (400)."""


def is_text(value: str) -> bool:
    """True when `value` holds only Unicode scalar values and no NUL."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, where: str | Text) -> str:
    """`value` if it is valid text, else InputError naming `where`."""
    if not is_text(value):
        raise InputError("含有无效字符：{where}（孤立的代理字符或 NUL）", where=where)
    return value


def printable(value: str, limit: int = 300) -> str:
    """`value` made valid text for a message or a log line: bad characters become U+FFFD, cut at `limit`."""
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value[:limit])


def _refuse_float(token: str) -> Any:
    raise InputError("数字必须是整数（收到 {got}），小数请以文字发送", got=token[:40])


def _refuse_constant(token: str) -> Any:
    raise InputError("不允许的数值：{token}", token=token)


def parse_json(raw: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH,
               what: str | Text = REQUEST_BODY) -> Any:
    """Read UTF-8 JSON under the rules above. Raises InputError with the first problem."""
    if len(raw) > max_bytes:
        raise InputError("内容过大：{what} 超过 {limit} 字节", what=what, limit=max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("不是 UTF-8 编码：{what}", what=what) from None
    _check_nesting(text, max_depth, what)
    try:
        value = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
    except InputError:
        raise
    except (ValueError, RecursionError):
        raise InputError("不是有效的 JSON：{what}", what=what) from None
    if b"\\u" in raw or _LONG_DIGITS.search(raw):  # else no string can hold a surrogate or NUL
        check_value(value, what, max_depth)          # (raw control characters are invalid JSON) and
    return value                                     # no integer can be out of range: skip the walk


_LONG_DIGITS = re.compile(rb"[0-9]{16}")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def _check_nesting(text: str, max_depth: int, what: str) -> None:
    """Refuse nesting deeper than `max_depth` before any recursive parser sees it: strip strings
    and everything but brackets, then peel innermost pairs, one level per pass (all in C)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    for _ in range(max_depth):
        if not brackets:
            return
        peeled = _INNERMOST.sub("", brackets)
        if peeled == brackets:
            return  # unbalanced: not JSON, the parser says so
        brackets = peeled
    if brackets and _INNERMOST.search(brackets):
        raise InputError("嵌套过深：{what} 超过 {depth} 层", what=what, depth=max_depth)


def check_value(value: Any, what: str | Text = VALUE, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Every string (and key) in a parsed JSON value is valid text, ints bounded, depth bounded.
    Iterative (a deep value cannot exhaust the stack); the path of a bad value is built only then."""
    if not _scalar_ok(value):
        _scalar_fail(value, what, None)
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while stack:
        item, depth, where = stack.pop()
        kind = type(item)
        if kind is not dict and kind is not list and kind is not tuple:
            continue
        if depth >= max_depth:
            raise InputError("嵌套过深：{what} 超过 {depth} 层", what=what, depth=max_depth)
        pairs = item.items() if kind is dict else enumerate(item)
        for key, sub in pairs:
            if kind is dict and (type(key) is not str or not (key.isascii() and "\x00" not in key) and not is_text(key)):
                if type(key) is not str:
                    raise InputError("含有不支持的值：{where} 的键类型为 {type}", where=_path(what, where), type=type(key).__name__)
                check_text(key, Text("{where} 中的键", where=_path(what, where)))
            sub_kind = type(sub)
            if sub_kind is dict or sub_kind is list or sub_kind is tuple:
                stack.append((sub, depth + 1, (where, key)))
            elif not _scalar_ok(sub):
                _scalar_fail(sub, what, (where, key))


def _scalar_ok(item: Any) -> bool:
    kind = type(item)
    if kind is str:
        return (item.isascii() and "\x00" not in item) or is_text(item)
    if kind is int:
        return -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER
    return item is None or kind is bool or kind is dict or kind is list or kind is tuple


def _scalar_fail(item: Any, what: str | Text, where: Any) -> None:
    if isinstance(item, str):
        check_text(item, _path(what, where))
    if type(item) is int:
        raise InputError("整数超出范围：{where} 超出 ±(2**53 - 1)，请以文字发送", where=_path(what, where))
    if isinstance(item, float):
        _refuse_float(repr(item))
    raise InputError("含有不支持的值：{where} 的类型为 {type}", where=_path(what, where), type=type(item).__name__)


def _path(what: str | Text, where: Any) -> str | Text:
    """``请求内容.lots[2].name`` from the (parent, key) chain check_value keeps."""
    parts: list[str] = []
    while where is not None:
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return Text("{what}{path}", what=what, path=printable("".join(reversed(parts)), 200)) if parts else what


def parse_exact(text: str, where: str | Text = NUMBER) -> Fraction:
    """An exact number from a decimal ("2.5", "-1") or a ratio ("7/2") string of bounded size.

    At most MAX_NUMBER_DIGITS digits in each part and no exponent; checked before any arithmetic.
    """
    stripped = text.strip()
    if len(stripped) > 2 * MAX_NUMBER_DIGITS + 2:
        raise InputError("数字过长：{where} {got} 超过 {n} 位", where=where, got=f"{printable(stripped, 40)!r}…", n=MAX_NUMBER_DIGITS)
    if (m := _DECIMAL.fullmatch(stripped)) is not None or (m := _RATIO.fullmatch(stripped)) is not None:
        if all(len(part or "") <= MAX_NUMBER_DIGITS for part in m.groups()):
            try:
                return Fraction(stripped)
            except ZeroDivisionError:
                raise InputError("除以零：{where} {got}", where=where, got=repr(stripped)) from None
        raise InputError("数字过长：{where} {got} 超过 {n} 位", where=where, got=repr(stripped[:40]), n=MAX_NUMBER_DIGITS)
    raise InputError("不是数字：{where} {got}（请写成 2.5 或 7/2）", where=where, got=repr(printable(stripped, 40)))
