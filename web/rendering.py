"""The one Jinja environment of the app and ``render``: every HTML response goes through here.

Templates live in web/pages/templates/. The environment's globals are what every page may use:
the CSRF field, role labels and the formatting helpers of web/formatting.py; ``render`` adds the
request itself. Route modules import ``render`` from here, never the app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from web.access.csrf import csrf_input
from web.formatting import money, size_text, yuan
from web.i18n import gettext, language_of, page_catalogue
from web.labels import field_label, label

TEMPLATES = Path(__file__).parent / "pages" / "templates"
JINJA = web.AppKey("jinja", jinja2.Environment)


def make_environment() -> jinja2.Environment:
    """The environment: HTML autoescaped, the shared globals and filters registered."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        enable_async=False,
    )
    env.globals.update(
        _=gettext,
        language_of=language_of,
        page_catalogue=page_catalogue,
        csrf_input=csrf_input,
        label=label,
        field_label=field_label,
        yuan=yuan,
        money=money,
        size_text=size_text,
    )
    env.filters.update(yuan=yuan)
    return env


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    """Render `template` with `context` and the request, as a UTF-8 HTML response."""
    html = request.app[JINJA].get_template(template).render(request=request, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8")
