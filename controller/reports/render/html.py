"""Printable HTML (ECharts, inlined from the vendored copy) and PDF (WeasyPrint, SVG charts).

One template serves both: the HTML file carries ECharts inline, so it opens offline and prints
from any browser; the PDF gets the same page with static SVG charts, since WeasyPrint runs no
JavaScript, and Noto Sans CJK (Debian ``fonts-noto-cjk``), which WeasyPrint embeds as a subset.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jinja2

from ..i18n import text
from ..model import Report
from .cells import show
from .svg import chart_svg

__all__ = ["MAX_PRINTED_ROWS", "render_html", "write_html", "write_pdf"]

_HERE = Path(__file__).resolve().parent.parent
ECHARTS = _HERE.parent / "static" / "vendor" / "echarts" / "echarts.min.js"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["show"] = show
    return env


def _chart_options(report: Report) -> str:
    charts = {
        chart.key: {
            "title": chart.title,
            "kind": chart.kind,
            "unit": chart.unit,
            "categories": list(chart.categories),
            "series": [{"name": s.name, "values": list(s.values)} for s in chart.series],
        }
        for chart in report.charts
    }
    # '</' cannot end the script element early once escaped
    return json.dumps(charts, ensure_ascii=False).replace("</", "<\\/")


MAX_PRINTED_ROWS = 300
"""Rows of one table on paper and in the page; the XLSX and CSV files keep every row (a
10,000-room campus would otherwise print a 250-page room list nobody reads)."""


def render_html(report: Report, *, for_pdf: bool = False) -> str:
    template = _environment().get_template("report.html")
    return template.render(
        max_rows=MAX_PRINTED_ROWS,
        cut_note=text("cut_rows", report.language),
        report=report,
        tables={t.key: t for t in report.tables},
        for_pdf=for_pdf,
        svg={c.key: chart_svg(c) for c in report.charts} if for_pdf else {},
        echarts=None if for_pdf else ECHARTS.read_text(encoding="utf-8"),
        chart_data=None if for_pdf else _chart_options(report),
    )


def write_html(report: Report, path: Path) -> Path:
    path.write_text(render_html(report), encoding="utf-8")
    return path


def write_pdf(report: Report, path: Path) -> Path:
    import weasyprint

    weasyprint.HTML(string=render_html(report, for_pdf=True)).write_pdf(path)
    return path
