"""One call from a request to files: open the stores, build the report, write the formats."""

from __future__ import annotations

import asyncio
import zoneinfo
from collections.abc import Callable, Sequence
from pathlib import Path

from controller.config import LoadedSite

from .build import STEPS, ReportRequest, baseline_of, build_report
from .model import Report
from .render import write_formats
from .sources import SiteStores, open_stores
from .workorder_tables import add_workorders

__all__ = ["generate", "generate_from", "report_stem", "total_steps"]


def report_stem(request: ReportRequest) -> str:
    scope = request.scope.text.replace(":", "-").replace("/", "-")
    return (
        f"report-{request.span.first:%Y%m%d}-{request.span.last:%Y%m%d}-{scope}-{request.language}"
    )


def total_steps(formats: Sequence[str]) -> int:
    return STEPS + 1 + len(formats)


async def generate(
    site: LoadedSite,
    data_dir: Path,
    request: ReportRequest,
    *,
    formats: Sequence[str],
    out_dir: Path,
    on_step: Callable[[str], None] = lambda _: None,
) -> tuple[Report, list[Path]]:
    """Build the report from the site's stores under ``data_dir``; files go to ``out_dir``."""
    async with open_stores(site, data_dir) as stores:
        return await generate_from(
            site, stores, request, formats=formats, out_dir=out_dir, on_step=on_step
        )


async def generate_from(
    site: LoadedSite,
    stores: SiteStores,
    request: ReportRequest,
    *,
    formats: Sequence[str],
    out_dir: Path,
    on_step: Callable[[str], None] = lambda _: None,
) -> tuple[Report, list[Path]]:
    """Build the report from open ``stores``; files go to ``out_dir``."""
    tz = zoneinfo.ZoneInfo(site.campus.timezone)
    start, end = request.span.bounds(tz)
    audit = await stores.audit(start.timestamp(), end.timestamp())
    events = await stores.meter_events(start.timestamp(), end.timestamp())
    billing = await stores.billing(start.timestamp(), end.timestamp(), request.scope, audit)
    base = baseline_of(request, site)
    diners = await stores.diner_counts(
        min(request.span.first, base.first), max(request.span.last, base.last)
    )
    on_step("stores")
    report = await build_report(
        site,
        stores.source,
        request,
        audit=audit,
        meter_events=events,
        diners=diners,
        billing=billing,
        on_step=on_step,
    )
    await asyncio.to_thread(
        add_workorders, report, site, stores.audit_path.parent / "workorders.sqlite3", request, tz
    )
    # rendering (WeasyPrint above all) is CPU work: off the event loop, so an API stays live
    files = await asyncio.to_thread(
        write_formats, report, out_dir, report_stem(request), formats, on_step
    )
    return report, files
