"""The one Jinja environment of the app and ``render``: every HTML response goes through here.

Templates live in web/pages/templates/. The environment's globals are what every page may use:
the CSRF field, role labels and the formatting helpers of web/formatting.py; ``render`` adds the
request itself. Route modules import ``render`` from here, never the app factory."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from evaluation.session.report import points as report_points
from web import keys
from web.access.csrf import csrf_input
from web.formatting import local_time, money, size_text, yuan, zone_name
from web.i18n import gettext, language_of, page_catalogue
from web.labels import field_label, label

TEMPLATES = Path(__file__).parent / "pages" / "templates"
JINJA = keys.JINJA


@jinja2.pass_context
def when(context: Any, unix: float | str | None, us: int | None = None) -> Markup:
    """A moment as the reader sees it: ``<time>`` with the local date and time in the
    installation's zone and the zone named beside it; pages' scripts keep it (data-unix)."""
    if unix is None and us is not None:
        unix = us / 1e6
    if isinstance(unix, str):
        unix = datetime.fromisoformat(unix).timestamp() if unix else None
    if unix is None:
        return Markup("")
    zone = context["request"].app[keys.SETTINGS].time_zone
    iso = datetime.fromtimestamp(unix, tz=UTC).isoformat().replace("+00:00", "Z")
    return Markup('<time class="tp-local" datetime="{}" data-unix="{}">{} <small class="tp-zone">{}</small></time>').format(
        iso, unix, local_time(unix, zone), gettext(context, zone_name(zone, unix))
    )


@jinja2.pass_context
def zone_label(context: Any, request: web.Request) -> str:
    """The name of the installation's clock, for form labels: 北京时间, or a UTC offset."""
    return str(gettext(context, zone_name(request.app[keys.SETTINGS].time_zone, time.time())))


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
        when=when,
        unread=lambda request: request.get(keys.UNREAD, 0),
        zone_label=zone_label,
        time_zone=lambda request: request.app[keys.SETTINGS].time_zone,
        label=label,
        field_label=field_label,
        yuan=yuan,
        money=money,
        size_text=size_text,
    )
    env.filters.update(points=report_points)
    # JSON shown in a page keeps its Chinese readable (no \\u escapes); still HTML-safe.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True}
    return env


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    """Render `template` with `context` and the request, as a UTF-8 HTML response."""
    html = request.app[JINJA].get_template(template).render(request=request, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8")
