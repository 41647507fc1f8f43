"""The PDF machinery of the signed documents (the 评标报告, the 开标记录表): reportlab on A4, Chinese
in its built-in CID font STSong-Light (no font files), paragraphs and ruled tables, and an
invariant build (the same content gives the same bytes). Blocking: call it in a thread."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

FONT = "STSong-Light"


class Pdf:
    """Paragraph and table makers in the documents' styles; ``build`` gives the PDF's bytes."""

    def __init__(self) -> None:
        from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
        from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]

        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK")
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=10)
        self.head = ParagraphStyle("head", parent=self.body, fontSize=13, leading=18, spaceBefore=8)
        self.title = ParagraphStyle("title", parent=self.body, fontSize=17, leading=24)

    def p(self, text: Any, style: Any = None) -> Any:
        """A paragraph of plain text (never markup: what a bidder wrote stays text)."""
        from reportlab.platypus import Paragraph  # type: ignore[import-untyped]

        return Paragraph(str(text).replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br/>"), style or self.body)

    def table(self, rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None) -> Any:
        """A ruled table; the first row is the header, repeated on every page."""
        from reportlab.lib import colors  # type: ignore[import-untyped]
        from reportlab.platypus import Table, TableStyle  # type: ignore[import-untyped]

        t = Table([[self.p(c) for c in row] for row in rows], repeatRows=1, colWidths=widths)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    def space(self, height: float = 10) -> Any:
        from reportlab.platypus import Spacer  # type: ignore[import-untyped]

        return Spacer(1, height)

    def build(self, flow: list[Any], title: str) -> bytes:
        from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
        from reportlab.platypus import SimpleDocTemplate  # type: ignore[import-untyped]

        out = io.BytesIO()
        SimpleDocTemplate(out, pagesize=A4, title=title, invariant=1).build(flow)
        return out.getvalue()
