"""CSV: one file per table, UTF-8 with a byte-order mark so Excel shows the Chinese headers."""

from __future__ import annotations

import csv
from pathlib import Path

from ..model import Report

__all__ = ["write_csv"]


def write_csv(report: Report, folder: Path, stem: str) -> list[Path]:
    """``<stem>-<table>.csv`` for every table; numbers unformatted (rounded to 1e-6)."""
    written = []
    for table in report.tables:
        path = folder / f"{stem}-{table.key}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([c.title for c in table.columns])
            for row in table.rows:
                writer.writerow(
                    ["" if v is None else round(v, 6) if isinstance(v, float) else v for v in row]
                )
        written.append(path)
    return written
