"""Write sanjie's Grafana dashboards (JSON) from code, with grafana-foundation-sdk.

Run ``python grafana/generate.py`` after changing a panel (the SDK is in the ``dev`` extra); a
test checks the committed JSON is what this script writes, and runs every panel query against a
real InfluxDB (and VictoriaMetrics for the controller's own metrics) filled by an emulated
campus. Queries are InfluxQL over the recorder's schema (docs/recorder.md): one measurement per
point kind with a ``value``/``state``/``label`` field, and ``consumption_hourly`` with
``consumption``, ``held_out`` and ``partial``. InfluxQL runs on InfluxDB 1.8+, on 2.x through a
DBRP mapping and on 3.x (docs/deploy.md).

Consumption panels sum one level of the meter hierarchy (``level`` tag, docs/configuration.md):
``level = '0'`` is every building's top meters, so a building's total is its main meter's, never
main plus sub-meters.

The SDK has no InfluxDB query type; ``InfluxQL`` below is a small builder for one (the SDK's
builders accept any ``Builder[Dataquery]``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    barchart,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import (
    dashboard as db,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    GridPos,
    VariableRefresh,
    VariableSort,
)

HERE = Path(__file__).resolve().parent
INFLUX = DataSourceRef(type_val="influxdb", uid="sanjie-influx")
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="sanjie-prometheus")

Panel = cogbuilder.Builder[Any]


class _InfluxQLQuery(cogvariants.Dataquery):
    def __init__(self, data: dict[str, object]) -> None:
        self.data = data

    def to_json(self) -> dict[str, object]:
        return self.data


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """A raw InfluxQL target of Grafana's InfluxDB datasource."""

    def __init__(self, query: str, ref: str = "A", *, table_format: bool = False) -> None:
        self._data: dict[str, object] = {
            "datasource": {"type": INFLUX.type_val, "uid": INFLUX.uid},
            "refId": ref,
            "query": query,
            "rawQuery": True,
            "resultFormat": "table" if table_format else "time_series",
        }

    def alias(self, alias: str) -> InfluxQL:
        self._data["alias"] = alias
        return self

    def build(self) -> cogvariants.Dataquery:
        return _InfluxQLQuery(dict(self._data))


def promql(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS)
    )


# -- query fragments ----------------------------------------------------------------------

CONS = 'FROM "consumption_hourly" WHERE "kind" = \'{kind}\''
TOP = " AND \"level\" = '0'"
ELEC = CONS.format(kind="active_energy")
WATER = CONS.format(kind="water_volume")
IN_BUILDING = ' AND "building" =~ /^$building$/'
TIME = " AND $timeFilter"


def _transform(kind: str, options: dict[str, Any]) -> DataTransformerConfig:
    return DataTransformerConfig(id_val=kind, options=options)


def _binary(left: str, operator: str, right: str, alias: str, replace: bool = False) -> Any:
    """A calculateField transformation: ``left operator right`` as a new field ``alias``."""
    return _transform(
        "calculateField",
        {
            "mode": "binary",
            "binary": {"left": left, "operator": operator, "right": right},
            "alias": alias,
            "replaceFields": replace,
        },
    )


def _joined_ratio(left: str, right: str, alias: str, mode: str) -> list[DataTransformerConfig]:
    """Two time series joined on time, then ``left / right`` (the only field kept)."""
    return [
        _transform("joinByField", {"byField": "Time", "mode": mode}),
        _binary(left, "/", right, alias, replace=True),
    ]


def _per_occupant(result: str) -> list[DataTransformerConfig]:
    """Table rows of (building, room, occupants, total) → total ÷ occupants, largest first."""
    return [
        _transform(
            "convertFieldType",
            {"conversions": [{"targetField": "occupants", "destinationType": "number"}]},
        ),
        _binary("total", "/", "occupants", result),
        _transform("sortBy", {"sort": [{"field": result, "desc": True}]}),
        _transform("limit", {"limitField": 20}),
    ]


@dataclass
class Board:
    """One dashboard: panels placed left to right, top to bottom, on a 24-column grid."""

    uid: str
    title: str
    description: str
    variables: list[cogbuilder.Builder[Any]] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def add(self, panel: Any, w: int = 12, h: int = 8) -> None:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        panel.id(len(self.panels) + 1).grid_pos(GridPos(h=h, w=w, x=self._x, y=self._y))
        self._x += w
        self._row_h = max(self._row_h, h)
        self.panels.append(panel)

    def build(self) -> dict[str, Any]:
        board = (
            db.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(["sanjie", "三节"])
            .timezone("browser")
            .time("now-7d", "now")
            .refresh("1m")
            .editable()
        )
        for variable in self.variables:
            board.with_variable(variable)
        for panel in self.panels:
            board.with_panel(panel)
        built: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
        for panel in built["panels"]:
            if panel.get("options") is None:  # the SDK writes null when no option was set
                panel["options"] = {}
        return built


def influx_panel(
    kind: Any,
    title: str,
    description: str,
    unit: str,
    *targets: InfluxQL,
) -> Any:
    panel = kind.title(title).description(description).unit(unit).datasource(INFLUX)
    for target in targets:
        panel.with_target(target)
    return panel


def prom_panel(kind: Any, title: str, description: str, unit: str, *targets: Any) -> Any:
    panel = kind.title(title).description(description).unit(unit).datasource(PROMETHEUS)
    for target in targets:
        panel.with_target(target)
    return panel


def tag_variable(
    name: str, label: str, key: str, measurement: str = "consumption_hourly", where: str = ""
) -> db.QueryVariable:
    query = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"'
    if where:
        query += f" WHERE {where}"
    return (
        db.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(INFLUX)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def building_variable() -> db.QueryVariable:
    return tag_variable("building", "楼宇", "building")


# -- dashboards ---------------------------------------------------------------------------


def campus_overview() -> dict[str, Any]:
    b = Board(
        "sanjie-campus",
        "三节 · 校园能耗总览",
        "Campus overview: consumption per building from the top meters, today so far, "
        "sub-metered circuits and the unmetered remainder.",
        [building_variable()],
    )
    top_elec = ELEC + TOP + IN_BUILDING + TIME
    top_water = WATER + TOP + IN_BUILDING + TIME
    b.add(
        influx_panel(
            barchart.Panel(),
            "楼宇用电量",
            "Electricity per building: the sum of each building's top-level meters (its main "
            "meter), so sub-meters are not counted twice.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {top_elec} GROUP BY "building"',
                table_format=True,
            ),
        )
    )
    b.add(
        influx_panel(
            barchart.Panel(),
            "楼宇用水量",
            "Water per building from the top-level water meters (rooms without a building "
            "meter above them count at the top level).",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {top_water} GROUP BY "building"',
                table_format=True,
            ),
        )
    )
    b.add(
        influx_panel(
            stat.Panel(),
            "今日用电（含当前小时）",
            "Electricity today so far, including the running hour (written every minute, "
            "marked partial until it closes).",
            "kwatth",
            InfluxQL(f'SELECT sum("consumption") {top_elec}'),
        ).time_from("now/d"),
        w=6,
    )
    b.add(
        influx_panel(
            stat.Panel(),
            "当前小时（未结束）",
            "Consumption of hours still running (partial = 1): what the next complete hour "
            "will at least be.",
            "kwatth",
            InfluxQL(f'SELECT sum("consumption") {top_elec} AND "partial" = 1'),
        ),
        w=6,
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "逐时用电",
            "Hourly electricity per building (top-level meters).",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") {top_elec} GROUP BY time(1h), "building" fill(none)'
            ).alias("$tag_building"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "逐时用水",
            "Hourly water per building (top-level meters).",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") {top_water} GROUP BY time(1h), "building" fill(none)'
            ).alias("$tag_building"),
        )
    )
    b.add(
        influx_panel(
            barchart.Panel(),
            "分项用电",
            "Electricity of the sub-meters directly under the top meters (level 1), per "
            "circuit: lighting, sockets, AC, kitchen, plugs.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {ELEC} AND "level" = \'1\''
                f'{IN_BUILDING}{TIME} GROUP BY "circuit"',
                table_format=True,
            ),
        ),
        w=8,
    )
    b.add(
        influx_panel(
            table.Panel(),
            "未计量电量",
            "Unmetered remainder per building: top-level meters minus the meters directly "
            "under them (losses, unmetered circuits, theft). Per parent meter: "
            "GET /api/consumption/unmetered.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") AS "top" {top_elec} GROUP BY "building"',
                "A",
                table_format=True,
            ),
            InfluxQL(
                f'SELECT sum("consumption") AS "sub_meters" {ELEC} AND "level" = \'1\''
                f'{IN_BUILDING}{TIME} GROUP BY "building"',
                "B",
                table_format=True,
            ),
        ).transformations(
            [
                _transform("merge", {}),
                _binary("top", "-", "sub_meters", "unmetered"),
            ]
        ),
        w=8,
    )
    b.add(
        influx_panel(
            stat.Panel(),
            "剔除的异常读数",
            "Implausible counter jumps the recorder held out of the consumption (kWh).",
            "kwatth",
            InfluxQL(f'SELECT sum("held_out") {ELEC}{IN_BUILDING}{TIME}'),
        ),
        w=8,
    )
    return b.build()


def building_detail() -> dict[str, Any]:
    floor_filter = ' AND "floor" =~ /^$floor$/ AND "floor" != \'\''
    room_filter = ' AND "room" =~ /^$room$/'
    b = Board(
        "sanjie-building",
        "三节 · 楼宇详情",
        "One building floor by floor and room by room.",
        [
            building_variable(),
            tag_variable("floor", "楼层", "floor", where='"building" =~ /^$building$/'),
            tag_variable(
                "room",
                "房间",
                "room",
                where='"building" =~ /^$building$/ AND "floor" =~ /^$floor$/',
            ),
        ],
    )
    where = IN_BUILDING + floor_filter
    b.add(
        influx_panel(
            barchart.Panel(),
            "楼层用电",
            "Electricity per floor: the floor's lighting meter and its rooms' meters.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {ELEC}{where}{TIME} GROUP BY "floor"',
                table_format=True,
            ),
        )
    )
    b.add(
        influx_panel(
            barchart.Panel(),
            "楼层用水",
            "Water per floor (the rooms' cold and hot water meters).",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {WATER}{where}{TIME} GROUP BY "floor"',
                table_format=True,
            ),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "房间逐时用电",
            "Hourly electricity per room (sockets and AC meters).",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") {ELEC}{where}{room_filter}{TIME} '
                'GROUP BY time(1h), "room" fill(none)'
            ).alias("$tag_room"),
        ),
        w=24,
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "房间插座功率",
            "Socket circuit power per room (prohibited appliances show as steps).",
            "watt",
            InfluxQL(
                'SELECT mean("value") FROM "active_power" WHERE "circuit" = \'sockets\''
                f"{where}{room_filter}{TIME} "
                'GROUP BY time($__interval), "room" fill(none)'
            ).alias("$tag_room"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "室温与设定温度",
            "Room temperature and AC setpoint per room.",
            "celsius",
            InfluxQL(
                'SELECT mean("value") FROM "temperature" WHERE "circuit" = \'ac\''
                f'{where}{room_filter}{TIME} GROUP BY time($__interval), "room" fill(none)',
                "A",
            ).alias("$tag_room 室温"),
            InfluxQL(
                f'SELECT mean("value") FROM "setpoint" WHERE "building" =~ /^$building$/'
                f'{floor_filter}{room_filter}{TIME} GROUP BY time($__interval), "room" '
                "fill(none)",
                "B",
            ).alias("$tag_room 设定"),
        )
    )
    b.add(
        influx_panel(
            table.Panel(),
            "房间用水",
            "Cold and hot water per room in the time range.",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {WATER}{where}{room_filter}{TIME} '
                'GROUP BY "room", "circuit"',
                table_format=True,
            ),
        ),
        w=24,
    )
    return b.build()


def dorm_ranking() -> dict[str, Any]:
    dorms = " AND \"building_kind\" = 'dorm' AND \"room\" != ''"
    b = Board(
        "sanjie-dorm-ranking",
        "三节 · 宿舍人均排名",
        "Dorm rooms ranked by consumption per occupant (the room's occupants, or its beds, "
        "from the site file; the recorder tags room meters with them).",
        [building_variable()],
    )
    b.add(
        influx_panel(
            table.Panel(),
            "人均用电排名",
            "Electricity per occupant, the 20 highest rooms.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {ELEC}{dorms}{IN_BUILDING}{TIME} '
                'GROUP BY "building", "room", "occupants"',
                table_format=True,
            ),
        ).transformations(_per_occupant("kWh_per_occupant"))
    )
    b.add(
        influx_panel(
            table.Panel(),
            "人均用水排名",
            "Water per occupant (cold and hot), the 20 highest rooms.",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {WATER}{dorms}{IN_BUILDING}{TIME} '
                'GROUP BY "building", "room", "occupants"',
                table_format=True,
            ),
        ).transformations(_per_occupant("m3_per_occupant"))
    )
    b.add(
        influx_panel(
            table.Panel(),
            "房间用电总量排名",
            "Rooms by total electricity (not per occupant), the 20 highest.",
            "kwatth",
            InfluxQL(
                'SELECT top("total", "room", 20) FROM (SELECT sum("consumption") AS "total" '
                f'{ELEC}{dorms}{IN_BUILDING}{TIME} GROUP BY "room")',
                table_format=True,
            ),
        ),
        w=24,
    )
    return b.build()


def canteen() -> dict[str, Any]:
    canteens = " AND \"building_kind\" = 'canteen'"
    b = Board(
        "sanjie-canteen",
        "三节 · 食堂",
        "Canteen energy (main meter and kitchen circuits), hand-wash water and food waste.",
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "食堂逐时用电",
            "Hourly electricity of each canteen's main meter.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") {ELEC}{TOP}{canteens}{TIME} '
                'GROUP BY time(1h), "building" fill(none)'
            ).alias("$tag_building"),
        )
    )
    b.add(
        influx_panel(
            barchart.Panel(),
            "后厨分项用电",
            "Kitchen sub-meters: cooking, cold store, exhaust, dishwasher, water boiler.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") AS "total" {ELEC} AND "circuit" = \'kitchen\''
                f'{canteens}{TIME} GROUP BY "device"',
                table_format=True,
            ),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "非必要负载功率",
            "Power of the non-essential plugs (display fridge, drink cooler, signage, fans) "
            "that the canteen policy switches off out of hours.",
            "watt",
            InfluxQL(
                'SELECT mean("value") FROM "active_power" WHERE "circuit" = \'power\''
                f'{canteens}{TIME} GROUP BY time($__interval), "device" fill(none)'
            ).alias("$tag_device"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "洗手区用水",
            "Hourly water of the hand-wash row's delayed-closing valves.",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") {WATER} AND "area" = \'handwash\'{canteens}{TIME} '
                "GROUP BY time(1h) fill(none)"
            ),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "厨余垃圾",
            "Food waste weighed per canteen and day (kg): the waste scales' hourly consumption "
            "(kind food_waste), each bin counted once through the meter hierarchy (level 0).",
            "masskg",
            InfluxQL(
                f'SELECT sum("consumption") {CONS.format(kind="food_waste")}{TOP}{canteens}{TIME} '
                'GROUP BY time(1d), "building" fill(none)'
            ).alias("$tag_building"),
        ),
        w=24,
    )
    return b.build()


def hot_water() -> dict[str, Any]:
    showers = " AND \"area\" = 'showers'"
    presses = (
        'SELECT sum("presses") FROM (SELECT non_negative_difference(max("value")) AS '
        f'"presses" FROM "press_count" WHERE $timeFilter{showers} GROUP BY time(1h), "device") '
        "WHERE $timeFilter GROUP BY time(1h) fill(none)"
    )
    b = Board(
        "sanjie-hot-water",
        "三节 · 热水与淋浴",
        "Hot water and showers: volumes, presses, litres per press, flow and supply windows.",
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "热水逐时用量",
            "Hourly hot water from the top-level hot-water meters of each building.",
            "m3",
            InfluxQL(
                f'SELECT sum("consumption") {WATER}{TOP} AND "circuit" = \'hot_water\'{TIME} '
                'GROUP BY time(1h), "building" fill(none)'
            ).alias("$tag_building"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "淋浴使用次数",
            "Shower presses per hour (increase of the valves' press counters).",
            "short",
            InfluxQL(presses).alias("presses"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "每次用水量",
            "Litres per press: the showers' metered water divided by their presses, per hour.",
            "litre",
            InfluxQL(
                f'SELECT sum("consumption") * 1000 AS "litres" {WATER}{showers}{TIME} '
                "GROUP BY time(1h) fill(none)",
                "A",
            ),
            InfluxQL(presses, "B"),
        ).transformations(_joined_ratio("litres", "sum", "litres_per_press", "inner"))
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "淋浴瞬时流量",
            "Mean flow of the shower valves.",
            "flowlpm",
            InfluxQL(
                f'SELECT mean("value") FROM "flow" WHERE $timeFilter{showers} '
                "GROUP BY time($__interval) fill(none)"
            ).alias("flow"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "供水时段",
            "Share of shower valves with supply enabled (1 = every valve on): the supply "
            "windows the shower policy opens and closes.",
            "percentunit",
            InfluxQL(
                'SELECT count("label") FROM "power_switch" WHERE "label" = \'on\''
                f"{showers} AND $timeFilter GROUP BY time($__interval) fill(0)",
                "A",
            ).alias("on"),
            InfluxQL(
                f'SELECT count("label") FROM "power_switch" WHERE $timeFilter{showers} '
                "GROUP BY time($__interval) fill(0)",
                "B",
            ).alias("all"),
        ).transformations(_joined_ratio("on", "all", "enabled", "outer")),
        w=24,
    )
    return b.build()


def ac_compliance() -> dict[str, Any]:
    ac = " AND \"circuit\" = 'ac'"
    b = Board(
        "sanjie-ac",
        "三节 · 空调合规",
        "Air conditioning against the rules (cooling ≥ 26 °C, heating ≤ 20 °C): setpoints, "
        "runtime and the policies' corrections.",
        [building_variable()],
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "设定温度",
            "Mean, lowest and highest AC setpoint.",
            "celsius",
            InfluxQL(
                'SELECT mean("value") AS "mean", min("value") AS "min", max("value") AS "max" '
                f'FROM "setpoint" WHERE $timeFilter{IN_BUILDING} GROUP BY time($__interval) '
                "fill(none)"
            ),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "设定低于26°C的读数（制冷上限）",
            "Setpoint readings of units in cool mode below 26 °C is not knowable in one "
            "InfluxQL query (mode and setpoint are separate series); this counts setpoint "
            "readings below 26 °C per interval, a ceiling on the cooling violations.",
            "short",
            InfluxQL(
                'SELECT count("value") FROM "setpoint" WHERE "value" < 26 AND $timeFilter'
                f"{IN_BUILDING} GROUP BY time($__interval) fill(0)"
            ).alias("below 26 °C"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "空调开机读数",
            "AC units reporting 'on' per interval (runtime: on-readings × poll interval).",
            "short",
            InfluxQL(
                'SELECT count("label") FROM "power_switch" WHERE "label" = \'on\''
                f"{ac}{IN_BUILDING} AND $timeFilter GROUP BY time($__interval) fill(0)"
            ).alias("on"),
        )
    )
    b.add(
        influx_panel(
            timeseries.Panel(),
            "空调逐时用电",
            "Hourly electricity of the AC units' own meters.",
            "kwatth",
            InfluxQL(
                f'SELECT sum("consumption") {ELEC}{ac}{IN_BUILDING}{TIME} '
                'GROUP BY time(1h), "building" fill(none)'
            ).alias("$tag_building"),
        )
    )
    b.add(
        prom_panel(
            timeseries.Panel(),
            "策略纠正",
            "Commands the policies sent (setpoint raised to the limit, unit switched off) and "
            "those that failed, from the controller's /api/metrics.",
            "short",
            promql("sanjie_policy_commands_total", "commands", "A"),
            promql("sanjie_policy_failed_total", "failed", "B"),
        ),
        w=24,
    )
    return b.build()


def alarms_leaks() -> dict[str, Any]:
    b = Board(
        "sanjie-alarms",
        "三节 · 告警与漏水",
        "Alarms and leak indicators: water that never stops, valves stuck open, held-out "
        "counter jumps.",
        [building_variable()],
    )
    b.add(
        prom_panel(
            stat.Panel(),
            "当前告警",
            "Alarms active now in the policy engine.",
            "short",
            promql("sanjie_policy_active_alarms", "alarms"),
        ),
        w=6,
    )
    b.add(
        prom_panel(
            stat.Panel(),
            "离线设备",
            "Devices currently unavailable.",
            "short",
            promql("sanjie_devices_unavailable", "devices"),
        ),
        w=6,
    )
    b.add(
        influx_panel(
            table.Panel(),
            "最小小时用水（漏水）",
            "Each room's smallest hourly water use in the range: a room that never drops to "
            "zero, even at night, probably has a running tap or a leak.",
            "m3",
            InfluxQL(
                'SELECT top("least", "room", 20) FROM (SELECT min("consumption") AS "least" '
                f'{WATER} AND "room" != \'\'{IN_BUILDING}{TIME} GROUP BY "room")',
                table_format=True,
            ),
        ),
        w=12,
    )
    b.add(
        influx_panel(
            table.Panel(),
            "常开报警",
            "Each delayed-closing valve's stuck-open alarm as last reported (open longer "
            "than its maximum open time): a valve showing Yes is wasting water now.",
            "bool_yes_no",
            InfluxQL(
                'SELECT last("state") AS "stuck_open" FROM "status" WHERE "point" = '
                f"'stuck_open'{IN_BUILDING}{TIME} GROUP BY \"device\"",
                table_format=True,
            ),
        )
    )
    b.add(
        influx_panel(
            table.Panel(),
            "剔除的计数跳变",
            "Counter jumps held out of the consumption, per device (meter faults, swaps "
            "not recorded by staff).",
            "short",
            InfluxQL(
                'SELECT top("held", "device", 20) FROM (SELECT sum("held_out") AS "held" FROM '
                f'"consumption_hourly" WHERE $timeFilter{IN_BUILDING} GROUP BY "device")',
                table_format=True,
            ),
        )
    )
    return b.build()


def controller_health() -> dict[str, Any]:
    b = Board(
        "sanjie-health",
        "三节 · 控制器运行状态",
        "The controller itself, from its /api/metrics (scraped by Prometheus or "
        "VictoriaMetrics): polling, errors, the recorder's outbox, availability, event bus.",
    )
    b.add(
        prom_panel(
            timeseries.Panel(),
            "总线轮询周期",
            "Seconds one polling cycle of each RS-485 bus takes (every device once).",
            "s",
            promql("sanjie_modbus_last_cycle_seconds", "{{bus}}"),
        )
    )
    b.add(
        prom_panel(
            timeseries.Panel(),
            "通信错误",
            "Modbus errors and timeouts per bus (totals since start).",
            "short",
            promql("sum by (bus) (sanjie_modbus_errors_total)", "{{bus}} errors", "A"),
            promql("sanjie_modbus_timeouts_total", "{{bus}} timeouts", "B"),
        )
    )
    b.add(
        prom_panel(
            timeseries.Panel(),
            "发件箱积压",
            "Points waiting in the recorder's outbox for InfluxDB, and its event queue.",
            "short",
            promql("sanjie_recorder_outbox_points", "{{sink}} outbox points", "A"),
            promql("sanjie_recorder_queue_depth", "queue", "B"),
        )
    )
    b.add(
        prom_panel(
            stat.Panel(),
            "设备在线率",
            "Share of Modbus devices answering.",
            "percentunit",
            promql(
                "sum(sanjie_modbus_devices_available) / sum(sanjie_modbus_devices)", "available"
            ),
        ),
        w=6,
    )
    b.add(
        prom_panel(
            stat.Panel(),
            "InfluxDB 连接",
            "1 when the last write to InfluxDB succeeded.",
            "bool_yes_no",
            promql("sanjie_recorder_backend_up", "{{sink}}"),
        ),
        w=6,
    )
    b.add(
        prom_panel(
            timeseries.Panel(),
            "事件总线积压",
            "Events waiting per event-bus subscriber (the lag between a reading and its "
            "consumers), and those dropped.",
            "short",
            promql("sanjie_bus_queue_depth", "{{subscriber}} waiting", "A"),
            promql("sanjie_bus_dropped_total", "{{subscriber}} dropped", "B"),
        ),
        w=24,
    )
    return b.build()


DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "campus-overview.json": campus_overview,
    "building-detail.json": building_detail,
    "dorm-ranking.json": dorm_ranking,
    "canteen.json": canteen,
    "hot-water.json": hot_water,
    "ac-compliance.json": ac_compliance,
    "alarms-leaks.json": alarms_leaks,
    "controller-health.json": controller_health,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), ensure_ascii=False, indent=2) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> None:
    out = HERE / "dashboards"
    out.mkdir(exist_ok=True)
    for stale in out.glob("*.json"):
        if stale.name not in DASHBOARDS:
            stale.unlink()
    for name, text in render().items():
        (out / name).write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {out / name}\n")


if __name__ == "__main__":
    main()
