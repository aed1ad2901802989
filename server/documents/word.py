"""An administrative document as a DOCX the commune edits in Word or
LibreOffice before signing (python-docx).

The layout is the PDF's (:mod:`server.documents.layout`, Decree 30/2020
Appendix I) built from what a word processor edits well: the two-column
header and the signature block are tables without borders, the body is
paragraphs with a first-line indent, tables repeat their header row on every
page, and the page number (from page 2) is a field in the page header. The
font named is Times New Roman, which Word has and LibreOffice replaces with
its metric twin.
"""

from __future__ import annotations

import io
from functools import cache

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph as DocxParagraph
from fontTools.ttLib import TTFont

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
from server.documents.pdf import FONTS_DIR

__all__ = ["render_docx"]

_PT_MM = 25.4 / 72


def render_docx(doc: AdministrativeDocument) -> bytes:
    """The document as a DOCX (A4, the decree's margins, Times New Roman)."""
    document = Document()
    _page(document)
    _properties(document, doc)
    _header(document, doc)
    _title(document, doc)
    _recipients(document, doc)
    for index, block in enumerate(doc.blocks):
        if isinstance(block, Paragraph):
            paragraph = document.add_paragraph()
            _body(paragraph, block.text, bold=False)
            # The closing sentence goes over with the signature block, as in the PDF.
            paragraph.paragraph_format.keep_with_next = index == len(doc.blocks) - 1 or None
        elif isinstance(block, Heading):
            _body(document.add_paragraph(), block.text, bold=True)
        elif isinstance(block, Table):
            _table(document, block)
    _closing(document, doc)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# -- the page ---------------------------------------------------------------------


def _page(document: DocxDocument) -> None:
    """A4 portrait, the decree's margins, Times New Roman in Vietnamese, the page number from page 2."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(L.PAGE_WIDTH_MM), Mm(L.PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(L.MARGIN_TOP_MM), Mm(L.MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(L.MARGIN_LEFT_MM), Mm(L.MARGIN_RIGHT_MM)
    section.header_distance = Mm(L.MARGIN_TOP_MM / 2 - 2)
    normal = document.styles["Normal"]
    normal.font.name = L.FONT_FAMILY
    normal.font.size = Pt(L.BODY_PT)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attribute), L.FONT_FAMILY)
    language = OxmlElement("w:lang")
    language.set(qn("w:val"), "vi-VN")
    normal.element.get_or_add_rPr().append(language)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.line_spacing = 1.0

    # No number on the first page; the others carry theirs at the top, centred.
    section.different_first_page_header_footer = True
    number = section.header.paragraphs[0]
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = number.add_run()
    run.font.size = Pt(L.PAGE_NUMBER_PT)
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    field_run = OxmlElement("w:r")
    field_text = OxmlElement("w:t")
    field_text.text = "2"
    field_run.append(field_text)
    field.append(field_run)
    number._p.append(field)


def _properties(document: DocxDocument, doc: AdministrativeDocument) -> None:
    properties = document.core_properties
    properties.title = " ".join(part for part in (L.plain(doc.kind), L.plain(doc.subject)) if part)
    properties.author = L.plain(doc.author) or " ".join(L.issuer_lines(doc.issuer.name))
    properties.language = "vi-VN"
    properties.keywords = ", ".join(L.plain(k) for k in doc.keywords)
    properties.comments = ""


# -- pieces -----------------------------------------------------------------------


def _text(paragraph: DocxParagraph, text: str, *, size: float, bold: bool = False, italic: bool = False,
          align: WD_ALIGN_PARAGRAPH | None = WD_ALIGN_PARAGRAPH.CENTER) -> DocxParagraph:
    """Text in a paragraph (one run), its size and style."""
    if align is not None:
        paragraph.alignment = align
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    return paragraph


@cache
def _font(bold: bool) -> tuple[dict[int, str], dict[str, tuple[int, int]], int]:
    face = TTFont(str(FONTS_DIR / ("LiberationSerif-Bold.ttf" if bold else "LiberationSerif-Regular.ttf")))
    return face.getBestCmap(), dict(face["hmtx"].metrics), face["head"].unitsPerEm


def _width_mm(text: str, size: float, bold: bool) -> float:
    """How wide ``text`` prints in Times New Roman's metrics (those of Liberation Serif)."""
    cmap, metrics, units = _font(bold)
    advance = sum(metrics[cmap[ord(ch)]][0] for ch in text if ord(ch) in cmap)
    return advance / units * size * _PT_MM


def _rule(cell: _Cell, column_mm: float, length_mm: float) -> None:
    """A rule of ``length_mm`` centred in a column: the bottom border of a
    thin empty paragraph, its indents narrowing it to that length."""
    paragraph = cell.add_paragraph()
    side = max(0.0, (column_mm - length_mm) / 2)
    paragraph.paragraph_format.left_indent = Mm(side)
    paragraph.paragraph_format.right_indent = Mm(side)
    paragraph.paragraph_format.line_spacing = Pt(2)
    properties = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for name, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(name), value)
    borders.append(bottom)
    properties.append(borders)
    # The empty line's own height follows its paragraph mark's size.
    mark = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "4")
    mark.append(size)
    properties.append(mark)


def _borderless(document: DocxDocument, widths_mm: tuple[float, ...]):
    """A one-row table without borders, its columns fixed at ``widths_mm``."""
    table = document.add_table(rows=1, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    properties = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    properties.append(layout)
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "nil")
        borders.append(edge)
    properties.append(borders)
    _no_cell_margins(properties)
    for cell, width in zip(table.rows[0].cells, widths_mm, strict=True):
        cell.width = Mm(width)
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
    return table


def _no_cell_margins(properties) -> None:
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:w"), "0")
        edge.set(qn("w:type"), "dxa")
        margins.append(edge)
    properties.append(margins)


def _first(cell: _Cell) -> DocxParagraph:
    """The cell's first paragraph (a new cell has one, empty)."""
    return cell.paragraphs[0]


# -- the parts --------------------------------------------------------------------


def _header(document: DocxDocument, doc: AdministrativeDocument) -> None:
    """Issuing body left, title and motto right (first row, from the top);
    «Số» left and the place-date line right (second row, on the same line)."""
    table = _borderless(document, (L.LEFT_COLUMN_MM, L.RIGHT_COLUMN_MM))
    table.add_row()
    for row in table.rows:
        for cell, width in zip(row.cells, (L.LEFT_COLUMN_MM, L.RIGHT_COLUMN_MM), strict=True):
            cell.width = Mm(width)
    (left, right), (number_cell, date_cell) = table.rows[0].cells, table.rows[1].cells
    paragraph = _first(left)
    for line in L.issuer_lines(doc.issuer.parent) if doc.issuer.parent.strip() else []:
        _text(paragraph, line, size=L.ISSUER_PT)
        paragraph = left.add_paragraph()
    names = L.issuer_lines(doc.issuer.name)
    for index, line in enumerate(names):
        _text(paragraph, line, size=L.ISSUER_PT, bold=True)
        if index < len(names) - 1:
            paragraph = left.add_paragraph()
    widest = max((_width_mm(line, L.ISSUER_PT, True) for line in names), default=0.0)
    _rule(left, L.LEFT_COLUMN_MM, max(15.0, min(widest, L.LEFT_COLUMN_MM) / 3))

    _text(_first(right), NATIONAL_TITLE, size=L.TITLE_PT, bold=True)
    _text(right.add_paragraph(), NATIONAL_MOTTO, size=L.MOTTO_PT, bold=True)
    _rule(right, L.RIGHT_COLUMN_MM, _width_mm(NATIONAL_MOTTO, L.MOTTO_PT, True))

    number = _text(_first(number_cell), L.plain(doc.number), size=L.NUMBER_PT)
    number.paragraph_format.space_before = Pt(6)
    date_line = _text(_first(date_cell), L.plain(place_date_line(doc.place, doc.day)), size=L.PLACE_DATE_PT,
                      italic=True)
    date_line.paragraph_format.space_before = Pt(6)


def _title(document: DocxDocument, doc: AdministrativeDocument) -> None:
    first = True
    for text in (L.plain(doc.kind).upper(), L.plain(doc.subject)):
        if text.strip():
            paragraph = _text(document.add_paragraph(), text, size=L.KIND_PT, bold=True)
            if first:
                paragraph.paragraph_format.space_before = Pt(22)
                first = False
    document.add_paragraph().paragraph_format.space_after = Pt(4)


def _recipients(document: DocxDocument, doc: AdministrativeDocument) -> None:
    lines = L.recipient_lines(doc.recipients)
    if len(lines) == 1:
        _text(document.add_paragraph(), lines[0], size=L.BODY_PT)
    elif lines:
        head = _text(document.add_paragraph(), lines[0], size=L.BODY_PT, align=WD_ALIGN_PARAGRAPH.LEFT)
        head.paragraph_format.left_indent = Mm(L.TEXT_WIDTH_MM / 4)
        indent = L.TEXT_WIDTH_MM / 4 + _width_mm("Kính gửi: ", L.BODY_PT, False)
        for item in lines[1:]:
            paragraph = _text(document.add_paragraph(), item, size=L.BODY_PT, align=WD_ALIGN_PARAGRAPH.LEFT)
            paragraph.paragraph_format.left_indent = Mm(indent)
    if lines:
        document.paragraphs[-1].paragraph_format.space_after = Pt(12)


def _body(paragraph: DocxParagraph, text: str, *, bold: bool) -> None:
    """A body paragraph: justified, first line indented 1.27 cm, 6 pt after."""
    _text(paragraph, L.plain(text).strip(), size=L.BODY_PT, bold=bold,
          align=WD_ALIGN_PARAGRAPH.LEFT if bold else WD_ALIGN_PARAGRAPH.JUSTIFY)
    paragraph.paragraph_format.first_line_indent = Mm(L.FIRST_LINE_INDENT_MM)
    paragraph.paragraph_format.space_after = Pt(L.PARAGRAPH_AFTER_PT)
    if bold:
        paragraph.paragraph_format.space_before = Pt(L.PARAGRAPH_AFTER_PT)
        paragraph.paragraph_format.keep_with_next = True


def _table(document: DocxDocument, table: Table) -> None:
    """A bordered table whose header row (bold) repeats on every page;
    numeric columns aligned right."""
    columns = len(table.header)
    if columns == 0:
        return
    weights = table.widths if len(table.widths) == columns else (1.0,) * columns
    widths = tuple(L.TEXT_WIDTH_MM * w / sum(weights) for w in weights)
    drawn = document.add_table(rows=1 + len(table.rows), cols=columns, style="Table Grid")
    drawn.alignment = WD_TABLE_ALIGNMENT.CENTER
    drawn.autofit = False
    for column, width in zip(drawn.columns, widths, strict=True):
        column.width = Mm(width)
    for index, row in enumerate(drawn.rows):
        cells = row.cells
        if index == 0:
            header = OxmlElement("w:tblHeader")
            header.set(qn("w:val"), "true")
            row._tr.get_or_add_trPr().append(header)
            values: list[str | int | float] = list(table.header)
        else:
            values = list(table.rows[index - 1])[:columns]
            values += [""] * (columns - len(values))
        for column, (cell, value) in enumerate(zip(cells, values, strict=True)):
            cell.width = Mm(widths[column])
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            if index == 0:
                align = WD_ALIGN_PARAGRAPH.CENTER
            elif column in table.numeric:
                align = WD_ALIGN_PARAGRAPH.RIGHT
            else:
                align = WD_ALIGN_PARAGRAPH.LEFT
            _text(_first(cell), L.cell_text(value), size=L.TABLE_PT, bold=index == 0, align=align)
    document.add_paragraph().paragraph_format.space_after = Pt(L.PARAGRAPH_AFTER_PT)


def _closing(document: DocxDocument, doc: AdministrativeDocument) -> None:
    """«Nơi nhận» on the left, the signature block on the right, in a borderless table."""
    signature = doc.signature
    table = _borderless(document, (L.LEFT_COLUMN_MM, L.RIGHT_COLUMN_MM))
    row = table.rows[0]
    # Never split the block over two pages.
    no_split = OxmlElement("w:cantSplit")
    row._tr.get_or_add_trPr().append(no_split)
    left, right = row.cells
    copies = [L.plain(c) for c in doc.copies_to if c.strip()]
    if copies:
        paragraph = _text(_first(left), "Nơi nhận:", size=L.COPIES_HEAD_PT, bold=True, italic=True,
                          align=WD_ALIGN_PARAGRAPH.LEFT)
        paragraph.paragraph_format.space_before = Pt(6)
        for line in copies:
            _text(left.add_paragraph(), line, size=L.COPIES_PT, align=WD_ALIGN_PARAGRAPH.LEFT)
    paragraph = _first(right)
    paragraph.paragraph_format.space_before = Pt(6)
    upper = [L.plain(line).upper() for line in (signature.capacity, signature.title) if line.strip()]
    for index, line in enumerate(upper):
        _text(paragraph, line, size=L.SIGNATURE_PT, bold=True)
        if index < len(upper) - 1:
            paragraph = right.add_paragraph()
    name = right.add_paragraph()
    name.paragraph_format.space_before = Mm(L.SIGNING_SPACE_MM)
    _text(name, L.plain(signature.name).strip(), size=L.SIGNATURE_PT, bold=True)
