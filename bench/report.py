"""Time and peak memory to build a campaign report, from SQLite and from InfluxDB 1.x, against
the bare consumption queries the report needs, measured in the same run.

    .venv/bin/python bench/report.py [--rooms 10000] [--days 140] [--backends sqlite,influx]

A synthetic campus (``--rooms`` dorm rooms, one socket meter each under a main meter per
building) gets ``--days`` of hourly statistics for every meter, written straight into the
history (and, as the recorder's line protocol, into a fresh InfluxDB). The report covers the
second half of the days, with the first half as its baseline. Per backend:

* ``queries_s``: the report's own consumption queries (recorded while it builds, then replayed
  alone through the same source: same backend, same in-database day/month sums) — the floor
  the report cannot beat;
* ``hourly_fold_queries_s``: the same queries answered the old way (hourly sums from the
  backend, folded in Python; ``hourly_fold=True``), once, for comparison (``null`` with
  ``--no-fold``: at semester size the old way takes many times the report);
* ``report_s``: ``build_report`` end to end (queries plus every table and chart), and
  ``report_over_queries``; medians of ``--runs`` alternating runs after one warm-up build;
* ``peak_mb``: tracemalloc's peak during a second build (Python allocations, not the
  database's; traced separately because tracing slows the build severalfold);
* ``render_s``: writing XLSX, HTML and CSV (and PDF with ``--pdf``) from the built report.

Prints one JSON object. The full semester (10,000 rooms × 140 days = 34 M hourly rows) takes a
while to write; use small figures for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import zoneinfo
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.config import LoadedSite  # noqa: E402
from controller.core.registry import EntityRegistry  # noqa: E402
from controller.recorder import (  # noqa: E402
    History,
    HistoryConsumption,
    HourStat,
    InfluxV1Consumption,
)
from controller.recorder.lineproto import LineFormatter  # noqa: E402
from controller.recorder.query import (  # noqa: E402
    ConsumptionQuery,
    ConsumptionRow,
    ConsumptionSource,
)
from controller.reports import DateSpan, ReportRequest, build_report  # noqa: E402
from controller.reports.render import write_formats  # noqa: E402
from tests.recorder.sites import make_site  # noqa: E402
from tests.servers import InfluxServer  # noqa: E402

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
FIRST = dt.date(2026, 9, 1)


def note(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


class Recording:
    """A consumption source that remembers the queries it answered."""

    def __init__(self, inner: ConsumptionSource) -> None:
        self.inner = inner
        self.queries: list[ConsumptionQuery] = []

    async def consumption(self, query: ConsumptionQuery) -> list[ConsumptionRow]:
        self.queries.append(query)
        return await self.inner.consumption(query)


def _hours(site: LoadedSite, days: int) -> list[list[HourStat]]:
    """Per day, an hour stat for every consumption counter (room meters and main meters)."""
    registry = EntityRegistry.from_site(site)
    counters = [
        e.entity_id for e in registry if e.is_cumulative and e.kind.value == "active_energy"
    ]
    rng = random.Random(1)
    start = dt.datetime.combine(FIRST, dt.time(), TZ).timestamp()
    out = []
    for day in range(days):
        base = start + day * 86400
        out.append(
            [
                HourStat(entity, base + h * 3600, round(rng.uniform(0, 0.4), 3))
                for h in range(24)
                for entity in counters
            ]
        )
    return out


def _fill(site: LoadedSite, folder: Path, days: int, influx: tuple[str, str] | None) -> int:
    formatter = LineFormatter(EntityRegistry.from_site(site))
    history = History(folder / "history.sqlite3", formatter.keys)
    rows = 0
    client = httpx.Client(base_url=influx[0], timeout=120) if influx else None
    try:
        if client is not None and influx is not None:
            client.post("/query", params={"q": f'CREATE DATABASE "{influx[1]}"'})
        for hours in _hours(site, days):
            history.commit(hours=hours)
            rows += len(hours)
            if client is not None and influx is not None:
                lines = [
                    formatter.consumption(h.entity_id, h.hour, h.consumption, 0.0) for h in hours
                ]
                body = "\n".join(line for line in lines if line)
                client.post(
                    "/write", params={"db": influx[1], "precision": "ms"}, content=body.encode()
                ).raise_for_status()
    finally:
        history.close()
        if client is not None:
            client.close()
    return rows


async def _bare(source: ConsumptionSource, queries: list[ConsumptionQuery]) -> tuple[float, int]:
    t0 = time.perf_counter()
    rows = 0
    for query in queries:
        rows += len(await source.consumption(query))
    return time.perf_counter() - t0, rows


async def _measure(
    site: LoadedSite,
    source: ConsumptionSource,
    fold: ConsumptionSource | None,
    request: ReportRequest,
    out: Path,
    *,
    pdf: bool,
    runs: int,
) -> dict[str, Any]:
    recording = Recording(source)
    report = await build_report(site, recording, request)  # also warms the database's caches
    bare_s, report_s = [], []
    rows = 0
    for _ in range(runs):  # alternating, so drift on a shared machine hits both alike
        elapsed, rows = await _bare(source, recording.queries)
        bare_s.append(elapsed)
        t0 = time.perf_counter()
        report = await build_report(site, source, request)
        report_s.append(time.perf_counter() - t0)
    # the peak from a separate, traced build: tracemalloc slows allocation-heavy code severalfold
    tracemalloc.start()
    await build_report(site, source, request)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t0 = time.perf_counter()
    formats = ["xlsx", "html", "csv", *(["pdf"] if pdf else [])]
    await asyncio.to_thread(write_formats, report, out, "bench", formats)
    render_s = time.perf_counter() - t0
    fold_s = None if fold is None else round((await _bare(fold, recording.queries))[0], 3)
    queries = statistics.median(bare_s)
    built = statistics.median(report_s)
    return {
        "queries": len(recording.queries),
        "query_rows": rows,
        "queries_s": round(queries, 3),
        "report_s": round(built, 3),
        "report_over_queries": round(built / queries, 2) if queries else None,
        "hourly_fold_queries_s": fold_s,
        "peak_mb": round(peak / 2**20, 1),
        "render_s": round(render_s, 3),
        "rooms_in_report": len(report.table("rooms").rows),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=140)
    parser.add_argument("--buildings", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,influx")
    parser.add_argument("--runs", type=int, default=3, help="Alternating runs (medians).")
    parser.add_argument(
        "--pdf", action="store_true", help="Also render the PDF (slow for big campuses)."
    )
    parser.add_argument(
        "--no-fold",
        action="store_true",
        help="Skip the old hourly-fold comparison (hours from InfluxDB at semester size).",
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    half = args.days // 2
    request = ReportRequest(
        DateSpan(FIRST + dt.timedelta(days=half), FIRST + dt.timedelta(days=args.days - 1)),
        baseline=DateSpan(FIRST, FIRST + dt.timedelta(days=half - 1)),
    )
    result: dict[str, Any] = {"rooms": args.rooms, "days": args.days, "buildings": args.buildings}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site = make_site(folder / "site", args.rooms, buildings=args.buildings, main_meters=True)
        influx_server = None
        try:
            influx = None
            if "influx" in backends:
                influx_server = InfluxServer(folder / "influx")
                influx_server.start()
                influx = (influx_server.url, "bench")
            note(f"writing {args.days} days of hourly statistics for {len(site.devices)} meters")
            t0 = time.perf_counter()
            result["hourly_rows"] = _fill(site, folder, args.days, influx)
            result["fill_s"] = round(time.perf_counter() - t0, 1)
            if "sqlite" in backends:
                note("report from SQLite")
                async with HistoryConsumption.open(folder / "history.sqlite3", TZ) as source:
                    fold = source.folding_hours()
                    result["sqlite"] = await _measure(
                        site,
                        source,
                        None if args.no_fold else fold,
                        request,
                        folder / "out-sqlite",
                        pdf=args.pdf,
                        runs=args.runs,
                    )
            if influx is not None:
                note("report from InfluxDB")
                async with (
                    InfluxV1Consumption(influx[0], influx[1], TZ, timeout=600) as source,
                    InfluxV1Consumption(
                        influx[0], influx[1], TZ, timeout=600, hourly_fold=True
                    ) as fold_influx,
                ):
                    result["influx"] = await _measure(
                        site,
                        source,
                        None if args.no_fold else fold_influx,
                        request,
                        folder / "out-influx",
                        pdf=args.pdf,
                        runs=args.runs,
                    )
        finally:
            if influx_server is not None:
                influx_server.stop()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
