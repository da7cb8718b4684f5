"""Excel sheets in a layout a government office can file (归档): a merged title row, a merged
subtitle row (scope, status, date), a shaded bold header row, bordered data rows, an optional
note row, and print settings — A4 landscape, fitted to one page wide, the header rows repeated
on every printed page, centred horizontally.

Shared by the report writers (issue 8 item 8): ``services.bulletin`` writes the 考评 rankings
with it; other ledgers may write their sheets the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

#: The font Chinese government offices file in (every Chinese Windows/WPS has it); a viewer
#: without it substitutes its own CJK font.
FONT = "宋体"
HEADER_FILL = PatternFill("solid", fgColor="D9E2F3")
_THIN = Side(style="thin", color="000000")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True)
class Column:
    """One column: its header, width (characters) and number format (``None``: general)."""

    header: str
    width: float = 12
    number_format: str | None = None


def filing_sheet(ws: Worksheet, *, title: str, subtitle: str | None, columns: Sequence[Column],
                 rows: Sequence[Sequence[Any]], note: str | None = None) -> None:
    """Write ``rows`` under ``columns`` on ``ws`` in the filing layout (module docstring)."""
    n = len(columns)
    last = get_column_letter(n)
    ws.append([title])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(name=FONT, size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    ws.append([subtitle or ""])
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].font = Font(name=FONT, size=10)
    ws["A2"].alignment = Alignment(horizontal="right", vertical="center")
    ws.append([c.header for c in columns])
    for cell in ws[3]:
        cell.font = Font(name=FONT, size=11, bold=True)
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(list(row))
        for col, cell in zip(columns, ws[ws.max_row]):
            cell.font = Font(name=FONT, size=11)
            cell.border = BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=True,
                                       horizontal="left" if isinstance(cell.value, str) else "center")
            if col.number_format:
                cell.number_format = col.number_format
    if note:
        ws.append([note])
        r = ws.max_row
        ws.merge_cells(f"A{r}:{last}{r}")
        ws.cell(r, 1).font = Font(name=FONT, size=10)
        ws.cell(r, 1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[r].height = 15 * (1 + len(note) // 60)
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
    fit_row_heights(ws, 3, ws.max_row - (1 if note else 0), [c.width for c in columns])
    ws.freeze_panes = "A4"
    print_setup(ws, sum(c.width for c in columns))


#: The height of one line of 11-point text, in points.
_LINE_PT = 15.0


def text_columns(text: str) -> float:
    """How many column-width units ``text`` takes on one line (a CJK character two, others one)."""
    return sum(2.0 if ord(ch) > 0x2E80 else 1.05 for ch in text)


def fit_row_heights(ws: Worksheet, first: int, last: int, widths: Sequence[float]) -> None:
    """Give rows ``first``..``last`` the height their wrapped text needs in columns ``widths``.

    A spreadsheet program does not re-measure rows written by openpyxl (LibreOffice keeps the
    default height, and wrapped lines then overlap the next row), so the height is set here from
    the text: the most lines any cell of the row wraps to, one 15-pt line each."""
    for r in range(first, last + 1):
        lines = 1
        for i, width in enumerate(widths, start=1):
            value = ws.cell(r, i).value
            if value is None:
                continue
            usable = max(width - 1.0, 1.0)
            lines = max(lines, sum(max(1, math.ceil(text_columns(part) / usable))
                                   for part in str(value).split("\n")))
        ws.row_dimensions[r].height = _LINE_PT * lines + 3


def print_setup(ws: Worksheet, total_width: float, title_rows: str = "1:3") -> None:
    """Landscape, one page wide, header rows repeated, page numbers; A3 paper when the columns
    are too many to read on A4 at that scale (``total_width`` in column units, > 180)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A3 if total_width > 180 else ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def new_workbook() -> Workbook:
    """An empty workbook (its default sheet removed): add sheets with ``wb.create_sheet``."""
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def to_bytes(wb: Workbook) -> bytes:
    """The workbook as .xlsx bytes."""
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
