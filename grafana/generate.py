"""Write sanjie's Grafana dashboards (JSON) from one description.

Run ``python grafana/generate.py`` after changing a panel; a test checks the committed JSON is
what this script writes, and runs every query against a real InfluxDB fed by the recorder.
Queries are InfluxQL over the recorder's schema (see docs/recorder.md): one measurement per
point kind with a ``value`` field, and ``consumption_hourly`` with ``consumption``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "influxdb", "uid": "sanjie-influx"}
HERE = Path(__file__).resolve().parent


def _target(query: str, ref: str = "A", alias: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": DATASOURCE,
        "refId": ref,
        "query": query,
        "rawQuery": True,
        "resultFormat": "time_series",
    }
    if alias:
        target["alias"] = alias
    return target


def _panel(
    pid: int,
    title: str,
    kind: str,
    queries: list[str],
    grid: tuple[int, int, int, int],
    *,
    unit: str = "none",
    alias: str | None = None,
    table: bool = False,
) -> dict[str, Any]:
    x, y, w, h = grid
    targets = [_target(q, chr(ord("A") + i), alias) for i, q in enumerate(queries)]
    if table:
        for t in targets:
            t["resultFormat"] = "table"
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["sanjie", "三节"],
        "timezone": "Asia/Shanghai",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": variables},
        "panels": panels,
        "annotations": {"list": []},
    }


_CONS = (
    'FROM "consumption_hourly" WHERE "kind" = \'{kind}\' '
    'AND "building" =~ /^$building$/ AND $timeFilter'
)


def campus_overview() -> dict[str, Any]:
    """Consumption per building, hourly curves, and what the recorder held out."""
    elec = _CONS.format(kind="active_energy")
    water = _CONS.format(kind="water_volume")
    panels = [
        _panel(
            1,
            "用电量（按楼宇） Electricity by building",
            "barchart",
            [f'SELECT sum("consumption") {elec} GROUP BY "building"'],
            (0, 0, 12, 8),
            unit="kwatth",
            table=True,
        ),
        _panel(
            2,
            "用水量（按楼宇） Water by building",
            "barchart",
            [f'SELECT sum("consumption") {water} GROUP BY "building"'],
            (12, 0, 12, 8),
            unit="m3",
            table=True,
        ),
        _panel(
            3,
            "逐时用电 Hourly electricity",
            "timeseries",
            [f'SELECT sum("consumption") {elec} GROUP BY time(1h), "building" fill(0)'],
            (0, 8, 12, 9),
            unit="kwatth",
            alias="$tag_building",
        ),
        _panel(
            4,
            "逐时用水 Hourly water",
            "timeseries",
            [f'SELECT sum("consumption") {water} GROUP BY time(1h), "building" fill(0)'],
            (12, 8, 12, 9),
            unit="m3",
            alias="$tag_building",
        ),
        _panel(
            5,
            "分项用电 Electricity by circuit",
            "piechart",
            [f'SELECT sum("consumption") {elec} GROUP BY "circuit"'],
            (0, 17, 8, 8),
            unit="kwatth",
            alias="$tag_circuit",
        ),
        _panel(
            6,
            "热水用量 Hot water",
            "stat",
            [
                'SELECT sum("consumption") FROM "consumption_hourly" WHERE "kind" = '
                "'water_volume' AND \"circuit\" = 'hot_water' AND \"building\" =~ /^$building$/ "
                "AND $timeFilter"
            ],
            (8, 17, 8, 8),
            unit="m3",
        ),
        _panel(
            7,
            "剔除的异常读数 Held-out jumps",
            "stat",
            [
                'SELECT sum("held_out") FROM "consumption_hourly" WHERE "building" =~ '
                "/^$building$/ AND $timeFilter"
            ],
            (16, 17, 8, 8),
        ),
    ]
    variables = [
        _variable(
            "building",
            "楼宇 Building",
            'SHOW TAG VALUES FROM "consumption_hourly" WITH KEY = "building"',
        )
    ]
    return _dashboard("sanjie-campus", "三节 · 校园能耗总览 Campus overview", panels, variables)


def dorm_rooms() -> dict[str, Any]:
    """Room-level view: socket power, AC setpoints and room temperatures, top consumers."""
    where = '"building" =~ /^$building$/ AND $timeFilter'
    panels = [
        _panel(
            1,
            "插座功率 Socket power by room",
            "timeseries",
            [
                'SELECT mean("value") FROM "active_power" WHERE "circuit" = \'sockets\' '
                f'AND {where} GROUP BY time($__interval), "room" fill(none)'
            ],
            (0, 0, 24, 9),
            unit="watt",
            alias="$tag_room",
        ),
        _panel(
            2,
            "房间用电排名 Top rooms (electricity)",
            "table",
            [
                'SELECT top("total", "room", 20) FROM (SELECT sum("consumption") AS "total" '
                'FROM "consumption_hourly" WHERE "kind" = \'active_energy\' AND "circuit" = '
                f"'sockets' AND {where} GROUP BY \"room\")"
            ],
            (0, 9, 12, 10),
            unit="kwatth",
            table=True,
        ),
        _panel(
            3,
            "空调设定温度 AC setpoints",
            "timeseries",
            [
                f'SELECT mean("value") FROM "setpoint" WHERE {where} GROUP BY time($__interval), '
                '"room" fill(none)'
            ],
            (12, 9, 12, 10),
            unit="celsius",
            alias="$tag_room",
        ),
        _panel(
            4,
            "室内温度 Room temperature",
            "timeseries",
            [
                f'SELECT mean("value") FROM "temperature" WHERE "circuit" = \'ac\' AND {where} '
                'GROUP BY time($__interval), "room" fill(none)'
            ],
            (0, 19, 24, 9),
            unit="celsius",
            alias="$tag_room",
        ),
    ]
    variables = [
        _variable(
            "building", "楼宇 Building", 'SHOW TAG VALUES FROM "active_power" WITH KEY = "building"'
        )
    ]
    return _dashboard("sanjie-dorm-rooms", "三节 · 宿舍房间 Dorm rooms", panels, variables)


DASHBOARDS = {"campus-overview.json": campus_overview, "dorm-rooms.json": dorm_rooms}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), ensure_ascii=False, indent=2) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> None:
    out = HERE / "dashboards"
    out.mkdir(exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
