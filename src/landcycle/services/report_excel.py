"""Excel sheets in a layout a government office can file (归档): a merged title row, a merged
subtitle row (scope, status, date), a shaded bold header row, bordered data rows, an optional
note row, and print settings — A4 landscape, fitted to one page wide, the header rows repeated
on every printed page, centred horizontally.

Shared by the report writers (issue 8 item 8): ``services.bulletin`` writes the 考评 rankings
with it; other ledgers may write their sheets the same way.
"""

from __future__ import annotations

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
    ws.freeze_panes = "A4"
    _print_setup(ws)


def _print_setup(ws: Worksheet) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:3"
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
