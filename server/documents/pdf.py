"""An administrative document as a PDF ready to print and sign (fpdf2).

The layout is Decree 30/2020's (Appendix I, :mod:`server.documents.layout`):
the issuing body and its number on the left, the national title, motto and
place-date line on the right, the kind and subject centred, «Kính gửi», the
body (justified, first lines indented), the signature block on the right and
«Nơi nhận» on the left; page numbers at the top from the second page.

Liberation Serif (metric-compatible with Times New Roman, every Vietnamese
letter) is embedded, as a subset of the glyphs used, so the PDF prints the
same on any computer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableCellFillMode, VAlign, XPos, YPos

from server.documents import layout as L
from server.documents.model import (
    NATIONAL_MOTTO,
    NATIONAL_TITLE,
    AdministrativeDocument,
    Heading,
    Paragraph,
    Table,
    place_date_line,
)

__all__ = ["render_pdf", "FONTS_DIR", "FONT", "line_height", "room_left", "ensure_room"]

FONTS_DIR = Path(__file__).with_name("fonts")
_FONT = "LiberationSerif"
FONT = _FONT
"""The embedded font's family name, for a body drawn by a caller."""
_STYLES = {"": "Regular", "B": "Bold", "I": "Italic", "BI": "BoldItalic"}
_PT = 25.4 / 72  # millimetres in a point


def _line(size_pt: float) -> float:
    """The height of a line of text at ``size_pt``, in millimetres."""
    return size_pt * _PT * L.LINE_SPACING


line_height = _line


def room_left(pdf: FPDF) -> float:
    """Millimetres left above the bottom margin of the current page."""
    return pdf.h - L.MARGIN_BOTTOM_MM - pdf.get_y()


def ensure_room(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm still fit on this one (so a
    heading never stands alone at the foot of a page)."""
    if room_left(pdf) < height:
        pdf.add_page()


class _Page(FPDF):
    """The A4 page with the decree's page number (top centre, from page 2)."""

    def header(self) -> None:
        if self.page_no() < 2:
            return
        self.set_font(_FONT, "", L.PAGE_NUMBER_PT)
        self.set_xy(L.MARGIN_LEFT_MM, L.MARGIN_TOP_MM / 2 - 2)
        self.cell(L.TEXT_WIDTH_MM, _line(L.PAGE_NUMBER_PT), str(self.page_no()), align=Align.C)
        self.set_xy(L.MARGIN_LEFT_MM, L.MARGIN_TOP_MM)


def render_pdf(doc: AdministrativeDocument, *, body: Callable[[FPDF], None] | None = None) -> bytes:
    """The document as a PDF (A4, fonts embedded); its title and author in the metadata.

    ``body``, when given, draws more of the body after the blocks (a form's
    questions, say) on the page as it stands. A document with no signer
    (an empty :class:`Signature`) and no «Nơi nhận» ends there. A heading
    starts a new page rather than stand alone at the foot of one."""
    pdf = _Page(orientation="P", unit="mm", format="A4")
    for style, name in _STYLES.items():
        pdf.add_font(_FONT, style, str(FONTS_DIR / f"LiberationSerif-{name}.ttf"))
    pdf.set_margins(L.MARGIN_LEFT_MM, L.MARGIN_TOP_MM, L.MARGIN_RIGHT_MM)
    pdf.set_auto_page_break(True, margin=L.MARGIN_BOTTOM_MM)
    pdf.c_margin = 0  # text starts at the margin itself, as in a word processor
    title = " ".join(part for part in (L.plain(doc.kind), L.plain(doc.subject)) if part)
    pdf.set_title(title)
    pdf.set_author(L.plain(doc.author) or " ".join(L.issuer_lines(doc.issuer.name)))
    pdf.set_lang("vi")
    if doc.keywords:
        pdf.set_keywords(", ".join(L.plain(k) for k in doc.keywords))
    pdf.set_creator("Hài Lòng")
    pdf.add_page()
    _header(pdf, doc)
    _title(pdf, doc)
    _recipients(pdf, doc)
    closes = _has_closing(doc)
    last = len(doc.blocks) - 1
    for index, block in enumerate(doc.blocks):
        if isinstance(block, Paragraph):
            if index == last and closes and body is None:
                # The closing sentence goes over with the signature: a signature
                # page with no text of the document above it is not done.
                ensure_room(pdf, _paragraph_height(pdf, block.text) + _closing_height(pdf, doc))
            _paragraph(pdf, block.text, bold=False)
        elif isinstance(block, Heading):
            ensure_room(pdf, _heading_height(pdf, block.text) + _start_height(pdf, doc.blocks[index + 1:index + 3]))
            _paragraph(pdf, block.text, bold=True)
        elif isinstance(block, Table):
            _table(pdf, block)
    if body is not None:
        body(pdf)
    if closes:
        _closing(pdf, doc)
    return bytes(pdf.output())


def _has_closing(doc: AdministrativeDocument) -> bool:
    """Whether the document ends with a signature block or «Nơi nhận»."""
    signature = doc.signature
    return any(part.strip() for part in (signature.capacity, signature.title, signature.name)) or bool(doc.copies_to)


def _paragraph_lines(pdf: FPDF, text: str) -> int:
    """How many lines a body paragraph takes."""
    pdf.set_font(_FONT, "", L.BODY_PT)
    return len(pdf.multi_cell(L.TEXT_WIDTH_MM - L.FIRST_LINE_INDENT_MM, _line(L.BODY_PT),
                              L.plain(text).strip(), dry_run=True, output="LINES"))


def _paragraph_height(pdf: FPDF, text: str) -> float:
    """The height a body paragraph takes, with the space after it."""
    return _paragraph_lines(pdf, text) * _line(L.BODY_PT) + L.PARAGRAPH_AFTER_PT * _PT


def _heading_height(pdf: FPDF, text: str) -> float:
    """The height a heading takes, with the space above and after it."""
    pdf.set_font(_FONT, "B", L.BODY_PT)
    lines = pdf.multi_cell(L.TEXT_WIDTH_MM - L.FIRST_LINE_INDENT_MM, _line(L.BODY_PT), L.plain(text).strip(),
                           dry_run=True, output="LINES")
    return len(lines) * _line(L.BODY_PT) + 2 * L.PARAGRAPH_AFTER_PT * _PT


def _start_height(pdf: FPDF, following: tuple[object, ...]) -> float:
    """What of the blocks after a heading must share its page: two lines of
    a paragraph, or a table's header and first rows; a short note between a
    heading and its table (up to three lines) goes with both."""
    if not following:
        return 0.0
    first = following[0]
    if isinstance(first, Table):
        return 4 * _line(L.TABLE_PT) + 4
    if isinstance(first, Paragraph):
        lines = _paragraph_lines(pdf, first.text)
        if lines <= 3 and len(following) > 1 and isinstance(following[1], Table):
            return lines * _line(L.BODY_PT) + L.PARAGRAPH_AFTER_PT * _PT + 4 * _line(L.TABLE_PT) + 4
        return 2 * _line(L.BODY_PT)
    return 0.0


# -- the parts ------------------------------------------------------------------


def _centred(pdf: FPDF, x: float, width: float, text: str, style: str, size: float) -> float:
    """Centred text in a column, wrapped when too long; the y under it."""
    pdf.set_font(_FONT, style, size)
    pdf.set_x(x)
    pdf.multi_cell(width, _line(size), text, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    return pdf.get_y()


def _rule(pdf: FPDF, centre: float, y: float, length: float) -> None:
    pdf.set_line_width(0.3)
    pdf.line(centre - length / 2, y, centre + length / 2, y)


def _header(pdf: FPDF, doc: AdministrativeDocument) -> None:
    """The two columns: issuing body and number left; title, motto and place-date right."""
    top = L.MARGIN_TOP_MM
    left_x, left_w = L.MARGIN_LEFT_MM, L.LEFT_COLUMN_MM
    right_x, right_w = L.MARGIN_LEFT_MM + L.LEFT_COLUMN_MM, L.RIGHT_COLUMN_MM

    pdf.set_y(top)
    y = top
    if doc.issuer.parent.strip():
        for line in L.issuer_lines(doc.issuer.parent):
            y = _centred(pdf, left_x, left_w, line, "", L.ISSUER_PT)
    widest = 0.0
    pdf.set_font(_FONT, "B", L.ISSUER_PT)
    for line in L.issuer_lines(doc.issuer.name):
        widest = max(widest, min(pdf.get_string_width(line), left_w))
        y = _centred(pdf, left_x, left_w, line, "B", L.ISSUER_PT)
    # A short rule under the issuing body: a third of its line (at least 15 mm).
    _rule(pdf, left_x + left_w / 2, y + 0.8, max(15.0, widest / 3))
    left_bottom = y + 2.5

    pdf.set_y(top)
    title_size = L.TITLE_PT
    pdf.set_font(_FONT, "B", title_size)
    while pdf.get_string_width(NATIONAL_TITLE) > right_w and title_size > 10:
        title_size -= 0.5  # never wrap the national title
        pdf.set_font(_FONT, "B", title_size)
    y = _centred(pdf, right_x, right_w, NATIONAL_TITLE, "B", title_size)
    y = _centred(pdf, right_x, right_w, NATIONAL_MOTTO, "B", L.MOTTO_PT)
    pdf.set_font(_FONT, "B", L.MOTTO_PT)
    _rule(pdf, right_x + right_w / 2, y + 0.3, pdf.get_string_width(NATIONAL_MOTTO))
    right_bottom = y + 2.5

    # «Số» and the place-date line stand on the same line, under their columns
    # (a form has neither).
    row = max(left_bottom, right_bottom) + 1.5
    if not doc.number.strip() and not doc.place.strip():
        pdf.set_y(row + 6)
        return
    pdf.set_y(row)
    number_end = _centred(pdf, left_x, left_w, L.plain(doc.number), "", L.NUMBER_PT)
    pdf.set_y(row)
    date_end = _centred(pdf, right_x, right_w, L.plain(place_date_line(doc.place, doc.day)), "I",
                        L.PLACE_DATE_PT)
    pdf.set_y(max(number_end, date_end) + 8)


def _title(pdf: FPDF, doc: AdministrativeDocument) -> None:
    """The kind of document and its subject, bold and centred."""
    if doc.kind.strip():
        _centred(pdf, L.MARGIN_LEFT_MM, L.TEXT_WIDTH_MM, L.plain(doc.kind).upper(), "B", L.KIND_PT)
    if doc.subject.strip():
        _centred(pdf, L.MARGIN_LEFT_MM, L.TEXT_WIDTH_MM, L.plain(doc.subject), "B", L.SUBJECT_PT)
    pdf.ln(6)


def _recipients(pdf: FPDF, doc: AdministrativeDocument) -> None:
    """«Kính gửi»: one recipient centred on its line; several listed under it."""
    lines = L.recipient_lines(doc.recipients)
    if not lines:
        return
    pdf.set_font(_FONT, "", L.BODY_PT)
    height = _line(L.BODY_PT)
    if len(lines) == 1:
        _centred(pdf, L.MARGIN_LEFT_MM, L.TEXT_WIDTH_MM, lines[0], "", L.BODY_PT)
    else:
        head_width = pdf.get_string_width("Kính gửi: ")
        start = L.MARGIN_LEFT_MM + L.TEXT_WIDTH_MM / 4
        pdf.set_x(start)
        pdf.cell(head_width, height, lines[0])
        for item in lines[1:]:
            pdf.set_x(start + head_width)
            pdf.multi_cell(L.TEXT_WIDTH_MM * 3 / 4 - head_width, height, item, align=Align.L,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _paragraph(pdf: FPDF, text: str, *, bold: bool) -> None:
    """A body paragraph: justified, its first line indented, 6 pt after."""
    pdf.set_font(_FONT, "B" if bold else "", L.BODY_PT)
    if bold:
        pdf.ln(L.PARAGRAPH_AFTER_PT * _PT)
    with pdf.text_columns(text_align=Align.J, line_height=L.LINE_SPACING) as columns:
        with columns.paragraph(first_line_indent=L.FIRST_LINE_INDENT_MM,
                               bottom_margin=L.PARAGRAPH_AFTER_PT * _PT,
                               text_align=Align.L if bold else Align.J) as paragraph:
            paragraph.write(L.plain(text).strip())


def _table(pdf: FPDF, table: Table) -> None:
    """A bordered table, its header row bold and repeated on every page,
    numeric columns aligned right; long text wraps inside its cell."""
    columns = len(table.header)
    if columns == 0:
        return
    widths = table.widths if len(table.widths) == columns else (1.0,) * columns
    aligns = tuple("RIGHT" if index in table.numeric else "LEFT" for index in range(columns))
    pdf.set_font(_FONT, "", L.TABLE_PT)
    pdf.ln(1)
    heading = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    # Aligned with the text at the left margin (fpdf2 centres a table on the page by default).
    with pdf.table(col_widths=widths, width=L.TEXT_WIDTH_MM, align=Align.L, text_align=aligns,
                   line_height=_line(L.TABLE_PT), headings_style=heading, repeat_headings=1, padding=(0.8, 1.2),
                   v_align=VAlign.M, cell_fill_mode=TableCellFillMode.NONE, first_row_as_headings=True) as drawn:
        head = drawn.row()
        for title in table.header:
            head.cell(L.plain(str(title)), align=Align.C)
        for values in table.rows:
            row = drawn.row()
            cells = list(values)[:columns] + [""] * (columns - len(values))
            for value in cells:
                row.cell(L.cell_text(value))
    pdf.ln(2 * L.PARAGRAPH_AFTER_PT * _PT)


def _closing_parts(doc: AdministrativeDocument) -> tuple[list[str], str, list[str]]:
    """The signer's capacity and title lines (upper case), name, and the «Nơi nhận» lines."""
    signature = doc.signature
    upper = [L.plain(line).upper() for line in (signature.capacity, signature.title) if line.strip()]
    return upper, L.plain(signature.name).strip(), [L.plain(c) for c in doc.copies_to if c.strip()]


def _closing_height(pdf: FPDF, doc: AdministrativeDocument) -> float:
    """The height of the signature block beside «Nơi nhận», whichever is taller."""
    upper, name, copies = _closing_parts(doc)

    def measured(lines: list[str], style: str, size: float, width: float) -> float:
        pdf.set_font(_FONT, style, size)
        return sum(len(pdf.multi_cell(width, _line(size), text, dry_run=True, output="LINES")) * _line(size)
                   for text in lines)

    sign_height = (measured(upper, "B", L.SIGNATURE_PT, L.RIGHT_COLUMN_MM) + L.SIGNING_SPACE_MM
                   + measured([name] if name else [], "B", L.SIGNATURE_PT, L.RIGHT_COLUMN_MM))
    copies_height = (_line(L.COPIES_HEAD_PT) + measured(copies, "", L.COPIES_PT, L.LEFT_COLUMN_MM)) if copies else 0
    return max(sign_height, copies_height) + 4


def _closing(pdf: FPDF, doc: AdministrativeDocument) -> None:
    """The signature block on the right, «Nơi nhận» on the left, kept together on one page."""
    right_x, right_w = L.MARGIN_LEFT_MM + L.LEFT_COLUMN_MM, L.RIGHT_COLUMN_MM
    left_x, left_w = L.MARGIN_LEFT_MM, L.LEFT_COLUMN_MM
    upper, name, copies = _closing_parts(doc)
    ensure_room(pdf, _closing_height(pdf, doc))
    top = pdf.get_y() + 2

    if copies:
        pdf.set_xy(left_x, top)
        pdf.set_font(_FONT, "BI", L.COPIES_HEAD_PT)
        pdf.cell(left_w, _line(L.COPIES_HEAD_PT), "Nơi nhận:", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(_FONT, "", L.COPIES_PT)
        for line in copies:
            pdf.set_x(left_x)
            pdf.multi_cell(left_w - 4, _line(L.COPIES_PT), line, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
    copies_end = pdf.get_y()

    pdf.set_y(top)
    y = top
    for line in upper:
        y = _centred(pdf, right_x, right_w, line, "B", L.SIGNATURE_PT)
    pdf.set_y(y + L.SIGNING_SPACE_MM)
    if name:
        y = _centred(pdf, right_x, right_w, name, "B", L.SIGNATURE_PT)
    else:
        y = pdf.get_y()
    pdf.set_y(max(y, copies_end))
