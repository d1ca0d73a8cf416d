""" "What the policies did" for water, against hand-worked numbers: leaks closed (rate × time
closed) from a real audit log, and valve presses / litres per press from a real SQLite history
holding hand-written hours."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.audit import AuditLog
from controller.config import LoadedSite, load_site
from controller.core import FakeClock
from controller.core.events import AlarmRaised, CommandCompleted
from controller.core.registry import EntityRegistry
from controller.recorder import History, HistoryConsumption
from controller.recorder.lineproto import LineFormatter
from controller.recorder.stats import HourStat
from controller.reports import ReportRequest, Scope, build_report, parse_span
from controller.reports.model import Report

from .seed import TZ


def _site(folder: Path) -> LoadedSite:
    valves: list[dict[str, Any]] = [
        {
            "id": f"canteen-1.handwash.v{n}",
            "profile": "generic/delay-valve",
            "building": "canteen-1",
            "area": "handwash",
            "link": "gw",
            "unit_id": 10 + n,
            "circuit": "cold_water",
        }
        for n in (1, 2)
    ]
    rooms = [
        {
            "id": f"dorm-1.{room}.cold",
            "profile": "xintai/water-meter-valve",
            "building": "dorm-1",
            "room": room,
            "link": "gw",
            "unit_id": unit,
            "circuit": "cold_water",
        }
        for unit, room in ((1, "101"), (2, "102"))
    ]
    document = {
        "campus": {"id": "w", "name": {"zh": "水", "en": "Water"}},
        "buildings": [
            {
                "id": "dorm-1",
                "kind": "dorm",
                "name": {"zh": "1号楼", "en": "Dorm 1"},
                "floors": 1,
                "rooms": [{"id": r, "floor": 1, "occupants": 4} for r in ("101", "102")],
            },
            {
                "id": "canteen-1",
                "kind": "canteen",
                "name": {"zh": "第一食堂", "en": "Canteen 1"},
                "areas": [{"id": "handwash", "name": {"zh": "洗手区", "en": "Hand-wash row"}}],
            },
        ],
        "links": [{"id": "gw", "type": "modbus_tcp", "host": "127.0.0.1", "port": 1502}],
        "devices": [*rooms, *valves],
        "policies": [
            {"id": "leak-watch", "type": "leak", "threshold_lpm": 5, "duration_min": 30},
            {"id": "night-use", "type": "night_leak"},
        ],
        "reports": {"baseline": {"start": "2026-10-01", "end": "2026-10-07"}},
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_site(path)


def _at(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ).timestamp()


def _audit(path: Path) -> None:
    """Two leaks: a flow leak closed 02:00–04:30 at 6 L/min, and a night-use leak (36 L in its
    last hour) closed on 3 November at 04:00 and never reopened."""
    log = AuditLog(path, FakeClock(_at(1, 0)))
    flow_valve, night_valve = "dorm-1.101.cold.valve", "dorm-1.102.cold.valve"
    events = [
        AlarmRaised(
            "leak-watch:leak:dorm-1.101.cold", "critical", "漏水", "leak", _at(2, 2),
            "dorm-1.101.cold.flow", {"flow_lpm": 6.0, "valve": flow_valve}, "leak",
        ),
        CommandCompleted(flow_valve, "closed", True, "policy:leak-watch", "leak", _at(2, 2)),
        CommandCompleted(flow_valve, "open", True, "operator:wang", "fixed", _at(2, 4, 30)),
        CommandCompleted(night_valve, "closed", True, "policy:night-use", "leak", _at(3, 4)),
        AlarmRaised(
            "night-use:leak:dorm-1.102.cold", "critical", "漏水", "leak", _at(3, 4, 1),
            "dorm-1.102.cold.volume", {"litres_per_hour": [30.0, 36.0], "valve": night_valve},
            "leak",
        ),
    ]  # fmt: skip
    try:
        for event in events:
            log.record_event(event)
    finally:
        log.close()


HOURS = [
    # period: 150 presses, 125 L at noon on 2 November
    ("canteen-1.handwash.v1.presses", _at(2, 12), 100.0),
    ("canteen-1.handwash.v1.volume", _at(2, 12), 0.080),
    ("canteen-1.handwash.v2.presses", _at(2, 12), 50.0),
    ("canteen-1.handwash.v2.volume", _at(2, 12), 0.045),
    # baseline: 100 presses, 120 L on 5 October
    ("canteen-1.handwash.v1.presses", _at(5, 12, month=10), 100.0),
    ("canteen-1.handwash.v1.volume", _at(5, 12, month=10), 0.120),
]


async def _report(tmp_path: Path) -> Report:
    site = _site(tmp_path)
    (tmp_path / "var").mkdir()
    _audit(tmp_path / "var" / "audit.sqlite3")
    history_path = tmp_path / site.sinks.history.path
    history = History(history_path, LineFormatter(EntityRegistry.from_site(site)).keys)
    try:
        history.commit(hours=[HourStat(e, hour, value) for e, hour, value in HOURS])
    finally:
        history.close()
    request = ReportRequest(parse_span("2026-11-01..2026-11-15"), Scope())
    log = AuditLog(tmp_path / "var" / "audit.sqlite3", FakeClock(_at(16, 0)))
    try:
        start, end = request.span.bounds(TZ)
        audit = list(log.between(start.timestamp(), end.timestamp(), ("command", "alarm.raise")))
    finally:
        log.close()
    async with HistoryConsumption.open(history_path, TZ) as source:
        return await build_report(site, source, request, audit=audit)


async def test_leaks_closed_and_water_saved(tmp_path: Path) -> None:
    report = await _report(tmp_path)
    rows: list[tuple[object, ...]] = list(report.table("leaks").rows)
    assert rows[0] == ("dorm-1.101.cold", "2026-11-02 02:00", "2026-11-02 04:30", 6.0,
                       pytest.approx(2.5), pytest.approx(0.9))  # fmt: skip
    # 3 Nov 04:00 → 16 Nov 00:00 is 308 h; 36 L/h is 0.6 L/min: 0.6 × 60 × 308 = 11,088 L
    assert rows[1] == ("dorm-1.102.cold", "2026-11-03 04:00", "报告期末仍关闭", 0.6,
                       pytest.approx(308), pytest.approx(11.088))  # fmt: skip
    assert rows[2][4:] == (pytest.approx(310.5), pytest.approx(11.988))
    assert "上限估计" in report.table("leaks").note
    details = {r[0]: r[3] for r in report.table("policies").rows}
    assert details["漏水关阀"] == "关阀次数: 1, 节约量 0.900 m³"
    assert details["夜间漏水关阀"] == "关阀次数: 1, 节约量 11.088 m³"
    # alarms counted by their kind, not by the policy that raised them
    assert [row[:3] for row in report.table("alarms").rows] == [("leak", "critical", 2)]


async def test_valve_presses_and_litres_per_press(tmp_path: Path) -> None:
    report = await _report(tmp_path)
    [row] = report.table("valves").rows
    got: tuple[object, ...] = row
    # (80 + 45) L / (100 + 50) presses = 0.833 L; baseline 120 L / 100 = 1.2 L; −30.6 %
    assert got == ("第一食堂", "洗手区", 2, 150, pytest.approx(125.0), pytest.approx(125 / 150),
                   pytest.approx(1.2), pytest.approx((125 / 150) / 1.2 - 1))  # fmt: skip
    section = dict(report.sections)["八、策略执行情况"]
    assert section == ["policies", "leaks", "valves"]
