"""Render a ``Report`` to files: XLSX, HTML, PDF and CSV (every table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ReportInputError
from ..model import Report
from .csvfiles import write_csv
from .html import render_html, write_html, write_pdf
from .xlsx import write_xlsx

__all__ = ["FORMATS", "parse_formats", "render_html", "write_formats"]

FORMATS = ("xlsx", "pdf", "html", "csv")


def parse_formats(text: str | Sequence[str], field: str = "format") -> tuple[str, ...]:
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ReportInputError(field, f"unknown format(s) {bad or items}; use {', '.join(FORMATS)}")
    return formats


def write_formats(
    report: Report,
    folder: Path,
    stem: str,
    formats: Sequence[str],
    on_file: Callable[[str], None] = lambda _: None,
) -> list[Path]:
    """Write each format into ``folder`` as ``<stem>.<ext>`` (CSV: one file per table)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in formats:
        if fmt == "xlsx":
            written.append(write_xlsx(report, folder / f"{stem}.xlsx"))
        elif fmt == "html":
            written.append(write_html(report, folder / f"{stem}.html"))
        elif fmt == "pdf":
            written.append(write_pdf(report, folder / f"{stem}.pdf"))
        elif fmt == "csv":
            written.extend(write_csv(report, folder, stem))
        on_file(fmt)
    return written
