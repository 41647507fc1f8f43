"""The errors evaluation/ raises for expected failures, each with an HTTP-ish status.

The web layer maps them once to its JSON error shape; the command line prints the message.
Every message is one plain line a person can act on, written once in Chinese as a template whose
``{placeholders}`` take the values: ``InvalidRequest("第{lot}包重复报价", lot=3)``. The template is
the key of the catalogue (web/i18n/en.json) that gives the English; tests/test_message_catalogue.py
fails on a message that is not in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

Lookup = Callable[[str], str]


def unchanged(template: str) -> str:
    return template


class Text:
    """A sentence a person reads: its Chinese template and the values of its ``{placeholders}``.

    ``str()`` is the Chinese; ``render(lookup)`` is the sentence in another language, `lookup`
    giving a template's translation. A value that is itself a Text (a cause quoted in a message)
    is rendered in the same language. Templates are formatted only when they have values, so a
    template without values may show braces as they are.
    """

    __slots__ = ("template", "values")

    def __init__(self, template: str, /, **values: object) -> None:
        self.template = template
        self.values: Mapping[str, object] = values

    def render(self, lookup: Lookup = unchanged) -> str:
        template = lookup(self.template)
        if not self.values:
            return template
        values = {k: v.render(lookup) if isinstance(v, Text) else v for k, v in self.values.items()}
        for candidate in (template, self.template):  # a translation that lost a placeholder: the source
            try:
                return candidate.format(**values)
            except (KeyError, IndexError, ValueError):
                continue
        return self.template

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.template!r}, **{dict(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (other.template, dict(other.values)) == (self.template, dict(self.values))

    def __hash__(self) -> int:
        return hash(self.template)

    @staticmethod
    def join(parts: Iterable[Text | str], separator: str = "；") -> Text:
        """Several sentences as one line, each translated on its own (the separator too)."""
        return _Joined(separator, [p if isinstance(p, Text) else Text(p) for p in parts])


class _Joined(Text):
    __slots__ = ("parts",)

    def __init__(self, separator: str, parts: list[Text]) -> None:
        super().__init__(separator)
        self.parts = parts

    def render(self, lookup: Lookup = unchanged) -> str:
        return lookup(self.template).join(p.render(lookup) for p in self.parts)

    def __repr__(self) -> str:
        return f"Text.join({self.parts!r}, {self.template!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Joined) and (other.template, other.parts) == (self.template, self.parts)

    def __hash__(self) -> int:
        return hash((self.template, len(self.parts)))


class DomainError(Exception):
    """Base of the expected failures of evaluation/: the request cannot be done as asked.

    `message` is the Chinese template (or a Text), `values` fill its placeholders; ``.text`` is
    the Text to translate, ``.message`` the Chinese line.
    """

    status = 400

    def __init__(self, message: str | Text, /, **values: object) -> None:
        self.text = message if isinstance(message, Text) else Text(message, **values)
        self.message = str(self.text)
        super().__init__(self.message)


class InvalidRequest(DomainError):
    """The input is malformed or out of range (an index beyond the log, a float in a payload…)."""

    status = 400


class NotFoundError(DomainError):
    """The thing asked for does not exist."""

    status = 404


class ConflictError(DomainError):
    """The request conflicts with the current state (a key for another origin, a stopped log…)."""

    status = 409


class InvalidStateError(ConflictError):
    """An object (tender, bid, session) is not in a state that allows this; the message names it."""


class IntegrityFailure(DomainError):
    """Stored or exported data fails a check against what was signed: tampering or corruption."""

    status = 422
