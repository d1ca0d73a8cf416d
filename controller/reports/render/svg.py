"""Small SVG line and bar charts for the PDF, where no JavaScript runs (WeasyPrint).

The printable HTML draws the same ``Chart`` with ECharts; this draws it as static vectors with
axes, a few ticks and a legend, which print sharply at any size.
"""

from __future__ import annotations

import math
from html import escape

from ..model import Chart

__all__ = ["chart_svg"]

W, H = 680.0, 250.0
LEFT, RIGHT, TOP, BOTTOM = 60.0, 16.0, 30.0, 44.0
COLOURS = ("#1f6e43", "#c0504d", "#4f81bd", "#f79646")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.2g}"


def _clip(label: str, width: float) -> str:
    """As much of ``label`` as fits ``width`` px at 11 px (a CJK glyph counts as two Latin)."""
    budget, used = width / 6.5, 0.0
    for i, char in enumerate(label):
        used += 2.0 if ord(char) > 0x2E80 else 1.0
        if used > budget:
            return label[:i]
    return label


def chart_svg(chart: Chart) -> str:
    values = [v for s in chart.series for v in s.values if v is not None]
    top = _nice_max(max(values, default=0.0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(chart.categories), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W:.0f} {H:.0f}" '
        f'width="100%" font-size="11">',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(chart.title)}'
        f"{f' ({escape(chart.unit)})' if chart.unit else ''}</text>",
    ]
    for i in range(5):
        y = TOP + plot_h * (1 - i / 4)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(top * i / 4)}</text>'
        )
    label_every = max(1, math.ceil(n / 12))
    slot = plot_w * label_every / n
    for i, category in enumerate(chart.categories):
        if i % label_every == 0:
            x = LEFT + plot_w * (i + 0.5) / n
            out.append(
                f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(_clip(category, slot))}</text>"
            )
    series_count = max(len(chart.series), 1)
    for s, series in enumerate(chart.series):
        colour = COLOURS[s % len(COLOURS)]
        if chart.kind == "line":
            points = [
                f"{LEFT + plot_w * (i + 0.5) / n:.1f},{TOP + plot_h * (1 - v / top):.1f}"
                for i, v in enumerate(series.values)
                if v is not None
            ]
            if points:
                out.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                    f'points="{" ".join(points)}"/>'
                )
        else:
            slot = plot_w / n
            bar = slot * 0.7 / series_count
            for i, v in enumerate(series.values):
                if v is None:
                    continue
                height = plot_h * v / top
                x = LEFT + slot * i + slot * 0.15 + bar * s
                out.append(
                    f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar:.1f}" '
                    f'height="{height:.1f}" fill="{colour}"/>'
                )
        lx = LEFT + 8 + s * 150
        out.append(f'<rect x="{lx}" y="{H - 14}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{lx + 14}" y="{H - 5}">{escape(series.name)}</text>')
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    out.append("</svg>")
    return "".join(out)
