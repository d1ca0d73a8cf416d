"""The campaign report's work-order table, numbers worked out by hand from a scripted week."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

from controller.core import FakeClock
from controller.reports.model import Report
from controller.reports.request import ReportRequest
from controller.reports.span import DateSpan, Scope
from controller.reports.workorder_tables import add_workorders
from controller.workorders import Category, WorkOrders, WorkOrderStore

from ..alarms.campus import example_site

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
H = 3600.0


def _orders(path: Path) -> None:
    """Week of 2026-03-02: water SLA 4 h, electricity 2 h."""
    clock = FakeClock(MONDAY)
    orders = WorkOrders(
        WorkOrderStore(path),
        clock,
        sla_s={Category.WATER: 4 * H, Category.ELECTRICITY: 2 * H},
        places={"dorm-1/101", "dorm-1/102", "dorm-2/101"},
    )
    t0 = clock.time()

    def at(hours: float) -> None:
        clock.set(t0 + hours * H)

    a = orders.open("dorm-1/101", Category.WATER, "漏水", actor="op")  # 0 h
    b = orders.open("dorm-1/102", Category.WATER, "滴水", actor="op")  # 0 h
    c = orders.open("dorm-2/101", Category.ELECTRICITY, "跳闸", actor="op")  # 0 h
    at(1)
    orders.assign(a.id, "li", actor="op")
    orders.start(a.id, actor="li")
    at(3)
    orders.done(a.id, actor="li", note="ok")  # done at 3 h: within 4 h
    at(5)
    orders.close(a.id, actor="op", note="ok")  # closed after 5 h
    orders.assign(c.id, "li", actor="op")
    orders.start(c.id, actor="li")
    at(6)
    orders.done(c.id, actor="li", note="ok")  # done at 6 h: past 2 h
    at(8)
    orders.close(c.id, actor="op", note="ok")  # closed after 8 h
    at(24 * 10)  # the next week: an order outside the period
    orders.open("dorm-1/101", Category.OTHER, "门锁", actor="op")
    del b  # never finished: past its 4 h SLA at the end of the week
    orders.store.close()


def _report(tmp: Path, scope: Scope, lang: str = "en") -> Report:
    site = example_site(tmp, "\nworkorders:\n  sla_s: {water: 14400, electricity: 7200}\n")
    store = tmp / "var" / "workorders.sqlite3"
    store.parent.mkdir(exist_ok=True)
    if not store.exists():
        _orders(store)
    report = Report(language=lang, title="t", subtitle="s", generated_at=MONDAY, facts=[])
    report.sections = [("alarms", ["alarms"])]
    span = DateSpan(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    add_workorders(report, site, store, ReportRequest(span, scope, lang), TZ)
    return report


def test_campus_figures_per_category(tmp_path: Path) -> None:
    report = _report(tmp_path, Scope())
    table = report.table("workorders")
    assert table.rows == [
        ("Electricity", 1, 1, 8.0, 1),
        ("Water", 2, 1, 5.0, 1),
        ("Total", 3, 2, 6.5, 2),
    ]
    assert report.sections == [("alarms", ["alarms", "workorders"])]


def test_building_scope_and_chinese_labels(tmp_path: Path) -> None:
    report = _report(tmp_path, Scope("building", "dorm-1"), "zh")
    assert report.table("workorders").rows == [("水", 2, 1, 5.0, 1), ("合计", 2, 1, 5.0, 1)]


def test_no_table_without_work_orders(tmp_path: Path) -> None:
    site = example_site(tmp_path, "")
    report = Report(language="en", title="t", subtitle="s", generated_at=MONDAY, facts=[])
    span = DateSpan(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    add_workorders(report, site, tmp_path / "none.sqlite3", ReportRequest(span), TZ)
    assert report.tables == []
