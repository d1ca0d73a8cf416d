"""The report's work-order table: repair orders (网上报修) per category in the period.

Read from the work-order store the alarm service keeps (``workorders.sqlite3`` beside the audit
log), so a report run from the command line while the service runs sees the same orders (SQLite
WAL, read-only use). An order counts in the period it was *opened* in; "past SLA" counts the
orders of the period that stayed open (not done or closed) longer than their category's
``workorders.sla_s`` — at the end of the period, or when they were finished.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from pathlib import Path

from controller.config import LoadedSite
from controller.workorders import Status, WorkOrder, WorkOrderStore

from .i18n import named
from .model import Column, Report, Table
from .request import ReportRequest
from .span import Scope

__all__ = ["add_workorders", "workorder_table"]

_TEXT: dict[str, tuple[str, str]] = {
    "t_workorders": ("报修工单", "Repair work orders"),
    "category": ("类别", "Category"),
    "opened": ("报修数", "Opened"),
    "closed": ("已关闭", "Closed"),
    "hours": ("平均关闭用时 h", "Mean hours to close"),
    "late": ("超时未完成", "Open past SLA"),
    "total": ("合计", "Total"),
    "electricity": ("电", "Electricity"),
    "water": ("水", "Water"),
    "ac": ("空调", "AC"),
    "valve": ("阀门", "Valve"),
    "other": ("其他", "Other"),
}


def _t(key: str, lang: str) -> str:
    return named(_TEXT, key, lang)


def _finished_at(order: WorkOrder) -> float | None:
    """When the order was done (or closed without being done first): its history's first."""
    for change in order.history:
        if change.action in (Status.DONE, Status.CLOSED):
            return change.ts
    return order.closed_at


def _in_scope(site: LoadedSite, scope: Scope, place: str) -> bool:
    building, _, spot = place.partition("/")
    floor = None
    if building in site.buildings:
        floor = next((r.floor for r in site.buildings[building].rooms if r.id == spot), None)
    return scope.holds(building, floor, spot or None)


def workorder_table(
    orders: Iterable[WorkOrder],
    *,
    site: LoadedSite,
    scope: Scope,
    start: float,
    end: float,
    sla_s: Mapping[str, float],
    lang: str,
) -> Table:
    """Per category: opened, closed, mean hours from opening to closing, open past SLA."""
    table = Table(
        "workorders",
        _t("t_workorders", lang),
        (
            Column(_t("category", lang), "text"),
            Column(_t("opened", lang), "int"),
            Column(_t("closed", lang), "int"),
            Column(_t("hours", lang), "num1"),
            Column(_t("late", lang), "int"),
        ),
    )
    figures: dict[str, list[float]] = {}  # category → [opened, closed, hours, late]
    for order in orders:
        if not start <= order.opened_at < end or not _in_scope(site, scope, order.room):
            continue
        fig = figures.setdefault(str(order.category), [0, 0, 0.0, 0])
        fig[0] += 1
        if order.closed_at is not None and order.closed_at < end:
            fig[1] += 1
            fig[2] += (order.closed_at - order.opened_at) / 3600
        sla = sla_s.get(str(order.category))
        finished = _finished_at(order)
        open_until = end if finished is None or finished >= end else finished
        if sla is not None and open_until - order.opened_at > sla:
            fig[3] += 1
    total = [0, 0, 0.0, 0]
    for category in sorted(figures):
        opened, closed, hours, late = figures[category]
        label = _t(category, lang)
        table.rows.append(
            (label, int(opened), int(closed), hours / closed if closed else None, int(late))
        )
        total = [a + b for a, b in zip(total, figures[category], strict=True)]
    if figures:
        opened, closed, hours, late = total
        table.rows.append(
            (
                _t("total", lang),
                int(opened),
                int(closed),
                hours / closed if closed else None,
                int(late),
            )
        )
    return table


def add_workorders(
    report: Report,
    site: LoadedSite,
    store_path: Path,
    request: ReportRequest,
    tz: zoneinfo.ZoneInfo,
) -> None:
    """Add the table to ``report`` (in its alarms section) when the site keeps work orders."""
    if site.workorders is None or not store_path.exists():
        return
    store = WorkOrderStore(store_path)
    try:
        orders = store.list()
    finally:
        store.close()
    start, end = request.span.bounds(tz)
    table = workorder_table(
        orders,
        site=site,
        scope=request.scope,
        start=start.timestamp(),
        end=end.timestamp(),
        sla_s={str(k): v for k, v in site.workorders.sla_s.items()},
        lang=request.language,
    )
    report.tables.append(table)
    for _, keys in report.sections:
        if "alarms" in keys:
            keys.append(table.key)
            return
    report.sections.append((table.title, [table.key]))
