"""How a cell prints, from its column's style (shared by HTML, PDF and chart labels)."""

from __future__ import annotations

from ..model import Cell, Column

__all__ = ["EXCEL_FORMATS", "show"]

EXCEL_FORMATS = {
    "int": "#,##0",
    "num1": "#,##0.0",
    "num2": "#,##0.00",
    "num3": "#,##0.000",
    "pct": "+0.0%;-0.0%;0.0%",
    "share": "0.0%",
}


def show(value: Cell, column: Column) -> str:
    if value is None:
        return "—"
    if isinstance(value, str) or column.style == "text":
        return str(value)
    if column.style == "int":
        return f"{round(value):,d}"
    if column.style == "pct":
        shown = round(value, 3) + 0.0  # no "-0.0%"
        return f"{shown:+.1%}" if shown else "0.0%"
    if column.style == "share":
        return f"{value:.1%}"
    digits = {"num1": 1, "num2": 2, "num3": 3}[column.style]
    return f"{value:,.{digits}f}"
