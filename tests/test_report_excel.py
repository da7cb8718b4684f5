"""The filing layout of the workbooks the platform hands out (services/report_excel.py): rows as
tall as their wrapped text (a spreadsheet program does not re-measure openpyxl's rows, so
wrapped lines would overlap the next row), and A3 paper when the columns are too many for A4."""

from __future__ import annotations

from openpyxl import Workbook

from landcycle.services.report_excel import Column, filing_sheet, fit_row_heights, text_columns


def test_a_cjk_character_takes_two_columns():
    assert text_columns("宗地") == 4 and text_columns("GB") < 2.2


def test_rows_are_as_tall_as_their_wrapped_text():
    ws = Workbook().active
    ws.append(["短", "一二三四五六七八九十" * 3])  # 60 columns of text in a 10-wide column: 7 lines
    ws.append(["第一行\n第二行\n第三行", "x"])       # explicit line breaks count
    ws.append([None, None])
    fit_row_heights(ws, 1, 3, [10, 10])
    assert ws.row_dimensions[1].height == 15 * 7 + 3
    assert ws.row_dimensions[2].height == 15 * 3 + 3
    assert ws.row_dimensions[3].height == 15 + 3


def test_a_wide_ledger_goes_on_a3_a_narrow_one_on_a4():
    wide, narrow = Workbook().active, Workbook().active
    filing_sheet(wide, title="台账", subtitle=None, columns=[Column(f"列{i}", 12) for i in range(20)], rows=[])
    filing_sheet(narrow, title="排名", subtitle=None, columns=[Column(f"列{i}", 12) for i in range(6)], rows=[])
    assert (wide.page_setup.paperSize, narrow.page_setup.paperSize) == (8, 9)  # A3, A4 (ECMA-376 codes)
    assert wide.page_setup.orientation == "landscape" and wide.page_setup.fitToWidth == 1
