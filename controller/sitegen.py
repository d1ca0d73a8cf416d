"""Generate a campus site: the example campus and N-room campuses for benchmarks.

Dorm buildings have floors of ``rooms_per_floor`` rooms, one RS-485 gateway per floor. Each room
has a socket-circuit meter with relay, a cold-water meter with valve, a hot-water meter and an
AC gateway. One canteen (main and kitchen sub-meters, hand-wash delayed-closing valves, MQTT
plugs on non-essential loads, MQTT waste scales per serving line, a diner counter and a
tray-return plate checker) and one bathhouse (MQTT shower valves) complete the campus.

The meters campuses already own speak Chinese meter protocols: one floor of the first dorm
(``dlt645_floor``) has DL/T 645 socket and lighting meters on its own RS-485 gateway, and the
buildings' hot-water meters (``cjt188_hot_water``) are CJ/T 188 heat meters, one bus per
building.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = ["SiteShape", "generate_site", "random_relay_password", "write_site"]

# Unit-id plan on a dorm floor bus: room r (1-based on its floor) uses r, 20+r, 40+r, 60+r;
# the floor's lighting meter is 101, and floor 1's bus also has the building's main meter (100)
# and hot-water heat meter (102).
_ROOM_DEVICES = (
    ("elec", "generic/dorm-prepaid-meter", 0, "sockets"),
    ("cold", "xintai/water-meter-valve", 20, "cold_water"),
    ("hot", "xintai/water-meter-valve", 40, "hot_water"),
    ("ac", "intesis/ac-gateway-panasonic", 60, "ac"),
)
_ROOM_PARENTS = {"elec": "main", "hot": "hot-water", "ac": "main"}
"""The building meter upstream of each room device (the rooms' cold water has none)."""
_LIGHTING = ("chint/ddsu666", "lighting")
_FLOOR_LIGHTING_UNIT = 101
_BUILDING_DEVICES = (
    ("main", "acrel/adl400", 100, "main"),
    ("hot-water", "generic/tuf2000m", 102, "hot_water"),
)
_DLT645_ELEC = "generic/dorm-prepaid-meter-dlt645"
_DLT645_LIGHTING = "chint/ddsu666-dlt645"
_CJT188_HOT_WATER = "generic/cjt188-heat-meter"


@dataclass(frozen=True)
class SiteShape:
    """How big a campus to generate."""

    rooms: int = 240
    rooms_per_floor: int = 20
    floors: int = 6
    capacity: int = 4
    host: str = "127.0.0.1"
    first_port: int = 15020
    canteen_valves: int = 20
    shower_valves: int = 30
    layout: Literal["templates", "explicit"] = "templates"
    """Dorm rooms and devices as per-floor/per-room templates, or every one written out."""
    dlt645_floor: int | None = 6
    """The floor of the first dorm whose socket and lighting meters speak DL/T 645 (None:
    none; a floor the building does not have: none)."""
    cjt188_hot_water: bool = True
    """Buildings' hot-water meters are CJ/T 188 heat meters (else Modbus ultrasonic meters)."""
    billing: bool = True
    """Prepaid billing of the dorm rooms (``default_billing``): a ``billing.yaml``."""
    relay_password: str | None = None
    """The DL/T 645 links' relay password (6 digits), written into ``links.yaml``. None: no
    password, so the meters refuse relay commands (the curfew's, billing's cut-offs) until the
    site gives one. The shipped example keeps none (``sanjie demo`` makes one per run, never a
    default anyone could read); a campus generated for one benchmark or trial, whose emulators
    and controller read the same files, takes ``random_relay_password()``."""

    def __post_init__(self) -> None:
        if self.rooms < 1 or self.rooms_per_floor < 1 or self.floors < 1:
            raise ValueError("rooms, rooms_per_floor and floors must be positive")
        password = self.relay_password
        if password is not None and not (password.isdigit() and len(password) == 6):
            raise ValueError("a DL/T 645 relay password is 6 digits")
        if self.rooms_per_floor > 20:
            raise ValueError("at most 20 rooms per floor bus (unit ids 1–80 per floor)")


def random_relay_password() -> str:
    """A fresh 6-digit DL/T 645 relay password, as ``sanjie demo`` makes one per run."""
    return f"{secrets.randbelow(1_000_000):06d}"


def _name(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


class _Builder:
    def __init__(self, shape: SiteShape) -> None:
        self.shape = shape
        self.port = shape.first_port
        self.buildings: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.devices: dict[str, list[dict[str, Any]]] = {}

    def link(self, link_id: str, kind: str, zh: str, en: str) -> str:
        link: dict[str, Any] = {"id": link_id, "type": kind, "name": _name(zh, en)}
        if kind in ("dlt645", "cjt188"):
            link["transport"] = "tcp"
        link.update({"host": self.shape.host, "port": self.port, "timeout": 0.5})
        if kind in ("dlt645", "cjt188"):
            link["timeout"] = 1.0  # 2400 baud: a 901F reply alone takes 0.16 s on the line
        if kind == "dlt645" and self.shape.relay_password is not None:
            link["relay_password"] = self.shape.relay_password
        self.links.append(link)
        self.port += 1
        return link_id

    def meter_floor(self, bid: str, floors: int) -> int | None:
        """The floor of ``bid`` on DL/T 645 meters, if any."""
        floor = self.shape.dlt645_floor
        if bid != "dorm-1" or floor is None or not 1 <= floor <= floors:
            return None
        return floor

    def hot_water(self, group: tuple[str, str], bid: str, **place: Any) -> dict[str, Any]:
        """The fields of a building's hot-water meter: on a CJ/T 188 bus of its own, or on
        ``place``'s Modbus link. ``group``: the building's name in Chinese and English."""
        if not self.shape.cjt188_hot_water:
            return {"profile": "generic/tuf2000m", **place}
        zh, en = group
        link = self.link(f"m188-{bid}", "cjt188", f"{zh}热水表总线", f"{en} hot-water meters")
        number = len([x for x in self.links if x["type"] == "cjt188"])
        fields = {k: v for k, v in place.items() if k not in ("profile", "link", "unit_id")}
        return {"profile": _CJT188_HOT_WATER, "link": link, "address": f"{number:014d}", **fields}

    def device(self, group: str, **fields: Any) -> None:
        self.devices.setdefault(group, []).append(
            {k: v for k, v in fields.items() if v is not None}
        )

    def dorms(self) -> None:
        s = self.shape
        per_building = s.rooms_per_floor * s.floors
        for b in range(math.ceil(s.rooms / per_building)):
            bid = f"dorm-{b + 1}"
            left = min(per_building, s.rooms - b * per_building)
            floors = math.ceil(left / s.rooms_per_floor)
            building: dict[str, Any] = {
                "id": bid,
                "kind": "dorm",
                "floors": floors,
                "name": _name(f"学生公寓{b + 1}号楼", f"Dormitory {b + 1}"),
            }
            self.buildings.append(building)
            for floor in range(1, floors + 1):
                self.link(
                    f"gw-{bid}-f{floor}",
                    "rtu_over_tcp",
                    f"{b + 1}号楼{floor}层 485 网关",
                    f"Dorm {b + 1} floor {floor} RS-485",
                )
            meter_floor = self.meter_floor(bid, floors)
            if meter_floor is not None:
                self.link(
                    f"m645-{bid}-f{meter_floor}",
                    "dlt645",
                    f"{b + 1}号楼{meter_floor}层 DL/T 645 电表总线",
                    f"Dorm {b + 1} floor {meter_floor} DL/T 645 meters",
                )
            for suffix, profile, unit, circuit in _BUILDING_DEVICES:
                place = {"profile": profile, "link": f"gw-{bid}-f1", "unit_id": unit}
                if suffix == "hot-water":
                    place = self.hot_water((f"{b + 1}号楼", f"Dorm {b + 1}"), bid, **place)
                self.device(bid, id=f"{bid}.{suffix}", building=bid, circuit=circuit, **place)
            if s.layout == "templates":
                self._dorm_templates(building, left)
            else:
                self._dorm_explicit(building, left)

    def _dorm_templates(self, building: dict[str, Any], rooms: int) -> None:
        """Rooms as a layout and devices as per-floor and per-room templates (compact)."""
        s = self.shape
        layout: dict[str, Any] = {"per_floor": s.rooms_per_floor, "capacity": s.capacity}
        if rooms % s.rooms_per_floor:
            layout["count"] = rooms
        building["room_layout"] = layout
        link = "gw-{building}-f{floor}"
        lighting: dict[str, Any] = {
            "id": "{building}.f{floor}.lighting",
            "profile": _LIGHTING[0],
            "link": link,
            "unit_id": _FLOOR_LIGHTING_UNIT,
            "circuit": _LIGHTING[1],
            "parent": "{building}.main",
            "tags": ["floor-{floor}"],
        }
        rooms_: list[dict[str, Any]] = [
            {
                "id": f"{{building}}.{{room}}.{suffix}",
                "profile": profile,
                "link": link,
                "unit_id_start": offset + 1,
                "circuit": circuit,
                **(
                    {"parent": f"{{building}}.{_ROOM_PARENTS[suffix]}"}
                    if suffix in _ROOM_PARENTS
                    else {}
                ),
            }
            for suffix, profile, offset, circuit in _ROOM_DEVICES
        ]
        meter_floor = self.meter_floor(building["id"], building["floors"])
        if meter_floor is not None:
            modbus_floors = [f for f in range(1, building["floors"] + 1) if f != meter_floor]
            lighting["floors"] = modbus_floors
            rooms_[0]["floors"] = list(modbus_floors)
            # fresh lists per template: shared ones would be written as YAML anchors
            lighting_645 = {**lighting, "profile": _DLT645_LIGHTING, **_dlt645_floor(meter_floor)}
            lighting_645["tags"] = list(lighting["tags"])
            del lighting_645["unit_id"]
            lighting_645["address"] = "9900000000{floor:02d}"
            elec_645 = {**rooms_[0], "profile": _DLT645_ELEC, **_dlt645_floor(meter_floor)}
            elec_645["address"] = "00000000{room}"
            del elec_645["unit_id_start"]
            building["floor_devices"] = [lighting, lighting_645]
            building["room_devices"] = [rooms_[0], elec_645, *rooms_[1:]]
        else:
            building["floor_devices"] = [lighting]
            building["room_devices"] = rooms_

    def _dorm_explicit(self, building: dict[str, Any], rooms: int) -> None:
        """Every room and device written out (what the templates expand to)."""
        s = self.shape
        bid = building["id"]
        room_list: list[dict[str, Any]] = []
        for i in range(rooms):
            floor, r = divmod(i, s.rooms_per_floor)
            room_list.append(
                {"id": f"{floor + 1}{r + 1:02d}", "floor": floor + 1, "capacity": s.capacity}
            )
        building["rooms"] = room_list
        meter_floor = self.meter_floor(bid, building["floors"])
        for floor in range(1, building["floors"] + 1):
            where: dict[str, Any] = {
                "profile": _LIGHTING[0],
                "link": f"gw-{bid}-f{floor}",
                "unit_id": _FLOOR_LIGHTING_UNIT,
            }
            if floor == meter_floor:
                where = {
                    "profile": _DLT645_LIGHTING,
                    "link": f"m645-{bid}-f{floor}",
                    "address": f"9900000000{floor:02d}",
                }
            self.device(
                bid,
                id=f"{bid}.f{floor}.lighting",
                building=bid,
                circuit=_LIGHTING[1],
                parent=f"{bid}.main",
                tags=[f"floor-{floor}"],
                **where,
            )
        for room in room_list:
            r = int(room["id"][-2:])
            for suffix, profile, offset, circuit in _ROOM_DEVICES:
                where = {
                    "profile": profile,
                    "link": f"gw-{bid}-f{room['floor']}",
                    "unit_id": offset + r,
                }
                if suffix == "elec" and room["floor"] == meter_floor:
                    where = {
                        "profile": _DLT645_ELEC,
                        "link": f"m645-{bid}-f{room['floor']}",
                        "address": f"00000000{room['id']}",
                    }
                self.device(
                    bid,
                    id=f"{bid}.{room['id']}.{suffix}",
                    building=bid,
                    room=room["id"],
                    circuit=circuit,
                    **(
                        {"parent": f"{bid}.{_ROOM_PARENTS[suffix]}"}
                        if suffix in _ROOM_PARENTS
                        else {}
                    ),
                    **where,
                )

    def canteen(self) -> None:
        bid = "canteen-1"
        self.buildings.append(
            {
                "id": bid,
                "kind": "canteen",
                "floors": 2,
                "name": _name("第一食堂", "Canteen 1"),
                "areas": [
                    {"id": "kitchen", "name": _name("后厨", "Kitchen"), "floor": 1},
                    {"id": "dining", "name": _name("餐厅", "Dining hall"), "floor": 1},
                    {"id": "handwash", "name": _name("洗手区", "Hand-wash row"), "floor": 1},
                ],
            }
        )
        gw = self.link("gw-canteen-1", "modbus_tcp", "第一食堂电表网关", "Canteen 1 meters")
        self.device(
            bid,
            id=f"{bid}.main",
            profile="acrel/adl400",
            building=bid,
            link=gw,
            unit_id=1,
            circuit="main",
        )
        for unit, (key, profile) in enumerate(
            [
                ("cooking", "chint/dtsu666"),
                ("cold-store", "chint/dtsu666"),
                ("exhaust", "chint/dtsu666"),
                ("dishwasher", "eastron/sdm630"),
                ("water-boiler", "eastron/sdm120"),
            ],
            start=2,
        ):
            self.device(
                bid,
                id=f"{bid}.kitchen.{key}",
                profile=profile,
                building=bid,
                area="kitchen",
                link=gw,
                unit_id=unit,
                circuit="kitchen",
                parent=f"{bid}.main",
            )
        self.device(
            bid,
            id=f"{bid}.water",
            profile="xintai/water-meter-valve",
            building=bid,
            area="kitchen",
            link=gw,
            unit_id=7,
            circuit="cold_water",
        )
        vgw = self.link(
            "gw-canteen-1-valves", "rtu_over_tcp", "洗手区阀门总线", "Hand-wash valve bus"
        )
        for v in range(1, self.shape.canteen_valves + 1):
            self.device(
                bid,
                id=f"{bid}.handwash.v{v:02d}",
                profile="generic/delay-valve",
                building=bid,
                area="handwash",
                link=vgw,
                unit_id=v,
                circuit="cold_water",
                parent=f"{bid}.water",
                tags=["handwash"],
            )
        for key in ("display-fridge", "drink-cooler", "signage", "dining-fans"):
            self.device(
                bid,
                id=f"{bid}.plug.{key}",
                profile="tasmota/energy-plug",
                building=bid,
                area="dining",
                link="mqtt-main",
                topic_base=f"canteen1_{key.replace('-', '_')}",
                circuit="power",
                parent=f"{bid}.main",
                tags=["nonessential"],
            )

    def canteen_food(self, bid: str = "canteen-1") -> None:
        """The canteen's 节粮 devices on MQTT: a waste scale per serving line and bin (tagged
        ``line-…`` and ``bin-…``: the report splits waste by them), the kitchen's prep-waste
        scale, the card system's diner counter and the tray-return plate checker."""
        scales = (
            ("line-1", "plate", "dining", _name("一号窗口餐盘剩余", "Line 1 plate waste")),
            ("line-2", "plate", "dining", _name("二号窗口餐盘剩余", "Line 2 plate waste")),
            ("kitchen", "prep", "kitchen", _name("后厨备餐损耗", "Kitchen prep waste")),
        )
        for line, bin_, area, name in scales:
            self.device(
                bid,
                id=f"{bid}.waste.{line}",
                profile="generic/mqtt-waste-scale",
                building=bid,
                area=area,
                link="mqtt-main",
                topic_base=f"canteen1/waste/{line}",
                name=name,
                tags=[f"line-{line.removeprefix('line-')}", f"bin-{bin_}"],
            )
        for key, profile in (
            ("diners", "generic/mqtt-diner-counter"),
            ("plates", "generic/mqtt-plate-checker"),
        ):
            self.device(
                bid,
                id=f"{bid}.{key}",
                profile=profile,
                building=bid,
                area="dining",
                link="mqtt-main",
                topic_base=f"canteen1/{key}",
            )

    def bathhouse(self) -> None:
        bid = "bath-1"
        self.buildings.append(
            {
                "id": bid,
                "kind": "bathhouse",
                "floors": 1,
                "name": _name("第一浴室", "Bathhouse 1"),
                "areas": [{"id": "showers", "name": _name("淋浴间", "Shower hall"), "floor": 1}],
            }
        )
        gw = self.link("gw-bath-1", "modbus_tcp", "浴室网关", "Bathhouse gateway")
        self.device(
            bid,
            id=f"{bid}.main",
            profile="eastron/sdm630",
            building=bid,
            link=gw,
            unit_id=1,
            circuit="main",
        )
        self.device(
            bid,
            id=f"{bid}.hot-water",
            building=bid,
            area="showers",
            circuit="hot_water",
            **self.hot_water(
                ("浴室", "Bathhouse"), bid, profile="generic/tuf2000m", link=gw, unit_id=2
            ),
        )
        for v in range(1, self.shape.shower_valves + 1):
            self.device(
                bid,
                id=f"{bid}.shower.s{v:02d}",
                profile="generic/mqtt-shower-valve",
                building=bid,
                area="showers",
                link="mqtt-main",
                topic_base=f"bath1/shower/s{v:02d}",
                circuit="shower",
                parent=f"{bid}.hot-water",
                tags=["shower"],
            )


def generate_site(shape: SiteShape) -> dict[str, Any]:
    """The site as data: ``{"site.yaml": ..., "links.yaml": ..., "devices/x.yaml": ...}``."""
    b = _Builder(shape)
    b.dorms()
    b.canteen()
    b.canteen_food()
    b.bathhouse()
    b.links.append({"id": "mqtt-main", "type": "mqtt", "name": _name("校园 MQTT", "Campus MQTT")})
    files: dict[str, Any] = {
        "buildings.yaml": b.buildings,
        "links.yaml": b.links,
        "policies.yaml": default_policies(),
        "calendar.yaml": default_calendar(),
        "holidays.yaml": default_holidays(),
        "alarms.yaml": default_alarms(),
    }
    if shape.billing:
        files["billing.yaml"] = default_billing(shape)
    for group, devices in b.devices.items():
        files[f"devices/{group}.yaml"] = devices
    return files


def default_alarms() -> dict[str, Any]:
    """Rules on readings and on aggregates (see docs/alarms.md); no notification channels:
    those need a campus's own robot URLs and mail server."""
    return {
        "rules": [
            {
                "id": "bath-hot-water-low",
                "entity": "bath-1.hot-water.supply_temperature",
                "below": 55,
                "hysteresis": 2,
                "for_s": 1800,
                "severity": "warning",
            },
        ],
        "aggregates": [
            {
                # sockets are cut by the curfew on nights before a working day and little used
                # on the others: kWh there between midnight and six is a heater or a bypass
                "id": "night-sockets",
                "scope": {"building_kinds": ["dorm"], "circuits": ["sockets"]},
                "per": "room",
                "quantity": "active_energy",
                "window": _window("00:00", "06:00"),
                "above": 2,
                "hysteresis": 1,
            },
        ],
    }


def _window(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, **extra}


def default_policies() -> list[dict[str, Any]]:
    """The example campus's savings policies (see docs/policies.md for every parameter)."""

    def dorms(**more: Any) -> dict[str, Any]:
        return {"building_kinds": ["dorm"], **more}  # a fresh dict each time: no YAML anchors

    return [
        {
            "id": "ac-limits",
            "type": "ac_limits",
            "name": _name("空调温度限制", "AC temperature limits"),
            "cool_min_c": 26,
            "heat_max_c": 20,
            "seasons": [
                {"name": "summer", "months": [6, 7, 8, 9], "modes": ["cool", "dry", "fan", "auto"]},
                {"name": "winter", "months": [11, 12, 1, 2, 3], "modes": ["heat", "fan", "auto"]},
            ],
            "lock_remote_s": 1800,
        },
        {
            "id": "dorm-ac-hours",
            "type": "ac_windows",
            "name": _name("宿舍空调时段", "Dorm AC hours"),
            "scope": dorms(),
            "allowed": [_window("12:00", "14:30"), _window("18:00", "08:00")],
            "days": {"include": ["teaching"]},
            "lock_remote": True,
        },
        {
            "id": "dorm-curfew",
            "type": "curfew",
            "name": _name("宿舍熄灯断电", "Dorm night curfew"),
            "scope": dorms(),
            "windows": [
                _window("23:00", "05:50", days={"include": ["workday"]}, days_of="end"),
            ],
        },
        {
            "id": "dorm-hot-water-hours",
            "type": "supply_windows",
            "name": _name("宿舍热水供应时段", "Dorm hot-water hours"),
            "scope": dorms(circuits=["hot_water"]),
            "supply": [
                _window("06:00", "08:30"),
                _window("11:30", "14:00"),
                _window("17:30", "23:30"),
            ],
        },
        {
            "id": "bath-hours",
            "type": "supply_windows",
            "name": _name("浴室开放时段", "Bathhouse hours"),
            "scope": {"building_kinds": ["bathhouse"]},
            "supply": [_window("12:00", "14:00"), _window("17:00", "23:00")],
        },
        {
            "id": "dorm-electricity-quota",
            "type": "quota",
            "name": _name("宿舍用电额度", "Dorm electricity allowance"),
            "scope": dorms(),
            "resource": "electricity",
            "per_bed": 30,
            "warn_at": [0.8],
            "action": "flag",
        },
        {
            "id": "dorm-water-quota",
            "type": "quota",
            "name": _name("宿舍用水额度", "Dorm water allowance"),
            "scope": dorms(),
            "resource": "water",
            "per_bed": 4.5,
            "action": "flag",
        },
        {
            "id": "leak-watch",
            "type": "leak",
            "name": _name("漏水监测", "Leak watch"),
            "threshold_lpm": 6,
            "duration_min": 60,
            "strict": {
                "threshold_lpm": 0.5,
                "duration_min": 30,
                "windows": [_window("01:00", "05:00")],
                "vacation": True,
            },
        },
        {
            "id": "dorm-overload",
            "type": "overload",
            "name": _name("恶性负载识别", "Overload and prohibited appliances"),
            "scope": dorms(),
            "per_bed_w": 300,
            "over_for_s": 10,
            "signature": {
                "ranges": [
                    {"name": "电热毯 electric blanket", "min_w": 60, "max_w": 150, "min_pf": 0.97},
                    {"name": "热得快、电水壶 heaters, kettles", "min_w": 300, "min_pf": 0.95},
                ],
                "persist_s": 60,
                "whitelist": [{"name": "饮水机 water dispenser", "min_w": 400, "max_w": 600}],
            },
            "reclose_after_s": 900,
            "restores_per_day": 3,
        },
        {
            "id": "handwash-valves",
            "type": "delay_valves",
            "name": _name("洗手区延时阀", "Hand-wash delayed-closing valves"),
            "scope": {"tags": ["handwash"]},
            "delay_s": 7,
            "max_open_s": 120,
            "no_contact_s": 900,
        },
        {
            "id": "shower-valves",
            "type": "delay_valves",
            "name": _name("淋浴单次出水时长", "Shower run time per press"),
            "scope": {"tags": ["shower"]},
            "delay_s": 300,
            "max_open_s": 1200,
            "no_contact_s": 900,
        },
        {
            "id": "canteen-after-hours",
            "type": "canteen_hours",
            "name": _name("食堂非营业时段断电", "Canteen after-hours"),
            "service": [
                _window("06:00", "09:00"),
                _window("10:30", "13:30"),
                _window("16:30", "19:30"),
            ],
        },
    ]


_LOW_BALANCES = ("0.00", "2.00", "6.00", "9.00")
"""Opening balances of dorm-1's first rooms: below the warning lines, one at zero (cut off at once),
so a newcomer sees a warning, a cut-off and (after a top-up) the supply back."""


def default_billing(shape: SiteShape) -> dict[str, Any]:
    """Prepaid electricity and water for every dorm room (see docs/billing.md).

    Prices are typical of a Chinese campus: tiered electricity with a free allowance per bed,
    cold water with a small allowance, hot water paid from the first litre. Every room opens
    with 50 yuan except the first rooms of dorm-1 (``_LOW_BALANCES``).
    """
    first_floor = min(shape.rooms, shape.rooms_per_floor)
    low = {
        f"dorm-1.1{index:02d}": balance
        for index, balance in enumerate(_LOW_BALANCES[:first_floor], start=1)
    }

    def since() -> dt.date:
        return dt.date(2026, 1, 1)  # a fresh object each time: no YAML anchors

    return {
        "tariffs": [
            {
                "id": "elec-2026",
                "utility": "electricity",
                "effective_from": since(),
                "free_per_bed": "10",
                "vacation_free_per_bed": "3",
                "pricing": {
                    "type": "tiered",
                    "tiers": [
                        {"up_to": "60", "price": "0.56"},
                        {"up_to": "120", "price": "0.61"},
                        {"price": "0.86"},
                    ],
                },
            },
            {
                "id": "cold-2026",
                "utility": "cold_water",
                "effective_from": since(),
                "free_per_bed": "1",
                "pricing": {"type": "flat", "price": "3.50"},
            },
            {
                "id": "hot-2026",
                "utility": "hot_water",
                "effective_from": since(),
                "pricing": {
                    "type": "time_of_use",
                    "periods": [{"start": "06:00", "end": "23:00", "price": "25"}],
                    "default": "20",
                },
            },
        ],
        "vacation_months": [1, 2, 7, 8],
        "warn_at": ["10", "5"],
        "overdraft": "0",
        "cut_off": ["electricity", "hot_water"],
        "opening_balance": "50",
        "opening_balances": low,
    }


def default_calendar() -> dict[str, Any]:
    return {
        "holidays_file": "holidays.yaml",
        "semesters": [
            {"name": "2026 秋季学期", "start": "2026-09-01", "end": "2027-01-15"},
            {"name": "2027 春季学期", "start": "2027-02-22", "end": "2027-07-02"},
        ],
        "vacations": [
            {"name": "2026 暑假", "start": "2026-07-04", "end": "2026-08-31"},
            {"name": "2027 寒假", "start": "2027-01-16", "end": "2027-02-21"},
        ],
    }


def _span(start: str, end: str, name: str) -> dict[str, Any]:
    return {"start": dt.date.fromisoformat(start), "end": dt.date.fromisoformat(end), "name": name}


def _day(date: str, name: str) -> dict[str, Any]:
    return {"date": dt.date.fromisoformat(date), "name": name}


def default_holidays() -> dict[str, Any]:
    """The holidays file: the 2026 notice as a worked example (it agrees with chinese-calendar)."""
    return {
        "notice_years": [2026],
        "holidays": [
            _span("2026-01-01", "2026-01-03", "元旦"),
            _span("2026-02-15", "2026-02-23", "春节"),
            _span("2026-04-04", "2026-04-06", "清明节"),
            _span("2026-05-01", "2026-05-05", "劳动节"),
            _span("2026-06-19", "2026-06-21", "端午节"),
            _span("2026-09-25", "2026-09-27", "中秋节"),
            _span("2026-10-01", "2026-10-07", "国庆节"),
        ],
        "workdays": [
            _day("2026-01-04", "元旦调休"),
            _day("2026-02-14", "春节调休"),
            _day("2026-02-28", "春节调休"),
            _day("2026-05-09", "劳动节调休"),
            _day("2026-09-20", "国庆节调休"),
            _day("2026-10-10", "国庆节调休"),
        ],
    }


_HOLIDAYS_HEADER = """\
# Public holidays and make-up working days (调休): this file wins over every other source.
# Each winter the State Council publishes next year's 国务院办公厅关于 YYYY 年部分节假日安排的通知.
# Enter it here the day it comes out:
#   "1月1日至3日放假，共3天"  ->  holidays: - {start: YYYY-01-01, end: YYYY-01-03, name: 元旦}
#   "1月4日（周日）上班"      ->  workdays: - {date: YYYY-01-04, name: 元旦调休}
# then add the year to notice_years and reload: POST /api/calendar/reload, or kill -HUP the
# service (no restart). Check the result with: sanjie calendar site.yaml --year YYYY
# Until a year is in notice_years (and chinese-calendar does not know it), its holidays are
# provisional (computed, no make-up working days) and an alarm asks for the notice 60 days ahead.
# The 2026 entries below are that year's notice, as a worked example.
"""

_SITE_HEADER = """\
# Generated by `sanjie gen-site`; edit freely. Files are joined with !include.
campus:
  id: {campus}
  name: {{zh: {zh}, en: {en}}}
  timezone: Asia/Shanghai
buildings: !include buildings.yaml
links: !include links.yaml
devices: !include devices/*.yaml
policies: !include policies.yaml
calendar: !include calendar.yaml
"""


def _dlt645_floor(floor: int) -> dict[str, Any]:
    """The fields putting a floor template on that floor's DL/T 645 bus."""
    return {"link": "m645-{building}-f{floor}", "floors": [floor]}


def write_site(out: Path, shape: SiteShape, campus_id: str = "demo") -> Path:
    """Write the generated site under ``out``; returns the path of ``site.yaml``."""
    (out / "devices").mkdir(parents=True, exist_ok=True)
    files = generate_site(shape)
    for stale in (out / "devices").glob("*.yaml"):
        if f"devices/{stale.name}" not in files:
            stale.unlink()  # a smaller campus than last time: the glob include would pick it up
    for name, data in files.items():
        text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
        header = _HOLIDAYS_HEADER if name == "holidays.yaml" else ""
        (out / name).write_text(header + text, encoding="utf-8")
    if "billing.yaml" not in files:
        (out / "billing.yaml").unlink(missing_ok=True)
    site = out / "site.yaml"
    header = _SITE_HEADER.format(campus=campus_id, zh="示范校区", en="Demo campus")
    if "billing.yaml" in files:
        header += "billing: !include billing.yaml\n"
    header += "alarms: !include alarms.yaml\n"
    site.write_text(header, encoding="utf-8")
    return site


_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
