"""Campaign reports (三节: electricity, water, food) built from the consumption query.

``build_report`` computes a ``Report`` (tables and charts, see ``model``) once; ``render``
writes it as XLSX, HTML, PDF and CSV. See ``docs/reports.md``.
"""

from .build import STEPS, ReportRequest, build_report
from .errors import ReportError, ReportInputError, ReportStoreError
from .model import Chart, ChartSeries, Column, Report, Table
from .span import DateSpan, Scope, parse_scope, parse_span

__all__ = [
    "STEPS",
    "Chart",
    "ChartSeries",
    "Column",
    "DateSpan",
    "Report",
    "ReportError",
    "ReportInputError",
    "ReportRequest",
    "ReportStoreError",
    "Scope",
    "Table",
    "build_report",
    "parse_scope",
    "parse_span",
]
