"""Every message of a domain error goes through the one catalogue (web/i18n/en.json, issue 12):
written once in Chinese as a template with ``{placeholders}``, its English looked up when the
reader chose English, so an English page never shows a doubled "中文 English" line.

Fails on a message built in place (an f-string: the catalogue cannot hold it), on a template that
still carries an English half, and on a template missing from the catalogue
(tests/web/test_i18n.py also fails on an entry nothing uses, these templates counted).
"""

from __future__ import annotations

from evaluation.errors import DomainError, InvalidRequest, Text
from tests.messages import ROOT, domain_templates, not_templates
from web.i18n import english, localize

SOURCES = sorted(p for folder in ("evaluation", "web") for p in (ROOT / folder).rglob("*.py")
                 if p.name != "__main__.py" and "migrations" not in p.parts)


def test_messages_are_templates_written_once_in_chinese() -> None:
    found = list(not_templates(SOURCES))
    assert not found, f"{len(found)} messages are not catalogue templates:\n" + "\n".join(found)


def test_every_template_has_an_english_entry() -> None:
    catalogue = english()
    missing = {t: where for t, where in domain_templates(SOURCES).items() if not catalogue.get(t, "").strip()}
    assert not missing, f"{len(missing)} templates missing from web/i18n/en.json:\n" + \
        "\n".join(f"{where}: {t}" for t, where in missing.items())


def test_a_message_renders_in_each_language_with_its_values() -> None:
    exc = InvalidRequest("第{lot}包重复报价", lot=3)
    assert exc.message == str(exc) == "第3包重复报价"
    assert localize(exc.text, "zh") == "第3包重复报价"
    assert localize(exc.text, "en") == english()["第{lot}包重复报价"].format(lot=3)
    assert localize(exc.text, "en") != exc.message


def test_a_quoted_cause_and_joined_sentences_are_translated_too() -> None:
    cause = Text("第{lot}包重复报价", lot=2)
    outer = DomainError("评分表格式无效：{problem}", problem=cause)
    assert outer.message == "评分表格式无效：第2包重复报价"
    english_line = localize(outer.text, "en")
    assert "第" not in english_line and english()["第{lot}包重复报价"].format(lot=2) in english_line
    joined = Text.join([cause, Text("第{lot}包重复报价", lot=5)])
    assert str(joined) == "第2包重复报价；第5包重复报价"
    assert "；" not in localize(joined, "en")


def test_a_translation_that_lost_a_placeholder_falls_back_to_chinese() -> None:
    text = Text("不在目录里的句子 {x}", x="{y}")
    assert localize(text, "en") == "不在目录里的句子 {y}"  # a value's braces are not a placeholder
    assert Text("broken {", x=1).render(lambda t: t) == "broken {"
