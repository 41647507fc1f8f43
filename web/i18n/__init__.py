"""Languages of the pages (界面语言): Chinese first, English as a switch, through one catalogue.

Every user-visible string is written once, in Chinese, and looked up in ``en.json`` (Chinese →
English) when the reader chose English. Templates call ``_("招标项目")``; scripts call
``t("招标项目")`` (web/static/i18n.js) with the catalogue the page embeds; values with
placeholders use ``{name}``: ``_("共 {n} 条", n=3)``. tests/web/test_i18n.py fails on a visible
string that is not in the catalogue, and on a catalogue entry nothing uses.

The reader's choice is a cookie (``lang``, set by ``/lang``), so it holds per browser, signed in
or not; the default is Chinese.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from evaluation.errors import Text

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE = "lang"
CATALOGUE = Path(__file__).with_name("en.json")


@cache
def english() -> dict[str, str]:
    """The catalogue: Chinese source text → English."""
    data: dict[str, str] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


def translate(text: str, lang: str, **values: Any) -> str:
    """`text` (Chinese) in `lang`, with ``{name}`` placeholders filled from `values`. A string
    missing from the catalogue shows in Chinese rather than not at all (the test catches it)."""
    if lang == "en":
        text = english().get(text, text)
    return text.format(**values) if values else text


def lookup_in(lang: str) -> Callable[[str], str]:
    """A template's translation into `lang` (the catalogue's; Chinese as written, and where an entry is missing)."""
    if lang != "en":
        return lambda template: template
    catalogue = english()
    return lambda template: catalogue.get(template, template)


def localize(text: Text | str, lang: str) -> str:
    """A message (a domain error's Text, or a plain Chinese line) in `lang`: its template and the
    templates of the Texts it quotes looked up in the catalogue; Chinese where an entry is missing."""
    if isinstance(text, str):
        return translate(text, lang)
    return text.render(lookup_in(lang))


def language_of(request: web.Request) -> str:
    """The reader's language: the ``lang`` cookie when it names one, else Chinese."""
    chosen = request.cookies.get(COOKIE, "")
    return chosen if chosen in LANGS else DEFAULT


@jinja2.pass_context
def gettext(context: Any, text: str, **values: Any) -> str:
    """The templates' ``_()``: `text` in the language of the request being rendered."""
    request = context.get("request")
    return translate(text, language_of(request) if request is not None else DEFAULT, **values)


def page_catalogue(lang: str) -> dict[str, str]:
    """What a page's scripts need to translate: the whole catalogue in English, nothing in Chinese."""
    return english() if lang == "en" else {}
