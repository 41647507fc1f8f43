"""The input rules (evaluation/inputs.py): text, JSON and exact numbers from outside."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from evaluation.inputs import MAX_SAFE_INTEGER, InputError, check_value, is_text, parse_exact, parse_json, printable


def test_text_is_unicode_scalar_values_without_nul() -> None:
    assert is_text("招标 ok 😀") and is_text("")
    assert not is_text("\ud800") and not is_text("a\udfffb") and not is_text("nul\x00")
    assert printable("a\ud800b\x00") == "a\ufffdb\ufffd" and is_text(printable("\udc80" * 500, 10))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": {"b": [1, "\\ud800"]}}', "含有无效字符：请求内容.a.b[1]"),
        (b'{"a": {"\\u0000": 1}}', "含有无效字符：请求内容.a 中的键"),
        (b'{"a": "\\ud83d\\ude00 \\u00e9"}', None),  # a surrogate pair is one valid character
        (b'{"n": 9007199254740992}', "整数超出范围：请求内容.n"),
        (b'{"n": -9007199254740991}', None),
        (b'{"n": 1.0}', "数字必须是整数（收到 1.0）"),
        (b'{"n": 1e400}', "数字必须是整数"),
        (b'{"n": Infinity}', "不允许的数值：Infinity"),
        (b'[' * 21 + b']' * 21, "嵌套过深：请求内容 超过 20 层"),
        (b'[' * 20 + b']' * 20, None),
        (b'"[[[[[[[[[[[[[[[[[[[[[[[[[["', None),  # brackets inside a string are text
        (b'{"a": 1', "不是有效的 JSON"),
        (b'\xff', "不是 UTF-8 编码"),
    ],
)
def test_json_rules(raw: bytes, message: str | None) -> None:
    if message is None:
        parse_json(raw)
        return
    with pytest.raises(InputError) as info:
        parse_json(raw)
    assert info.value.message.startswith(message) and "\n" not in info.value.message


def test_json_size_and_values_already_parsed() -> None:
    with pytest.raises(InputError, match="内容过大"):
        parse_json(b" " * 11, max_bytes=10)
    check_value({"ok": [MAX_SAFE_INTEGER, None, True, "x"]})
    with pytest.raises(InputError, match=r"值\.a\[0\] 的类型为 object"):
        check_value({"a": [object()]})
    assert parse_json(json.dumps({"标题": "采购"}, ensure_ascii=False).encode()) == {"标题": "采购"}


def test_exact_numbers_are_bounded_by_shape() -> None:
    assert parse_exact("2.5") == Fraction(5, 2) and parse_exact(" -7/2 ") == Fraction(-7, 2) and parse_exact("+3") == 3
    for bad, message in (("1e10000000", "不是数字"), ("1" * 31, "数字过长"), ("1/0", "除以零"), ("0x10", "不是数字"), ("", "不是数字")):
        with pytest.raises(InputError, match=message):
            parse_exact(bad)
