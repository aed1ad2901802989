"""The look every XLSX the server writes shares: a sheet with set column
widths and a bold, wrapped header row that stays in view."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

__all__ = ["new_sheet"]


def new_sheet(book: Workbook, title: str, header: list[str] | None, widths: list[int]) -> Any:
    """A new sheet of ``book`` (its title cut to Excel's 31 characters), with
    the columns' widths and, when given, the header row frozen at the top."""
    sheet = book.create_sheet(title=title[:31])
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    if header:
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "A2"
    return sheet
