"""The report as data: tables and charts built once, then rendered to every format.

Every figure a format shows comes from here, so an XLSX cell, a PDF table and a CSV line can
never disagree. Titles and headers are already in the report's language; numbers stay numbers
(formats decide how to print them from the column's ``style``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Cell", "Chart", "ChartSeries", "Column", "Report", "Table"]

Cell = str | int | float | None
Style = Literal["text", "int", "num1", "num2", "num3", "pct", "share"]
"""``pct`` is a signed change (+3.0 %), ``share`` a plain rate or share (75.0 %)."""


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    style: Style = "num1"


@dataclass(slots=True)
class Table:
    """One table: ``key`` names its CSV file and XLSX sheet, ``title`` its heading."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    note: str = ""

    def column(self, index: int) -> list[Cell]:
        return [row[index] for row in self.rows]


@dataclass(frozen=True, slots=True)
class ChartSeries:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart over one table's rows: ``categories`` label the x axis."""

    key: str
    title: str
    kind: Literal["line", "bar"]
    table: str
    categories: tuple[str, ...]
    series: tuple[ChartSeries, ...]
    unit: str = ""


@dataclass(slots=True)
class Report:
    """A finished report: what it covers, its headline figures, tables and charts."""

    language: str
    title: str
    subtitle: str
    generated_at: dt.datetime
    facts: list[tuple[str, str]]
    """(label, value) lines under the title: period, baseline, scope, occupants, days."""
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    """(heading, table keys) in reading order."""

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)

    def charts_of(self, table_key: str) -> list[Chart]:
        return [chart for chart in self.charts if chart.table == table_key]
