"""One catalogue for every user-visible string (web/i18n/): Chinese first, English as a switch.

Fails on visible text in a template or a page script that does not go through the catalogue, on a
string used but missing from it, on an entry nothing uses, and on a page whose English rendering
still shows Chinese labels (or whose Chinese rendering doubles them in English).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from web.i18n import CATALOGUE, translate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "web" / "pages" / "templates").glob("*.html"))
SCRIPTS = sorted((ROOT / "web" / "static").glob("*.js"))
PYTHON = sorted(p for p in (ROOT / "web").rglob("*.py"))
CJK = re.compile(r"[\u3400-\u9fff]")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
SCRIPT_OR_STYLE = re.compile(r"<(script|style|textarea)\b.*?</\1>", re.S)  # code, and values a user edits
SELF_NAMED = re.compile(r'<a class="lang"[^>]*>[^<]*</a>')  # a language's own name, written in it
TAG = re.compile(r"<[^>]*>")
VISIBLE_ATTRS = re.compile(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"')
KEY = r'"((?:[^"\\]|\\.)*)"'
TEMPLATE_KEYS = re.compile(r"\b_\(\s*" + KEY)
SCRIPT_KEYS = re.compile(r"\bt\(\s*" + KEY)
PYTHON_KEYS = re.compile(r"\bN_\(\s*" + KEY)
# Words a page may show as they are in both languages: names of formats, algorithms and standards.
UNTRANSLATED = re.compile(r"\b(?:SHA-256|JSON|CSV|PDF|RFC \d+|Merkle|drand|tlock|WebRTC|TURN|ID|URL|MiB|KiB|GiB)\b")


def catalogue() -> dict[str, str]:
    data: dict[str, str] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


def used_keys() -> dict[str, str]:
    """Every catalogue key used, with one place that uses it."""
    from evaluation.notifications.rules import TEXTS
    from tests.messages import domain_templates
    from tests.test_message_catalogue import SOURCES

    found: dict[str, str] = dict.fromkeys(TEXTS, "evaluation/notifications/rules.py")
    found.update(domain_templates(SOURCES))
    from evaluation.session import report  # the PDFs' words for their documents' codes (their English copies)
    from evaluation.tenders import opening, record_document

    for words in (report.SITES, report.MEMBER_KINDS, report.CHANGE_REASONS, report.CORRECTION_RULES,
                  report.CORRECTION_STATUS, report.QUERY_STATUS, record_document.STATUS, record_document.ROLES,
                  record_document.RECORD_STATES, opening.FAILURES):
        found.update({w: "evaluation/…/report.py, record_document.py" for w in words.values() if w not in found})
    found.setdefault("；", "evaluation/errors.py")  # Text.join's separator
    for pattern, files in ((TEMPLATE_KEYS, TEMPLATES), (SCRIPT_KEYS, SCRIPTS), (PYTHON_KEYS, PYTHON)):
        for path in files:
            for m in pattern.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(json.loads(f'"{m.group(1)}"'), path.name)
    return found


def visible_template_text(text: str) -> list[str]:
    """Literal text a template shows that is not a catalogue call: text nodes and the visible
    attributes, with Jinja constructs, scripts and styles taken out."""
    bare = SELF_NAMED.sub(" ", SCRIPT_OR_STYLE.sub(" ", text))
    attrs = [v for v in VISIBLE_ATTRS.findall(bare)]
    bare = JINJA.sub(" ", TAG.sub(" ", bare.replace("\n", " ")))
    pieces = [*re.split(r"\s{2,}|&nbsp;", bare), *(JINJA.sub(" ", a) for a in attrs)]
    return [p.strip() for p in pieces if re.search(r"[^\W\d_]", UNTRANSLATED.sub("", p))]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_text_goes_through_the_catalogue(path: Path) -> None:
    assert visible_template_text(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_expressions_translate_their_strings(path: Path) -> None:
    """A Chinese string literal inside {{ }} or {% %} is an argument of _()."""
    left = [
        s
        for construct in JINJA.findall(path.read_text(encoding="utf-8"))
        for s in re.findall(r'(?<!_\()"[^"]*[\u3400-\u9fff][^"]*"', construct)
    ]
    assert left == []


def test_every_code_of_the_domain_has_a_label() -> None:
    """Raw state codes never reach a reader: each member of the enums the pages show has a label."""
    from evaluation.accounts.account import Role
    from evaluation.session.rules import CorrectionRule, SessionState
    from evaluation.session.tally import ChangeReason
    from evaluation.session.validity import Ground
    from evaluation.tenders.rules import Method, TenderState
    from web.labels import LABELS

    for kind, enum in (("state", TenderState), ("method", Method), ("role", Role), ("change_reason", ChangeReason),
                       ("session_state", SessionState), ("invalid_ground", Ground), ("correction_rule", CorrectionRule)):
        assert {m.value for m in enum} <= set(LABELS[kind]), kind


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_text_goes_through_the_catalogue(path: Path) -> None:
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    left = [line.strip() for line in SCRIPT_KEYS.sub("", code).splitlines() if CJK.search(line)]
    assert left == []


def test_every_used_string_has_an_english_entry() -> None:
    english = catalogue()
    missing = {key: where for key, where in used_keys().items() if not english.get(key, "").strip()}
    assert missing == {}


def test_the_catalogue_has_no_unused_entries() -> None:
    assert sorted(set(catalogue()) - set(used_keys())) == []


def test_english_entries_are_english_and_keep_their_placeholders() -> None:
    wrong = {}
    for zh, en in catalogue().items():
        if CJK.search(en) or sorted(re.findall(r"\{(\w+)\}", zh)) != sorted(re.findall(r"\{(\w+)\}", en)):
            wrong[zh] = en
    assert wrong == {}


def test_translate_fills_placeholders_and_falls_back_to_chinese() -> None:
    assert translate("招标项目", "en") == catalogue()["招标项目"]
    assert translate("招标项目", "zh") == "招标项目"
    assert translate("不在目录里的句子", "en") == "不在目录里的句子"
