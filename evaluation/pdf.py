"""The PDF machinery of the signed documents (the 评标报告, the 开标记录表): reportlab on A4, Chinese
in its built-in CID font STSong-Light (no font files), paragraphs and ruled tables, and an
invariant build (the same content gives the same bytes). Blocking: call it in a thread."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from evaluation.errors import Lookup, Text, unchanged

FONT = "STSong-Light"
TRANSLATION_PROBE = "评标报告"  # a word every catalogue translates
FRAME_WIDTH = 595.27 - 2 * 72  # A4 less reportlab's default margins of an inch each side, in points


class Pdf:
    """Paragraph and table makers in the documents' styles; ``build`` gives the PDF's bytes. A
    Text in a paragraph or a cell is rendered through `lookup` (a translation; as written by
    default). A lookup that translates makes a copy in another language (English), whose lines
    wrap between words."""

    def __init__(self, lookup: Lookup = unchanged) -> None:
        self.lookup = lookup
        by_words = lookup(TRANSLATION_PROBE) != TRANSLATION_PROBE
        from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
        from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]

        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        # Chinese breaks between any two characters; an English copy breaks between words, and
        # splits a run of Chinese (a name) only where it is longer than the line.
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13, wordWrap=None if by_words else "CJK",
                                   splitLongWords=True)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=10)
        self.head = ParagraphStyle("head", parent=self.body, fontSize=13, leading=18, spaceBefore=8)
        self.title = ParagraphStyle("title", parent=self.body, fontSize=17, leading=24)

    def p(self, text: Any, style: Any = None) -> Any:
        """A paragraph of plain text (never markup: what a bidder wrote stays text)."""
        from reportlab.platypus import Paragraph  # type: ignore[import-untyped]

        if isinstance(text, Text):
            text = text.render(self.lookup)
        return Paragraph(str(text).replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br/>"), style or self.body)

    def table(self, rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None) -> Any:
        """A ruled table; the first row is the header, repeated on every page."""
        from reportlab.lib import colors  # type: ignore[import-untyped]
        from reportlab.platypus import Table, TableStyle  # type: ignore[import-untyped]

        texts = [[c.render(self.lookup) if isinstance(c, Text) else str(c) for c in row] for row in rows]
        t = Table([[self.p(c) for c in row] for row in texts], repeatRows=1, colWidths=widths or self._widths(texts))
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    def _widths(self, rows: Sequence[Sequence[str]]) -> list[float]:
        """Columns as wide as their longest text needs, a column at most a third of the page and
        never narrower than a short word, scaled to the page's width (reportlab alone gives the
        last column what the others leave)."""
        from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

        columns = max(len(r) for r in rows)
        want = [max(44.0, min(FRAME_WIDTH / 3, max(stringWidth(r[i], FONT, 9) + 8 for r in rows if i < len(r))))
                for i in range(columns)]
        return [w * FRAME_WIDTH / sum(want) for w in want]

    def space(self, height: float = 10) -> Any:
        from reportlab.platypus import Spacer  # type: ignore[import-untyped]

        return Spacer(1, height)

    def build(self, flow: list[Any], title: str) -> bytes:
        from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
        from reportlab.platypus import SimpleDocTemplate  # type: ignore[import-untyped]

        out = io.BytesIO()
        SimpleDocTemplate(out, pagesize=A4, title=title, invariant=1).build(flow)
        return out.getvalue()
