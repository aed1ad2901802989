"""The measurements of Decree 30/2020/NĐ-CP (Appendix I) both writers use,
so the PDF to sign and the DOCX to edit look alike.

An A4 page with margins of 20 mm top and bottom, 30 mm left and 15 mm
right; the header in two columns (the issuing body on the left, the national
title on the right) and the signature block in the same two columns (the
list of recipients on the left); sizes in points as the decree gives them
(13 to 14 for the body, 12 to 13 for the national title).
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "PAGE_WIDTH_MM", "PAGE_HEIGHT_MM", "MARGIN_TOP_MM", "MARGIN_BOTTOM_MM", "MARGIN_LEFT_MM", "MARGIN_RIGHT_MM",
    "TEXT_WIDTH_MM", "LEFT_COLUMN_MM", "RIGHT_COLUMN_MM", "FIRST_LINE_INDENT_MM", "PARAGRAPH_AFTER_PT",
    "ISSUER_PT", "NUMBER_PT", "TITLE_PT", "MOTTO_PT", "PLACE_DATE_PT", "KIND_PT", "SUBJECT_PT", "BODY_PT",
    "TABLE_PT", "SIGNATURE_PT", "COPIES_HEAD_PT", "COPIES_PT", "PAGE_NUMBER_PT", "SIGNING_SPACE_MM",
    "LINE_SPACING", "FONT_FAMILY", "plain", "issuer_lines", "recipient_lines", "cell_text",
]

PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MARGIN_TOP_MM = 20.0
MARGIN_BOTTOM_MM = 20.0
MARGIN_LEFT_MM = 30.0
MARGIN_RIGHT_MM = 15.0
TEXT_WIDTH_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM
# The right column holds the national title on one line (12 pt bold is
# about 92 mm wide) and the signature block; the left one the issuing body.
RIGHT_COLUMN_MM = 100.0
LEFT_COLUMN_MM = TEXT_WIDTH_MM - RIGHT_COLUMN_MM

FIRST_LINE_INDENT_MM = 12.7  # 1.27 cm
PARAGRAPH_AFTER_PT = 6.0
LINE_SPACING = 1.2  # times the font size (the decree allows single to 1.5 lines)

ISSUER_PT = 13.0
NUMBER_PT = 13.0
TITLE_PT = 12.0
MOTTO_PT = 13.0
PLACE_DATE_PT = 13.0
KIND_PT = 14.0
SUBJECT_PT = 14.0
BODY_PT = 14.0
TABLE_PT = 12.0
SIGNATURE_PT = 14.0
COPIES_HEAD_PT = 12.0
COPIES_PT = 11.0
PAGE_NUMBER_PT = 13.0
SIGNING_SPACE_MM = 25.0  # room for the signature and the seal

FONT_FAMILY = "Times New Roman"
"""The font a DOCX names (Word and LibreOffice have it or a metric twin);
the PDF embeds Liberation Serif, of the same metrics."""


def plain(text: str) -> str:
    """Text as the writers take it: composed Unicode (a name typed with
    combining accents prints with the font's own accented letters)."""
    return unicodedata.normalize("NFC", text)


def issuer_lines(name: str) -> list[str]:
    """The issuing body's lines, in capitals (a line break in the setting
    starts a new line)."""
    return [plain(line).strip().upper() for line in name.splitlines() if line.strip()]


def recipient_lines(recipients: tuple[str, ...]) -> list[str]:
    """The «Kính gửi» lines: one recipient on the same line, several as a
    list of ``- …;`` lines ending with a full stop."""
    names = [plain(r).strip() for r in recipients if r.strip()]
    if len(names) <= 1:
        return [f"Kính gửi: {names[0]}"] if names else []
    items = [f"- {name};" for name in names]
    items[-1] = items[-1][:-1] + "."
    return ["Kính gửi:", *items]


def cell_text(value: object) -> str:
    """A table cell's text: numbers as Vietnamese write them (``1.234``,
    ``12,5``: one decimal), nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return plain(str(value))
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    whole, _, fraction = f"{value:,.1f}".partition(".")
    return whole.replace(",", ".") + "," + fraction
