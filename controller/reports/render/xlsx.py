"""XLSX: a cover sheet, one formatted sheet per table, native Excel charts next to their data.

A chart's series are written as a small block to the right of its table (some series, like the
baseline per person, are not table columns) and the chart refers to those cells, so Excel
redraws it when staff edit a figure.
"""

from __future__ import annotations

import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..model import Chart, Report, Table
from .cells import EXCEL_FORMATS

__all__ = ["write_xlsx"]

_HEAD = PatternFill("solid", fgColor="1F6E43")
_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(title: str, used: set[str]) -> str:
    base = _BAD.sub(" ", title)[:28] or "sheet"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:25]} {n}", n + 1
    used.add(name)
    return name


def _table(ws: Worksheet, table: Table, top: int) -> int:
    ws.cell(top, 1, table.title).font = Font(bold=True, size=13)
    for col, column in enumerate(table.columns, start=1):
        cell = ws.cell(top + 1, col, column.title)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = _HEAD
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        width = max(len(column.title) * (2 if not column.title.isascii() else 1) + 2, 10)
        ws.column_dimensions[get_column_letter(col)].width = min(width, 40)
    for r, row in enumerate(table.rows, start=top + 2):
        for col, (value, column) in enumerate(zip(row, table.columns, strict=True), start=1):
            written = ws.cell(r, col, value)
            if column.style in EXCEL_FORMATS and isinstance(value, int | float):
                written.number_format = EXCEL_FORMATS[column.style]
    ws.freeze_panes = f"A{top + 2}"
    end = top + 2 + len(table.rows)
    if table.note:
        ws.cell(end, 1, table.note).font = Font(italic=True, color="666666")
        end += 1
    return end


def _chart(ws: Worksheet, chart: Chart, column: int, anchor_row: int) -> None:
    ws.cell(1, column, chart.title).font = Font(italic=True)
    for i, category in enumerate(chart.categories, start=3):
        ws.cell(i, column, category)
    for s, series in enumerate(chart.series, start=1):
        ws.cell(2, column + s, series.name)
        for i, value in enumerate(series.values, start=3):
            ws.cell(i, column + s, value)
    last = 2 + len(chart.categories)
    xl = LineChart() if chart.kind == "line" else BarChart()
    xl.title = chart.title
    xl.y_axis.title = chart.unit
    xl.height, xl.width = 8, 18
    data = Reference(
        ws, min_col=column + 1, max_col=column + len(chart.series), min_row=2, max_row=last
    )
    xl.add_data(data, titles_from_data=True)
    xl.set_categories(Reference(ws, min_col=column, min_row=3, max_row=last))
    ws.add_chart(xl, f"{get_column_letter(column + len(chart.series) + 2)}{anchor_row}")


def write_xlsx(report: Report, path: Path) -> Path:
    book = Workbook()
    cover = book.active
    assert cover is not None  # a new workbook always has its first sheet
    used: set[str] = set()
    cover.title = _sheet_name(report.title[:20], used)
    cover.cell(1, 1, report.title).font = Font(bold=True, size=16)
    cover.cell(2, 1, report.subtitle)
    for i, (label, value) in enumerate(report.facts, start=4):
        cover.cell(i, 1, label).font = Font(bold=True)
        cover.cell(i, 2, value)
    cover.column_dimensions["A"].width = 22
    cover.column_dimensions["B"].width = 40
    row = 5 + len(report.facts)
    _table(cover, report.tables[0], row)
    for table in report.tables[1:]:
        ws = book.create_sheet(_sheet_name(table.title, used))
        _table(ws, table, 1)
        column = len(table.columns) + 2
        for n, chart in enumerate(report.charts_of(table.key)):
            _chart(ws, chart, column, 1 + n * 18)
            column += len(chart.series) + 12
    book.save(path)
    return path
